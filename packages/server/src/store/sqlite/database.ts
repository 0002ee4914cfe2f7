import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

export interface SqliteOptions {
  /** How long a writer waits for another connection's lock before failing. Default 5000 ms. */
  busyTimeoutMs?: number;
}

/** The connection settings that matter for durability, as SQLite reports them. */
export interface SqliteSettings {
  journalMode: string;
  /** 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA. */
  synchronous: number;
  foreignKeys: boolean;
  busyTimeoutMs: number;
}

function isMemory(path: string): boolean {
  return path === ':memory:' || path === '' || path.startsWith('file::memory:');
}

/**
 * Opens a connection tuned for acks that follow durable writes: WAL (readers never block the
 * writer), `synchronous = FULL` (every commit is fsynced before it returns; group commit is
 * what amortises the cost), foreign keys enforced, and a busy timeout so a second process on
 * the same file waits instead of failing.
 */
export function openDatabase(path: string, options: SqliteOptions = {}): Database.Database {
  if (!isMemory(path)) mkdirSync(dirname(path), { recursive: true });
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  const db = new Database(path, { timeout: busyTimeoutMs });
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma(`busy_timeout = ${String(Math.max(0, Math.trunc(busyTimeoutMs)))}`);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

export function readSettings(db: Database.Database): SqliteSettings {
  return {
    journalMode: String(db.pragma('journal_mode', { simple: true })),
    synchronous: Number(db.pragma('synchronous', { simple: true })),
    foreignKeys: Number(db.pragma('foreign_keys', { simple: true })) === 1,
    busyTimeoutMs: Number(db.pragma('busy_timeout', { simple: true })),
  };
}
