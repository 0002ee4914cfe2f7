import type pg from 'pg';
import { type Migration, latestVersion, stepsAfter } from '../migration.js';
import { int } from './connection.js';

/**
 * The store's steps, recorded in `schema_migrations`. DDL is transactional in PostgreSQL, so
 * `runMigrations` applies and records them in one transaction.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'conversations, members, messages, mentions, version counter',
    sql: `
      -- The store-wide change counter. Every write transaction takes its values with one
      -- UPDATE ... RETURNING as its last lock and keeps the row locked until it commits, so
      -- versions become visible in order: a sync never sees a version before a smaller one.
      CREATE TABLE counters (
        name  text PRIMARY KEY,
        value bigint NOT NULL
      );
      INSERT INTO counters (name, value) VALUES ('version', 0);

      -- last_seq is the per-conversation seq counter: appenders row-lock it, so seqs are gapless.
      CREATE TABLE conversations (
        id           text PRIMARY KEY,
        type         integer NOT NULL,
        name         text NOT NULL DEFAULT '',
        attributes   text NOT NULL DEFAULT '',
        owner_id     text NOT NULL DEFAULT '',
        member_count integer NOT NULL DEFAULT 0 CHECK (member_count >= 0),
        last_seq     bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
        created_at   bigint NOT NULL,
        updated_at   bigint NOT NULL,
        version      bigint NOT NULL
      );

      -- removed_seq: the conversation's last seq when the member was removed (0 while active);
      -- a removed member's view of the conversation stops there.
      CREATE TABLE members (
        conversation_id     text NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        user_id             text NOT NULL,
        role                integer NOT NULL,
        joined_at           bigint NOT NULL,
        speak_muted_until   bigint NOT NULL DEFAULT 0,
        notifications_muted boolean NOT NULL DEFAULT false,
        muted_until         bigint NOT NULL DEFAULT 0,
        read_seq            bigint NOT NULL DEFAULT 0,
        delivered_seq       bigint NOT NULL DEFAULT 0,
        mention_unread      integer NOT NULL DEFAULT 0,
        removed             boolean NOT NULL DEFAULT false,
        removed_seq         bigint NOT NULL DEFAULT 0,
        version             bigint NOT NULL,
        PRIMARY KEY (conversation_id, user_id)
      );
      CREATE INDEX members_by_user ON members (user_id, removed);

      CREATE TABLE messages (
        conversation_id   text NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        seq               bigint NOT NULL CHECK (seq > 0),
        message_id        text NOT NULL UNIQUE,
        sender_id         text NOT NULL,
        sender_device_id  text NOT NULL,
        client_message_id text NOT NULL,
        server_time       bigint NOT NULL,
        type              integer NOT NULL,
        content           bytea NOT NULL,
        recalled          boolean NOT NULL DEFAULT false,
        PRIMARY KEY (conversation_id, seq)
      );
      -- Sender idempotency lives in the schema: a resend can never be stored twice.
      CREATE UNIQUE INDEX messages_idempotency ON messages (conversation_id, sender_id, client_message_id);

      -- One row per (message, mentioned active member), or user_id '@all'; mention_unread is
      -- recomputed from these when a read cursor moves.
      CREATE TABLE mentions (
        conversation_id text NOT NULL,
        user_id         text NOT NULL,
        seq             bigint NOT NULL,
        sender_id       text NOT NULL,
        PRIMARY KEY (conversation_id, user_id, seq),
        FOREIGN KEY (conversation_id, seq) REFERENCES messages (conversation_id, seq) ON DELETE CASCADE
      );
      CREATE INDEX mentions_by_seq ON mentions (conversation_id, seq);
    `,
  },
];

export const SCHEMA_VERSION = latestVersion(MIGRATIONS);

/** A migration list with the history table that records it and the advisory lock its runs take. */
export interface MigrationSet {
  steps: readonly Migration[];
  /** One row per step applied; the set's version is the highest. */
  history: string;
  /** First key of the advisory lock serialising runs of this set (the second is the schema's hash). */
  lock: number;
  /** Names the schema in errors ("database schema"). */
  what: string;
}

const STORE_SET: MigrationSet = {
  steps: MIGRATIONS,
  history: 'schema_migrations',
  lock: 0x70617231, // "par1"
  what: 'database schema',
};

/** The version recorded in `history`, 0 when the table does not exist yet. */
export async function recordedVersion(client: pg.ClientBase, history: string): Promise<number> {
  const found = await client.query<{ found: boolean }>(`SELECT to_regclass('${history}') IS NOT NULL AS found`);
  if (found.rows[0]?.found !== true) return 0;
  const { rows } = await client.query<{ v: string | null }>(`SELECT max(version) AS v FROM ${history}`);
  return int(rows[0]?.v);
}

/** The store schema's recorded version, 0 when it has never been migrated. */
export function schemaVersion(client: pg.ClientBase): Promise<number> {
  return recordedVersion(client, STORE_SET.history);
}

/**
 * Applies every step of `set` above its recorded version, in one transaction behind a
 * transaction-scoped advisory lock on (set.lock, schema): nodes that start together queue on
 * the lock, and each after the first finds nothing left to do. Creates the schema named in the
 * URL. Refuses a schema written by a newer build rather than guess at it.
 */
export async function runMigrations(
  client: pg.ClientBase,
  schema: string | undefined,
  set: MigrationSet,
): Promise<{ from: number; to: number }> {
  await client.query('BEGIN');
  try {
    await client.query("SELECT pg_advisory_xact_lock($1, hashtext(coalesce($2, current_schema(), '')))", [
      set.lock,
      schema ?? null,
    ]);
    if (schema) await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${set.history} (
      version     integer PRIMARY KEY,
      description text NOT NULL,
      applied_at  timestamptz NOT NULL DEFAULT now()
    )`);
    const from = await recordedVersion(client, set.history);
    for (const m of stepsAfter(set.steps, from, set.what)) {
      await client.query(m.sql);
      await client.query(`INSERT INTO ${set.history} (version, description) VALUES ($1, $2)`, [
        m.version,
        m.description,
      ]);
    }
    await client.query('COMMIT');
    return { from, to: Math.max(from, latestVersion(set.steps)) };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** Applies the store's missing steps (see runMigrations). */
export function migrate(client: pg.ClientBase, schema: string | undefined): Promise<{ from: number; to: number }> {
  return runMigrations(client, schema, STORE_SET);
}
