import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqlitePushStore } from '../src/push/sqlite-push-store.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { type StorePair, pushStoreContract } from './push-store-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'parley-push-store-'));
let n = 0;
const paths = new WeakMap<object, string>();

async function openAt(path: string): Promise<StorePair> {
  const store = new SqliteStore(path);
  paths.set(store, path);
  await store.migrate();
  const push = new SqlitePushStore(store.database);
  await push.migrate();
  // Twice: migrations are safe on every start.
  await push.migrate();
  return { store, push };
}

pushStoreContract('SQLite (file)', () => openAt(join(dir, `push-${String(++n)}.db`)), {
  reopen: async ({ store }) => {
    const path = paths.get(store) ?? '';
    await store.close();
    return openAt(path);
  },
  cleanup: () => {
    rmSync(dir, { recursive: true, force: true });
    return Promise.resolve();
  },
});

pushStoreContract('SQLite (memory)', () => openAt(':memory:'));
