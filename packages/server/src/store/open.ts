import { isAbsolute, resolve } from 'node:path';
import { ErrorCode, ParleyError } from '@parley/protocol';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './types.js';

/** Opens the store a `--store` URL names: `sqlite:PATH` (relative to the working directory). */
export function openStore(url: string, dataDir: string): Promise<Store> {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length) || resolve(dataDir, 'parley.db');
    return Promise.resolve(new SqliteStore(path === ':memory:' || isAbsolute(path) ? path : resolve(path)));
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    return Promise.reject(
      new ParleyError(ErrorCode.UNSUPPORTED, 'the PostgreSQL store arrives with cluster mode; use sqlite:PATH for now'),
    );
  }
  return Promise.reject(new ParleyError(ErrorCode.INVALID_ARGUMENT, `unknown store URL "${url}": use sqlite:PATH`));
}
