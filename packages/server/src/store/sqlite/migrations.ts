import type Database from 'better-sqlite3';
import { type Migration, latestVersion, stepsAfter } from '../migration.js';

/**
 * The store's steps. The database's `user_version` pragma records the last one applied, so a
 * start after an upgrade applies only the new steps.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'conversations, members, messages, mentions, version counter',
    sql: `
      -- The store-wide change counter: every write transaction takes fresh values from it.
      CREATE TABLE counters (
        name  TEXT PRIMARY KEY,
        value INTEGER NOT NULL
      ) WITHOUT ROWID;
      INSERT INTO counters (name, value) VALUES ('version', 0);

      CREATE TABLE conversations (
        id           TEXT PRIMARY KEY,
        type         INTEGER NOT NULL,
        name         TEXT NOT NULL DEFAULT '',
        attributes   TEXT NOT NULL DEFAULT '',
        owner_id     TEXT NOT NULL DEFAULT '',
        member_count INTEGER NOT NULL DEFAULT 0 CHECK (member_count >= 0),
        last_seq     INTEGER NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
        created_at   INTEGER NOT NULL,
        updated_at   INTEGER NOT NULL,
        version      INTEGER NOT NULL
      );

      -- removed_seq: the conversation's last seq when the member was removed (0 while active);
      -- a removed member's view of the conversation stops there.
      CREATE TABLE members (
        conversation_id     TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        user_id             TEXT NOT NULL,
        role                INTEGER NOT NULL,
        joined_at           INTEGER NOT NULL,
        speak_muted_until   INTEGER NOT NULL DEFAULT 0,
        notifications_muted INTEGER NOT NULL DEFAULT 0,
        muted_until         INTEGER NOT NULL DEFAULT 0,
        read_seq            INTEGER NOT NULL DEFAULT 0,
        delivered_seq       INTEGER NOT NULL DEFAULT 0,
        mention_unread      INTEGER NOT NULL DEFAULT 0,
        removed             INTEGER NOT NULL DEFAULT 0,
        removed_seq         INTEGER NOT NULL DEFAULT 0,
        version             INTEGER NOT NULL,
        PRIMARY KEY (conversation_id, user_id)
      ) WITHOUT ROWID;
      CREATE INDEX members_by_user ON members (user_id, removed);

      CREATE TABLE messages (
        conversation_id   TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        seq               INTEGER NOT NULL CHECK (seq > 0),
        message_id        TEXT NOT NULL UNIQUE,
        sender_id         TEXT NOT NULL,
        sender_device_id  TEXT NOT NULL,
        client_message_id TEXT NOT NULL,
        server_time       INTEGER NOT NULL,
        type              INTEGER NOT NULL,
        content           BLOB NOT NULL,
        recalled          INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (conversation_id, seq)
      );
      -- Sender idempotency lives in the schema, not in memory: a resend can never be stored twice.
      CREATE UNIQUE INDEX messages_idempotency ON messages (conversation_id, sender_id, client_message_id);

      -- One row per (message, mentioned active member), or user_id '@all'. mention_unread is
      -- recomputed from these when a read cursor moves, so it is exact, not a guess.
      CREATE TABLE mentions (
        conversation_id TEXT NOT NULL,
        user_id         TEXT NOT NULL,
        seq             INTEGER NOT NULL,
        sender_id       TEXT NOT NULL,
        PRIMARY KEY (conversation_id, user_id, seq),
        FOREIGN KEY (conversation_id, seq) REFERENCES messages (conversation_id, seq) ON DELETE CASCADE
      ) WITHOUT ROWID;
      CREATE INDEX mentions_by_seq ON mentions (conversation_id, seq);
    `,
  },
];

export const SCHEMA_VERSION = latestVersion(MIGRATIONS);

export function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Where a migration list records how far it got. Both run inside the migration's transaction. */
export interface MigrationHistory {
  /** The last version applied, 0 before the first. */
  read(db: Database.Database): number;
  record(db: Database.Database, step: Migration): void;
}

/**
 * Applies every step of `steps` above the version `history` recorded, in one IMMEDIATE
 * transaction, so two processes starting on one file at once cannot both apply a step.
 * Refuses a schema written by a newer build; `what` names it in the error.
 */
export function runMigrations(
  db: Database.Database,
  steps: readonly Migration[],
  history: MigrationHistory,
  what: string,
): { from: number; to: number } {
  const run = db.transaction(() => {
    const from = history.read(db);
    for (const m of stepsAfter(steps, from, what)) {
      db.exec(m.sql);
      history.record(db, m);
    }
    return { from, to: Math.max(from, latestVersion(steps)) };
  });
  return run.immediate();
}

const USER_VERSION: MigrationHistory = {
  read: schemaVersion,
  record: (db, m) => db.pragma(`user_version = ${String(m.version)}`),
};

/** Applies the store's missing steps (see runMigrations). */
export function migrate(db: Database.Database): { from: number; to: number } {
  return runMigrations(db, MIGRATIONS, USER_VERSION, 'database schema');
}
