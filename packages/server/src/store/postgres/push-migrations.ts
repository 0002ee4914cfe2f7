import { ErrorCode, ParleyError } from '@parley/protocol';
import type pg from 'pg';
import { int } from './connection.js';
import type { Migration } from './migrations.js';

/**
 * The push tables (PostgresPushStore) beside the PostgresStore's, in the same schema. They keep
 * their own history in `push_schema_migrations`, so they evolve apart from the message store's
 * `schema_migrations`, as on SQLite. Steps are append-only.
 */
export const PUSH_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'push devices, settings, queue and marks',
    sql: `
      CREATE TABLE push_devices (
        user_id     text NOT NULL,
        device_id   text NOT NULL,
        provider    text NOT NULL,
        token       text NOT NULL,
        web_keys    text NOT NULL DEFAULT '',
        topic       text NOT NULL DEFAULT '',
        environment text NOT NULL DEFAULT 'production',
        locale      text NOT NULL DEFAULT '',
        updated_at  bigint NOT NULL,
        PRIMARY KEY (user_id, device_id)
      );
      -- A token reaches one installation: it may belong to one registration only.
      CREATE UNIQUE INDEX push_devices_token ON push_devices (provider, token);

      CREATE TABLE push_settings (
        user_id     text PRIMARY KEY,
        preview     text NOT NULL,
        dnd_enabled boolean NOT NULL,
        dnd_start   integer NOT NULL,
        dnd_end     integer NOT NULL,
        time_zone   text NOT NULL,
        updated_at  bigint NOT NULL
      );

      -- lease_until = 0: waiting; otherwise claimed by lease_owner until then.
      CREATE TABLE push_jobs (
        id              bigserial PRIMARY KEY,
        user_id         text NOT NULL,
        device_id       text NOT NULL,
        conversation_id text NOT NULL,
        first_seq       bigint NOT NULL,
        last_seq        bigint NOT NULL,
        count           integer NOT NULL,
        mentioned       boolean NOT NULL,
        due_at          bigint NOT NULL,
        attempts        integer NOT NULL DEFAULT 0,
        lease_owner     text NOT NULL DEFAULT '',
        lease_until     bigint NOT NULL DEFAULT 0,
        created_at      bigint NOT NULL
      );
      CREATE INDEX push_jobs_due ON push_jobs (due_at, id);
      CREATE INDEX push_jobs_device ON push_jobs (user_id, device_id);
      -- At most one waiting job per device and conversation: enqueues from several nodes
      -- coalesce into it with INSERT ... ON CONFLICT instead of racing to create two.
      CREATE UNIQUE INDEX push_jobs_waiting ON push_jobs (user_id, device_id, conversation_id)
        WHERE lease_until = 0;

      -- Per conversation, the highest seq whose notifications are in push_jobs (or were).
      CREATE TABLE push_marks (
        conversation_id text PRIMARY KEY,
        seq             bigint NOT NULL
      );
    `,
  },
];

export const PUSH_SCHEMA_VERSION = PUSH_MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0);

/** First key of the advisory lock serialising push migrations (the second is the schema's hash). */
const PUSH_MIGRATION_LOCK = 0x70757331; // "pus1"

const HISTORY = `CREATE TABLE IF NOT EXISTS push_schema_migrations (
  version     integer PRIMARY KEY,
  description text NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now()
)`;

/**
 * Applies the missing push steps in one transaction behind a transaction-scoped advisory lock,
 * like the store's `migrate`: nodes starting together queue on the lock and the later ones
 * find nothing to do. Refuses a push schema written by a newer build.
 */
export async function migratePush(
  client: pg.ClientBase,
  schema: string | undefined,
): Promise<{ from: number; to: number }> {
  await client.query('BEGIN');
  try {
    await client.query("SELECT pg_advisory_xact_lock($1, hashtext(coalesce($2, current_schema(), '')))", [
      PUSH_MIGRATION_LOCK,
      schema ?? null,
    ]);
    if (schema) await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await client.query(HISTORY);
    const from = await pushSchemaVersion(client);
    if (from > PUSH_SCHEMA_VERSION) {
      throw new ParleyError(
        ErrorCode.INTERNAL,
        `push schema version ${String(from)} is newer than this build's ${String(PUSH_SCHEMA_VERSION)}`,
      );
    }
    for (const m of PUSH_MIGRATIONS) {
      if (m.version <= from) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO push_schema_migrations (version, description) VALUES ($1, $2)', [
        m.version,
        m.description,
      ]);
    }
    await client.query('COMMIT');
    return { from, to: Math.max(from, PUSH_SCHEMA_VERSION) };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

async function pushSchemaVersion(client: pg.ClientBase): Promise<number> {
  const { rows } = await client.query<{ v: string | null }>('SELECT max(version) AS v FROM push_schema_migrations');
  return int(rows[0]?.v);
}
