import { isAbsolute, resolve } from 'node:path';
import { ErrorCode, ParleyError } from '@parley/protocol';
import { PostgresStore } from './postgres/postgres-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './types.js';

/**
 * Opens the store a `--store` URL names: `sqlite:PATH` (relative to the working directory), or
 * `postgres://USER@HOST:PORT/DB` / `postgresql://...` with optional `?schema=NAME` (tables in
 * that schema, created on migrate) and `?pool_size=N` (default 10). The PostgreSQL store
 * connects on first use (`migrate()`), so a bad address surfaces there as UNAVAILABLE.
 */
export function openStore(url: string, dataDir: string): Promise<Store> {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length) || resolve(dataDir, 'parley.db');
    return Promise.resolve(new SqliteStore(path === ':memory:' || isAbsolute(path) ? path : resolve(path)));
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    try {
      return Promise.resolve(new PostgresStore(url));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }
  return Promise.reject(
    new ParleyError(
      ErrorCode.INVALID_ARGUMENT,
      `unknown store URL "${url}": use sqlite:PATH or postgres://USER@HOST:PORT/DB`,
    ),
  );
}

/** The store URL with its password masked, for logs. */
export function redactStoreUrl(url: string): string {
  if (!url.startsWith('postgres://') && !url.startsWith('postgresql://')) return url;
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres://(unparseable URL)';
  }
}
