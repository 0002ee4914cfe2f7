import { ErrorCode, ParleyError } from '@parley/protocol';
import type Database from 'better-sqlite3';
import type { Migration } from '../store/migration.js';
import { type MigrationHistory, runMigrations } from '../store/sqlite/migrations.js';
import { type DeviceRow, type JobRow, type SettingsRow, rowMappers } from './rows.js';
import type {
  PushDevice,
  PushEnqueueItem,
  PushJob,
  PushProviderName,
  PushSettings,
  PushStore,
  PushTarget,
} from './types.js';

/**
 * The push tables keep their own migration list, recorded in `push_schema` rather than the
 * database's `user_version` (which belongs to the SqliteStore's migrations), so the two
 * schemas evolve apart on one file. Steps are append-only.
 */
const PUSH_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'push devices, settings, queue and marks',
    sql: `
      CREATE TABLE push_devices (
        user_id     TEXT NOT NULL,
        device_id   TEXT NOT NULL,
        provider    TEXT NOT NULL,
        token       TEXT NOT NULL,
        web_keys    TEXT NOT NULL DEFAULT '',
        topic       TEXT NOT NULL DEFAULT '',
        environment TEXT NOT NULL DEFAULT 'production',
        locale      TEXT NOT NULL DEFAULT '',
        updated_at  INTEGER NOT NULL,
        PRIMARY KEY (user_id, device_id)
      ) WITHOUT ROWID;
      -- A token reaches one installation: it may belong to one registration only.
      CREATE UNIQUE INDEX push_devices_token ON push_devices (provider, token);

      CREATE TABLE push_settings (
        user_id     TEXT PRIMARY KEY,
        preview     TEXT NOT NULL,
        dnd_enabled INTEGER NOT NULL,
        dnd_start   INTEGER NOT NULL,
        dnd_end     INTEGER NOT NULL,
        time_zone   TEXT NOT NULL,
        updated_at  INTEGER NOT NULL
      ) WITHOUT ROWID;

      -- lease_until = 0: waiting; otherwise claimed by lease_owner until then.
      CREATE TABLE push_jobs (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id         TEXT NOT NULL,
        device_id       TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        first_seq       INTEGER NOT NULL,
        last_seq        INTEGER NOT NULL,
        count           INTEGER NOT NULL,
        mentioned       INTEGER NOT NULL,
        due_at          INTEGER NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        lease_owner     TEXT NOT NULL DEFAULT '',
        lease_until     INTEGER NOT NULL DEFAULT 0,
        created_at      INTEGER NOT NULL
      );
      CREATE INDEX push_jobs_due ON push_jobs (due_at);
      CREATE INDEX push_jobs_key ON push_jobs (user_id, device_id, conversation_id);

      -- Per conversation, the highest seq whose notifications are in push_jobs (or were).
      CREATE TABLE push_marks (
        conversation_id TEXT PRIMARY KEY,
        seq             INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
  },
];

/** One row per push step applied (the description is not kept). */
const PUSH_HISTORY: MigrationHistory = {
  read(db) {
    db.exec('CREATE TABLE IF NOT EXISTS push_schema (version INTEGER NOT NULL)');
    return (db.prepare('SELECT max(version) AS v FROM push_schema').get() as { v: number | null }).v ?? 0;
  },
  record(db, m) {
    db.prepare('INSERT INTO push_schema (version) VALUES (?)').run(m.version);
  },
};

/** SQLite hands integers over as numbers and booleans as 0/1. */
const fromRow = rowMappers<number, number>({ int: (v) => v, bool: (v) => v === 1 });

/**
 * PushStore on the SqliteStore's connection (`SqliteStore.database`): the queue's writes are
 * fsynced like messages are (`synchronous = FULL`), and targets and badges are read with one
 * join over the store's members and conversations.
 */
export class SqlitePushStore implements PushStore {
  #sql: ReturnType<typeof prepare> | undefined;

  constructor(private readonly db: Database.Database) {}

  migrate(): Promise<void> {
    return run(() => {
      runMigrations(this.db, PUSH_MIGRATIONS, PUSH_HISTORY, 'push schema');
      this.#sql = prepare(this.db);
    });
  }

  registerDevice(device: PushDevice): Promise<void> {
    return this.#write((sql) => {
      sql.deleteTokenElsewhere.run(device.provider, device.token, device.userId, device.deviceId);
      sql.upsertDevice.run({
        user_id: device.userId,
        device_id: device.deviceId,
        provider: device.provider,
        token: device.token,
        web_keys: device.webKeys,
        topic: device.topic,
        environment: device.environment,
        locale: device.locale,
        updated_at: device.updatedAt,
      });
    });
  }

  unregisterDevice(userId: string, deviceId: string): Promise<boolean> {
    return this.#write((sql) => {
      sql.deleteJobsOfDevice.run(userId, deviceId);
      return sql.deleteDevice.run(userId, deviceId).changes > 0;
    });
  }

  removeToken(provider: PushProviderName, token: string): Promise<boolean> {
    return this.#write((sql) => {
      const row = sql.deviceByToken.get(provider, token) as DeviceRow<number> | undefined;
      if (!row) return false;
      sql.deleteJobsOfDevice.run(row.user_id, row.device_id);
      sql.deleteDevice.run(row.user_id, row.device_id);
      return true;
    });
  }

  getDevice(userId: string, deviceId: string): Promise<PushDevice | undefined> {
    return this.#read((sql) => {
      const row = sql.getDevice.get(userId, deviceId) as DeviceRow<number> | undefined;
      return row ? fromRow.device(row) : undefined;
    });
  }

  listDevices(userId: string): Promise<PushDevice[]> {
    return this.#read((sql) => (sql.listDevices.all(userId) as DeviceRow<number>[]).map(fromRow.device));
  }

  getSettings(userId: string): Promise<PushSettings | undefined> {
    return this.#read((sql) => {
      const row = sql.getSettings.get(userId) as SettingsRow<number, number> | undefined;
      return row ? fromRow.settings(row) : undefined;
    });
  }

  saveSettings(s: PushSettings): Promise<void> {
    return this.#write((sql) => {
      sql.upsertSettings.run({
        user_id: s.userId,
        preview: s.preview,
        dnd_enabled: s.dndEnabled ? 1 : 0,
        dnd_start: s.dndStartMinute,
        dnd_end: s.dndEndMinute,
        time_zone: s.timeZone,
        updated_at: s.updatedAt,
      });
    });
  }

  targets(conversationId: string, excludeUserId: string, now: number): Promise<PushTarget[]> {
    return this.#read((sql) =>
      (
        sql.targets.all({ conv: conversationId, exclude: excludeUserId, now }) as (DeviceRow<number> & {
          muted: number;
        })[]
      ).map((row) => ({ device: fromRow.device(row), muted: row.muted === 1 })),
    );
  }

  unreadTotal(userId: string): Promise<number> {
    return this.#read((sql) => (sql.unreadTotal.get(userId) as { n: number | null }).n ?? 0);
  }

  enqueue(items: readonly PushEnqueueItem[], now: number): Promise<void> {
    if (items.length === 0) return Promise.resolve();
    return this.#write((sql) => {
      for (const item of items) {
        sql.mark.run(item.conversationId, item.seq);
        const merged = sql.mergeIntoPending.run({
          user: item.userId,
          device: item.deviceId,
          conv: item.conversationId,
          seq: item.seq,
          mentioned: item.mentioned ? 1 : 0,
        });
        if (merged.changes > 0) continue;
        sql.insertJob.run({
          user: item.userId,
          device: item.deviceId,
          conv: item.conversationId,
          seq: item.seq,
          mentioned: item.mentioned ? 1 : 0,
          due: item.dueAt,
          now,
        });
      }
    });
  }

  queuedThrough(conversationId: string): Promise<number> {
    return this.#read((sql) => (sql.getMark.get(conversationId) as { seq: number } | undefined)?.seq ?? 0);
  }

  claim(owner: string, now: number, leaseMs: number, limit: number): Promise<PushJob[]> {
    return this.#write((sql) => {
      const rows = sql.due.all(now, now, Math.max(1, limit)) as JobRow<number, number>[];
      for (const row of rows) sql.lease.run(owner, now + leaseMs, row.id);
      return rows.map(fromRow.job);
    });
  }

  complete(jobId: number, owner: string): Promise<boolean> {
    return this.#write((sql) => sql.deleteOwned.run(jobId, owner).changes > 0);
  }

  retry(jobId: number, owner: string, dueAt: number): Promise<boolean> {
    return this.#write((sql) => {
      const row = sql.getOwned.get(jobId, owner) as JobRow<number, number> | undefined;
      if (!row) return false;
      const newer = sql.pendingFor.get(row.user_id, row.device_id, row.conversation_id, jobId) as
        JobRow<number, number> | undefined;
      if (newer) {
        // Fold the failed job into the newer one: one notification covers both.
        sql.absorb.run({
          id: newer.id,
          first: Math.min(row.first_seq, newer.first_seq),
          count: row.count,
          mentioned: row.mentioned,
          due: Math.max(dueAt, newer.due_at),
          attempts: row.attempts + 1,
        });
        sql.deleteOwned.run(jobId, owner);
        return true;
      }
      sql.release.run(dueAt, jobId, owner);
      return true;
    });
  }

  nextDueAt(): Promise<number | undefined> {
    return this.#read((sql) => (sql.nextDue.get() as { t: number | null }).t ?? undefined);
  }

  pendingCount(): Promise<number> {
    return this.#read((sql) => (sql.count.get() as { n: number }).n);
  }

  #statements(): ReturnType<typeof prepare> {
    if (!this.#sql) {
      throw new ParleyError(
        this.db.open ? ErrorCode.INTERNAL : ErrorCode.UNAVAILABLE,
        this.db.open ? 'push store used before migrate()' : 'the store is closed',
      );
    }
    if (!this.db.open) throw new ParleyError(ErrorCode.UNAVAILABLE, 'the store is closed');
    return this.#sql;
  }

  #read<T>(fn: (sql: ReturnType<typeof prepare>) => T): Promise<T> {
    return run(() => fn(this.#statements()));
  }

  #write<T>(fn: (sql: ReturnType<typeof prepare>) => T): Promise<T> {
    return run(() => {
      const sql = this.#statements();
      return this.db.transaction(() => fn(sql)).immediate();
    });
  }
}

function prepare(db: Database.Database) {
  return {
    upsertDevice: db.prepare(
      `INSERT INTO push_devices (user_id, device_id, provider, token, web_keys, topic, environment, locale, updated_at)
       VALUES (@user_id, @device_id, @provider, @token, @web_keys, @topic, @environment, @locale, @updated_at)
       ON CONFLICT (user_id, device_id) DO UPDATE SET provider = excluded.provider, token = excluded.token,
         web_keys = excluded.web_keys, topic = excluded.topic, environment = excluded.environment,
         locale = excluded.locale, updated_at = excluded.updated_at`,
    ),
    deleteTokenElsewhere: db.prepare(
      `DELETE FROM push_devices WHERE provider = ? AND token = ? AND NOT (user_id = ? AND device_id = ?)`,
    ),
    deleteDevice: db.prepare('DELETE FROM push_devices WHERE user_id = ? AND device_id = ?'),
    deleteJobsOfDevice: db.prepare('DELETE FROM push_jobs WHERE user_id = ? AND device_id = ?'),
    deviceByToken: db.prepare('SELECT * FROM push_devices WHERE provider = ? AND token = ?'),
    getDevice: db.prepare('SELECT * FROM push_devices WHERE user_id = ? AND device_id = ?'),
    listDevices: db.prepare('SELECT * FROM push_devices WHERE user_id = ? ORDER BY device_id'),
    getSettings: db.prepare('SELECT * FROM push_settings WHERE user_id = ?'),
    upsertSettings: db.prepare(
      `INSERT INTO push_settings (user_id, preview, dnd_enabled, dnd_start, dnd_end, time_zone, updated_at)
       VALUES (@user_id, @preview, @dnd_enabled, @dnd_start, @dnd_end, @time_zone, @updated_at)
       ON CONFLICT (user_id) DO UPDATE SET preview = excluded.preview, dnd_enabled = excluded.dnd_enabled,
         dnd_start = excluded.dnd_start, dnd_end = excluded.dnd_end, time_zone = excluded.time_zone,
         updated_at = excluded.updated_at`,
    ),
    targets: db.prepare(
      `SELECT d.*, (m.notifications_muted = 1 AND (m.muted_until = 0 OR m.muted_until > @now)) AS muted
       FROM members m JOIN push_devices d ON d.user_id = m.user_id
       WHERE m.conversation_id = @conv AND m.removed = 0 AND m.user_id <> @exclude
       ORDER BY d.user_id, d.device_id`,
    ),
    unreadTotal: db.prepare(
      `SELECT sum(max(0, c.last_seq - m.read_seq)) AS n
       FROM members m JOIN conversations c ON c.id = m.conversation_id
       WHERE m.user_id = ? AND m.removed = 0`,
    ),
    mergeIntoPending: db.prepare(
      `UPDATE push_jobs SET count = count + 1, last_seq = max(last_seq, @seq), first_seq = min(first_seq, @seq),
         mentioned = max(mentioned, @mentioned)
       WHERE id = (SELECT id FROM push_jobs
                   WHERE user_id = @user AND device_id = @device AND conversation_id = @conv AND lease_until = 0
                   ORDER BY id LIMIT 1)`,
    ),
    insertJob: db.prepare(
      `INSERT INTO push_jobs (user_id, device_id, conversation_id, first_seq, last_seq, count, mentioned, due_at, created_at)
       VALUES (@user, @device, @conv, @seq, @seq, 1, @mentioned, @due, @now)`,
    ),
    due: db.prepare(`SELECT * FROM push_jobs WHERE due_at <= ? AND lease_until <= ? ORDER BY due_at, id LIMIT ?`),
    lease: db.prepare('UPDATE push_jobs SET lease_owner = ?, lease_until = ? WHERE id = ?'),
    mark: db.prepare(
      `INSERT INTO push_marks (conversation_id, seq) VALUES (?, ?)
       ON CONFLICT (conversation_id) DO UPDATE SET seq = max(seq, excluded.seq)`,
    ),
    getMark: db.prepare('SELECT seq FROM push_marks WHERE conversation_id = ?'),
    deleteOwned: db.prepare('DELETE FROM push_jobs WHERE id = ? AND lease_owner = ?'),
    getOwned: db.prepare('SELECT * FROM push_jobs WHERE id = ? AND lease_owner = ?'),
    pendingFor: db.prepare(
      `SELECT * FROM push_jobs WHERE user_id = ? AND device_id = ? AND conversation_id = ? AND lease_until = 0 AND id <> ?
       ORDER BY id LIMIT 1`,
    ),
    absorb: db.prepare(
      `UPDATE push_jobs SET first_seq = @first, count = count + @count, mentioned = max(mentioned, @mentioned),
         due_at = @due, attempts = max(attempts, @attempts)
       WHERE id = @id`,
    ),
    release: db.prepare(
      `UPDATE push_jobs SET lease_owner = '', lease_until = 0, attempts = attempts + 1, due_at = ?
       WHERE id = ? AND lease_owner = ?`,
    ),
    nextDue: db.prepare('SELECT min(max(due_at, lease_until)) AS t FROM push_jobs'),
    count: db.prepare('SELECT count(*) AS n FROM push_jobs'),
  };
}

/** Runs synchronous database work as a promise, turning throws into rejections. */
function run<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}
