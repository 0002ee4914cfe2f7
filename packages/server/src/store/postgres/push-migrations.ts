import type pg from 'pg';
import type { Migration } from '../migration.js';
import { type MigrationSet, runMigrations } from './migrations.js';

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

const PUSH_SET: MigrationSet = {
  steps: PUSH_MIGRATIONS,
  history: 'push_schema_migrations',
  lock: 0x70757331, // "pus1"
  what: 'push schema',
};

/** Applies the missing push steps like the store's `migrate` (see runMigrations), on their own lock. */
export function migratePush(client: pg.ClientBase, schema: string | undefined): Promise<{ from: number; to: number }> {
  return runMigrations(client, schema, PUSH_SET);
}
