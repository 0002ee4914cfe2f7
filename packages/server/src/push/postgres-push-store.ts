import { ErrorCode, ParleyError } from '@parley/protocol';
import type pg from 'pg';
import { int, storeError } from '../store/postgres/connection.js';
import type { PostgresStore } from '../store/postgres/postgres-store.js';
import { migratePush } from '../store/postgres/push-migrations.js';
import { type RetryPolicy, inTransaction } from '../store/postgres/transaction.js';
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

/** How `#transaction` runs a write again (see there). */
const RETRY: RetryPolicy = { attempts: 5, retryBeforeBegin: false };

/** bigint columns arrive as decimal text (converted with a range check), integer ones as numbers. */
type Int = string | number;
const fromRow = rowMappers<Int, boolean>({ int, bool: (v) => v });

/** One batch's items for one device and conversation, folded before they reach the database: a job-to-be. */
type Folded = Omit<PushJob, 'id' | 'attempts' | 'createdAt'>;

/**
 * PushStore on the PostgresStore's pool, its tables beside the store's (migrations in
 * store/postgres/push-migrations.ts), so every node of a cluster shares one queue.
 *
 * Several nodes claim at once: `claim` picks due jobs with `FOR UPDATE SKIP LOCKED` and leases
 * them in the same statement, so a job another node is leasing is skipped, never handed out
 * twice (a row leased by a claim that committed meanwhile is re-checked and no longer due).
 * Enqueues from several nodes coalesce through a unique index on the waiting job of a device
 * and conversation (`INSERT ... ON CONFLICT`), and lock rows in one order (marks, then jobs,
 * each sorted), so concurrent batches queue rather than deadlock; a deadlock or a unique race
 * that happens anyway is run again.
 */
export class PostgresPushStore implements PushStore {
  readonly #pool: pg.Pool;
  #ready = false;

  constructor(private readonly store: PostgresStore) {
    this.#pool = store.pool;
  }

  async migrate(): Promise<void> {
    this.#open();
    let client: pg.PoolClient | undefined;
    try {
      client = await this.#pool.connect();
      await migratePush(client, this.store.schema);
      client.release();
      this.#ready = true;
    } catch (err) {
      client?.release(true);
      throw storeError(err, this.store.target);
    }
  }

  registerDevice(d: PushDevice): Promise<void> {
    return this.#transaction(async (c) => {
      await c.query(
        'DELETE FROM push_devices WHERE provider = $1 AND token = $2 AND NOT (user_id = $3 AND device_id = $4)',
        [d.provider, d.token, d.userId, d.deviceId],
      );
      await c.query(
        `INSERT INTO push_devices (user_id, device_id, provider, token, web_keys, topic, environment, locale, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (user_id, device_id) DO UPDATE SET provider = EXCLUDED.provider, token = EXCLUDED.token,
           web_keys = EXCLUDED.web_keys, topic = EXCLUDED.topic, environment = EXCLUDED.environment,
           locale = EXCLUDED.locale, updated_at = EXCLUDED.updated_at`,
        [d.userId, d.deviceId, d.provider, d.token, d.webKeys, d.topic, d.environment, d.locale, d.updatedAt],
      );
    });
  }

  unregisterDevice(userId: string, deviceId: string): Promise<boolean> {
    return this.#transaction(async (c) => {
      await c.query('DELETE FROM push_jobs WHERE user_id = $1 AND device_id = $2', [userId, deviceId]);
      const res = await c.query('DELETE FROM push_devices WHERE user_id = $1 AND device_id = $2', [userId, deviceId]);
      return (res.rowCount ?? 0) > 0;
    });
  }

  removeToken(provider: PushProviderName, token: string): Promise<boolean> {
    return this.#transaction(async (c) => {
      const { rows } = await c.query<{ user_id: string; device_id: string }>(
        'DELETE FROM push_devices WHERE provider = $1 AND token = $2 RETURNING user_id, device_id',
        [provider, token],
      );
      const row = rows[0];
      if (!row) return false;
      await c.query('DELETE FROM push_jobs WHERE user_id = $1 AND device_id = $2', [row.user_id, row.device_id]);
      return true;
    });
  }

  getDevice(userId: string, deviceId: string): Promise<PushDevice | undefined> {
    return this.#read(async (db) => {
      const { rows } = await db.query<DeviceRow<Int>>({
        name: 'parley_push_device',
        text: 'SELECT * FROM push_devices WHERE user_id = $1 AND device_id = $2',
        values: [userId, deviceId],
      });
      return rows[0] ? fromRow.device(rows[0]) : undefined;
    });
  }

  listDevices(userId: string): Promise<PushDevice[]> {
    return this.#read(async (db) => {
      const { rows } = await db.query<DeviceRow<Int>>(
        'SELECT * FROM push_devices WHERE user_id = $1 ORDER BY device_id COLLATE "C"',
        [userId],
      );
      return rows.map(fromRow.device);
    });
  }

  getSettings(userId: string): Promise<PushSettings | undefined> {
    return this.#read(async (db) => {
      const { rows } = await db.query<SettingsRow<Int, boolean>>({
        name: 'parley_push_settings',
        text: 'SELECT * FROM push_settings WHERE user_id = $1',
        values: [userId],
      });
      return rows[0] ? fromRow.settings(rows[0]) : undefined;
    });
  }

  saveSettings(s: PushSettings): Promise<void> {
    return this.#read(async (db) => {
      await db.query(
        `INSERT INTO push_settings (user_id, preview, dnd_enabled, dnd_start, dnd_end, time_zone, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (user_id) DO UPDATE SET preview = EXCLUDED.preview, dnd_enabled = EXCLUDED.dnd_enabled,
           dnd_start = EXCLUDED.dnd_start, dnd_end = EXCLUDED.dnd_end, time_zone = EXCLUDED.time_zone,
           updated_at = EXCLUDED.updated_at`,
        [s.userId, s.preview, s.dndEnabled, s.dndStartMinute, s.dndEndMinute, s.timeZone, s.updatedAt],
      );
    });
  }

  targets(conversationId: string, excludeUserId: string, now: number): Promise<PushTarget[]> {
    return this.#read(async (db) => {
      const { rows } = await db.query<DeviceRow<Int> & { muted: boolean }>({
        name: 'parley_push_targets',
        text: `SELECT d.*, (m.notifications_muted AND (m.muted_until = 0 OR m.muted_until > $3)) AS muted
               FROM members m JOIN push_devices d ON d.user_id = m.user_id
               WHERE m.conversation_id = $1 AND NOT m.removed AND m.user_id <> $2
               ORDER BY d.user_id COLLATE "C", d.device_id COLLATE "C"`,
        values: [conversationId, excludeUserId, now],
      });
      return rows.map((row) => ({ device: fromRow.device(row), muted: row.muted }));
    });
  }

  unreadTotal(userId: string): Promise<number> {
    return this.#read(async (db) => {
      const { rows } = await db.query<{ n: string | null }>({
        name: 'parley_push_unread',
        text: `SELECT sum(GREATEST(0, c.last_seq - m.read_seq)) AS n
               FROM members m JOIN conversations c ON c.id = m.conversation_id
               WHERE m.user_id = $1 AND NOT m.removed`,
        values: [userId],
      });
      return int(rows[0]?.n);
    });
  }

  enqueue(items: readonly PushEnqueueItem[], now: number): Promise<void> {
    if (items.length === 0) return Promise.resolve();
    const { jobs, marks } = fold(items);
    return this.#transaction(async (c) => {
      await c.query({
        name: 'parley_push_marks',
        text: `INSERT INTO push_marks (conversation_id, seq)
               SELECT * FROM unnest($1::text[], $2::bigint[])
               ON CONFLICT (conversation_id) DO UPDATE SET seq = GREATEST(push_marks.seq, EXCLUDED.seq)`,
        values: [marks.map(([conv]) => conv), marks.map(([, seq]) => seq)],
      });
      await c.query({
        name: 'parley_push_enqueue',
        text: `INSERT INTO push_jobs (user_id, device_id, conversation_id, first_seq, last_seq, count, mentioned,
                 due_at, created_at)
               SELECT u, d, conv, f, l, n, m, due, $9
               FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::integer[],
                           $7::boolean[], $8::bigint[]) AS t (u, d, conv, f, l, n, m, due)
               ON CONFLICT (user_id, device_id, conversation_id) WHERE lease_until = 0
               DO UPDATE SET count = push_jobs.count + EXCLUDED.count,
                 first_seq = LEAST(push_jobs.first_seq, EXCLUDED.first_seq),
                 last_seq = GREATEST(push_jobs.last_seq, EXCLUDED.last_seq),
                 mentioned = push_jobs.mentioned OR EXCLUDED.mentioned`,
        values: [
          jobs.map((j) => j.userId),
          jobs.map((j) => j.deviceId),
          jobs.map((j) => j.conversationId),
          jobs.map((j) => j.firstSeq),
          jobs.map((j) => j.lastSeq),
          jobs.map((j) => j.count),
          jobs.map((j) => j.mentioned),
          jobs.map((j) => j.dueAt),
          now,
        ],
      });
    });
  }

  queuedThrough(conversationId: string): Promise<number> {
    return this.#read(async (db) => {
      const { rows } = await db.query<{ seq: string }>({
        name: 'parley_push_mark',
        text: 'SELECT seq FROM push_marks WHERE conversation_id = $1',
        values: [conversationId],
      });
      return int(rows[0]?.seq);
    });
  }

  claim(owner: string, now: number, leaseMs: number, limit: number): Promise<PushJob[]> {
    return this.#read(async (db) => {
      const { rows } = await db.query<JobRow<Int, boolean>>({
        name: 'parley_push_claim',
        text: `UPDATE push_jobs j SET lease_owner = $1, lease_until = $2
               FROM (SELECT id FROM push_jobs WHERE due_at <= $3 AND lease_until <= $3
                     ORDER BY due_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) pick
               WHERE j.id = pick.id
               RETURNING j.*`,
        values: [owner, now + leaseMs, now, Math.max(1, limit)],
      });
      return rows.map(fromRow.job).sort((a, b) => a.dueAt - b.dueAt || a.id - b.id);
    });
  }

  complete(jobId: number, owner: string): Promise<boolean> {
    return this.#read(async (db) => {
      const res = await db.query({
        name: 'parley_push_complete',
        text: 'DELETE FROM push_jobs WHERE id = $1 AND lease_owner = $2',
        values: [jobId, owner],
      });
      return (res.rowCount ?? 0) > 0;
    });
  }

  retry(jobId: number, owner: string, dueAt: number): Promise<boolean> {
    return this.#transaction(async (c) => {
      const { rows } = await c.query<JobRow<Int, boolean>>(
        'SELECT * FROM push_jobs WHERE id = $1 AND lease_owner = $2 FOR UPDATE',
        [jobId, owner],
      );
      const row = rows[0];
      if (!row) return false;
      const newer = await c.query<JobRow<Int, boolean>>(
        `SELECT * FROM push_jobs
         WHERE user_id = $1 AND device_id = $2 AND conversation_id = $3 AND lease_until = 0 AND id <> $4
         FOR UPDATE`,
        [row.user_id, row.device_id, row.conversation_id, jobId],
      );
      const into = newer.rows[0];
      if (into) {
        // Fold the failed job into the newer one: one notification covers both.
        await c.query(
          `UPDATE push_jobs SET first_seq = LEAST(first_seq, $2), count = count + $3, mentioned = mentioned OR $4,
             due_at = GREATEST(due_at, $5), attempts = GREATEST(attempts, $6)
           WHERE id = $1`,
          [into.id, row.first_seq, row.count, row.mentioned, dueAt, row.attempts + 1],
        );
        await c.query('DELETE FROM push_jobs WHERE id = $1', [jobId]);
        return true;
      }
      // A waiting job enqueued by another node since the SELECT makes this a unique
      // violation: the transaction runs again and folds into it.
      await c.query(
        `UPDATE push_jobs SET lease_owner = '', lease_until = 0, attempts = attempts + 1, due_at = $2
         WHERE id = $1`,
        [jobId, dueAt],
      );
      return true;
    });
  }

  nextDueAt(): Promise<number | undefined> {
    return this.#read(async (db) => {
      const { rows } = await db.query<{ t: string | null }>({
        name: 'parley_push_next_due',
        text: 'SELECT min(GREATEST(due_at, lease_until)) AS t FROM push_jobs',
      });
      const t = rows[0]?.t;
      return t === null || t === undefined ? undefined : int(t);
    });
  }

  pendingCount(): Promise<number> {
    return this.#read(async (db) => {
      const { rows } = await db.query<{ n: string }>({
        name: 'parley_push_count',
        text: 'SELECT count(*) AS n FROM push_jobs',
      });
      return int(rows[0]?.n);
    });
  }

  // Internals -----------------------------------------------------------------------------

  #open(): void {
    if (this.#pool.ending) throw new ParleyError(ErrorCode.UNAVAILABLE, 'the store is closed');
  }

  #ensureReady(): void {
    this.#open();
    if (!this.#ready) throw new ParleyError(ErrorCode.INTERNAL, 'push store used before migrate()');
  }

  async #read<T>(fn: (db: pg.Pool) => Promise<T>): Promise<T> {
    try {
      this.#ensureReady();
      return await fn(this.#pool);
    } catch (err) {
      throw storeError(err, this.store.target);
    }
  }

  /**
   * Runs `fn` in a READ COMMITTED transaction; a deadlock or unique race PostgreSQL aborted is
   * run again. A connection that failed mid-transaction is discarded, never pooled again.
   */
  async #transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    try {
      this.#ensureReady();
    } catch (err) {
      throw storeError(err, this.store.target);
    }
    return inTransaction(this.#pool, this.store.target, RETRY, fn);
  }
}

/** Folds a batch per device and conversation (one row each) and per conversation (its mark), sorted for one lock order. */
function fold(items: readonly PushEnqueueItem[]): { jobs: Folded[]; marks: [string, number][] } {
  const jobs = new Map<string, Folded>();
  const marks = new Map<string, number>();
  for (const item of items) {
    marks.set(item.conversationId, Math.max(marks.get(item.conversationId) ?? 0, item.seq));
    const key = JSON.stringify([item.userId, item.deviceId, item.conversationId]);
    const job = jobs.get(key);
    if (job) {
      job.count += 1;
      job.firstSeq = Math.min(job.firstSeq, item.seq);
      job.lastSeq = Math.max(job.lastSeq, item.seq);
      job.mentioned ||= item.mentioned;
    } else {
      jobs.set(key, {
        userId: item.userId,
        deviceId: item.deviceId,
        conversationId: item.conversationId,
        firstSeq: item.seq,
        lastSeq: item.seq,
        count: 1,
        mentioned: item.mentioned,
        dueAt: item.dueAt,
      });
    }
  }
  const byKey = (a: [string, unknown], b: [string, unknown]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
  return {
    jobs: [...jobs.entries()].sort(byKey).map(([, j]) => j),
    marks: [...marks.entries()].sort(byKey),
  };
}
