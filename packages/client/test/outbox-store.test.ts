import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  type IdbFactoryLike,
  IndexedDbKeyValueStore,
  KeyValueOutboxStore,
  type KeyValueStore,
  MemoryKeyValueStore,
  type OutboxRecord,
  ulid,
} from '../src/index.js';
import { FileKeyValueStore } from '../src/node.js';

function record(localId: string, order: number): OutboxRecord {
  return {
    localId,
    conversationId: 'c',
    content: { text: String(order) },
    state: 'sending',
    createdAt: 0,
    order,
    attempts: 0,
  };
}

describe('outbox ids', () => {
  test('ULID-shaped, unique and increasing within one millisecond', () => {
    const ids = Array.from({ length: 1000 }, () => ulid(1_700_000_000_000));
    assert.ok(ids.every((id) => /^[0-9A-HJKMNP-TV-Z]{26}$/.test(id)));
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual([...ids].sort(), ids);
    assert.ok(ulid(1_700_000_000_000 + 1000) > (ids.at(-1) as string));
  });
});

for (const [name, make] of [
  ['memory', () => ({ kv: new MemoryKeyValueStore() as KeyValueStore, done: () => undefined })],
  [
    'file',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'parley-kv-'));
      return {
        kv: new FileKeyValueStore(join(dir, 'kv.json'), { fsync: false }) as KeyValueStore,
        done: () => {
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  ],
] as const) {
  describe(`KeyValueOutboxStore on a ${name} store`, () => {
    test('put, replace, delete, load', async () => {
      const { kv, done } = make();
      try {
        const store = new KeyValueOutboxStore(kv);
        await Promise.all([store.put(record('a', 1)), store.put(record('b', 2)), store.put(record('c', 3))]);
        await store.put({ ...record('b', 2), state: 'sent', seq: 9 });
        await store.delete('a');
        await store.delete('missing');
        const fresh = new KeyValueOutboxStore(kv);
        const loaded = (await fresh.load()).sort((x, y) => x.order - y.order);
        assert.deepEqual(
          loaded.map((r) => [r.localId, r.state]),
          [
            ['b', 'sent'],
            ['c', 'sending'],
          ],
        );
        assert.equal(await kv.get('parley:outbox:a'), undefined);
      } finally {
        done();
      }
    });
  });
}

/** A minimal in-memory stand-in for IndexedDB: requests and transactions complete on a later task. */
function fakeIndexedDb(): IdbFactoryLike {
  const stores = new Map<string, Map<string, unknown>>();
  const later = (fn: () => void) => setTimeout(fn, 0);
  const db = {
    objectStoreNames: { contains: (name: string) => stores.has(name) },
    createObjectStore: (name: string) => stores.set(name, new Map()),
    close: () => undefined,
    transaction(name: string) {
      const data = stores.get(name) as Map<string, unknown>;
      const tx = {
        error: null,
        oncomplete: null as (() => void) | null,
        onerror: null,
        onabort: null,
        objectStore: () => ({
          get(key: string) {
            const req = {
              result: undefined as unknown,
              error: null,
              onsuccess: null as (() => void) | null,
              onerror: null,
            };
            later(() => {
              req.result = data.get(key);
              req.onsuccess?.();
            });
            return req;
          },
          put: (value: string, key: string) => data.set(key, value),
          delete: (key: string) => data.delete(key),
        }),
      };
      later(() => tx.oncomplete?.());
      return tx;
    },
  };
  return {
    open() {
      const req = {
        result: db,
        error: null,
        onsuccess: null as (() => void) | null,
        onerror: null,
        onupgradeneeded: null as (() => void) | null,
      };
      later(() => {
        req.onupgradeneeded?.();
        req.onsuccess?.();
      });
      return req;
    },
  };
}

describe('IndexedDbKeyValueStore (against a fake IndexedDB)', () => {
  test('set, get, delete; an outbox store works on it', async () => {
    const kv = new IndexedDbKeyValueStore({ indexedDB: fakeIndexedDb() });
    await kv.set('k', 'v');
    assert.equal(await kv.get('k'), 'v');
    await kv.delete('k');
    assert.equal(await kv.get('k'), undefined);
    const store = new KeyValueOutboxStore(kv);
    await store.put(record('a', 1));
    assert.deepEqual(
      (await new KeyValueOutboxStore(kv).load()).map((r) => r.localId),
      ['a'],
    );
    await kv.close();
  });

  test('without IndexedDB, calls reject', async () => {
    const kv = new IndexedDbKeyValueStore({ indexedDB: undefined });
    await assert.rejects(kv.get('k'), /not available/);
  });
});
