// Persisting learned heartbeat intervals: the key-value stores, the JSON document, restarts, eviction, corruption.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import { SmartHeartbeat, type SmartHeartbeatOptions } from '../src/heartbeat/index.js';
import { FileKeyValueStore } from '../src/storage/file-key-value.js';
import { type KeyValueStore, MemoryKeyValueStore } from '../src/storage/key-value.js';

const S = 1000;
const DAY = 24 * 3600 * S;
const SMALL: SmartHeartbeatOptions = {
  minMs: 10 * S,
  maxMs: 60 * S,
  stepMs: 10 * S,
  marginMs: 3 * S,
  pingTimeoutMs: S,
};
const KEY = 'parley.heartbeat';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'parley-heartbeat-'));
  dirs.push(dir);
  return dir;
}

/** Drives `hb` against a NAT that drops mappings idle longer than `natMs` until the interval is settled. */
function learn(hb: SmartHeartbeat, clock: { now: number }, natMs: number): void {
  hb.onLinkUp();
  for (let i = 0; i < 1000 && !hb.state.stable; i++) {
    const interval = hb.intervalFor(clock.now);
    clock.now += interval;
    if (interval > natMs) {
      hb.onHeartbeatFailed(clock.now, 'timeout', interval);
      hb.onLinkUp();
    } else {
      hb.onHeartbeatSucceeded(clock.now, interval);
    }
  }
  assert.ok(hb.state.stable);
}

/** The interval a fresh link settles to after its test heartbeats. */
function settledInterval(hb: SmartHeartbeat, now: number): number {
  hb.onLinkUp();
  for (let i = 0; i < 3; i++) hb.onHeartbeatSucceeded(now, hb.intervalFor(now));
  return hb.intervalFor(now);
}

describe('MemoryKeyValueStore', () => {
  test('gets, sets, deletes', async () => {
    const store = new MemoryKeyValueStore([['a', '1']]);
    assert.equal(await store.get('a'), '1');
    assert.equal(await store.get('b'), undefined);
    await store.set('b', '2');
    await store.delete('a');
    await store.delete('missing');
    assert.equal(await store.get('a'), undefined);
    assert.equal(await store.get('b'), '2');
    assert.equal(store.size, 1);
  });
});

describe('FileKeyValueStore', () => {
  test('persists across instances and leaves no temporary files', async () => {
    const dir = tempDir();
    const path = join(dir, 'nested', 'state.json');
    const store = new FileKeyValueStore(path);
    assert.equal(await store.get('a'), undefined);
    await store.set('a', '1');
    await store.set('b', 'two');
    await store.delete('a');
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), { b: 'two' });
    const again = new FileKeyValueStore(path);
    assert.equal(await again.get('b'), 'two');
    assert.equal(await again.get('a'), undefined);
    assert.deepEqual(readdirSync(join(dir, 'nested')), ['state.json']);
  });

  test('coalesces a burst of writes and keeps the last value', async () => {
    const path = join(tempDir(), 'burst.json');
    const store = new FileKeyValueStore(path, { fsync: false });
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.set(`k${i % 5}`, String(i))));
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), { k0: '45', k1: '46', k2: '47', k3: '48', k4: '49' });
    assert.equal(await new FileKeyValueStore(path).get('k4'), '49');
  });

  test('moves a corrupt file aside and starts empty', async () => {
    const dir = tempDir();
    const path = join(dir, 'corrupt.json');
    writeFileSync(path, '{"a": 1, "b":');
    const reports: Error[] = [];
    const store = new FileKeyValueStore(path, { onCorrupt: (error) => reports.push(error) });
    assert.equal(await store.get('a'), undefined);
    assert.equal(reports.length, 1);
    assert.equal(readFileSync(`${path}.corrupt`, 'utf8'), '{"a": 1, "b":');
    await store.set('a', 'ok');
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), { a: 'ok' });
    writeFileSync(path, '{"a": 1}'); // valid JSON, but not all strings
    assert.equal(await new FileKeyValueStore(path).get('a'), undefined);
  });
});

describe('SmartHeartbeat persistence', () => {
  test('a restart resumes the learned interval (memory store, explicit save)', async () => {
    const store = new MemoryKeyValueStore();
    const clock = { now: 1_700_000_000_000 };
    const first = new SmartHeartbeat({ ...SMALL, store, autoSave: false, networkId: 'wifi:home' });
    learn(first, clock, 35 * S);
    assert.equal(first.state.currentMs, 27 * S);
    assert.equal(await store.get(KEY), undefined, 'autoSave off');
    await first.save();

    const second = new SmartHeartbeat({ ...SMALL, store });
    assert.equal(await second.load(), 1);
    second.onNetworkChanged('wifi:home', clock.now);
    assert.deepEqual(second.state, first.state);
    assert.equal(settledInterval(second, clock.now), 27 * S);
  });

  test('saves automatically after each change (file store)', async () => {
    const path = join(tempDir(), 'heartbeat.json');
    const clock = { now: 1_700_000_000_000 };
    const errors: unknown[] = [];
    const first = new SmartHeartbeat({ ...SMALL, store: new FileKeyValueStore(path), onError: (e) => errors.push(e) });
    first.onNetworkChanged('cell:a', clock.now);
    learn(first, clock, 45 * S);
    first.onNetworkChanged('wifi:b', clock.now);
    learn(first, clock, 25 * S);
    await first.save(); // waits for the queued automatic saves
    assert.deepEqual(errors, []);

    const document = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    assert.equal(typeof document[KEY], 'string', 'one JSON value under the storage key');

    const second = new SmartHeartbeat({ ...SMALL, store: new FileKeyValueStore(path) });
    assert.equal(await second.load(), 2);
    assert.equal(second.stateOf('cell:a')?.currentMs, 37 * S);
    assert.equal(second.stateOf('wifi:b')?.currentMs, 17 * S);
    second.onNetworkChanged('cell:a', clock.now);
    assert.equal(settledInterval(second, clock.now), 37 * S);
  });

  test('autoSave writes without an explicit save', async () => {
    const store = new MemoryKeyValueStore();
    const hb = new SmartHeartbeat({ ...SMALL, store });
    learn(hb, { now: 1_700_000_000_000 }, 35 * S);
    await tick();
    const saved = await store.get(KEY);
    assert.ok(saved);
    const parsed = JSON.parse(saved) as { version: number; networks: Record<string, { currentMs: number }> };
    assert.equal(parsed.version, 1);
    assert.equal(parsed.networks.default?.currentMs, 27 * S);
  });

  test('evicts the least recently used network when a 21st arrives', async () => {
    const store = new MemoryKeyValueStore();
    const hb = new SmartHeartbeat({ ...SMALL, store });
    let now = 1_700_000_000_000;
    for (let i = 0; i < 20; i++) hb.onNetworkChanged(`net-${i}`, ++now);
    assert.equal(hb.networkIds().length, 20);
    hb.onNetworkChanged('net-0', ++now); // used again: no longer the oldest
    hb.onNetworkChanged('net-20', now + 1);
    assert.equal(hb.networkIds().length, 20);
    assert.equal(hb.stateOf('net-1'), undefined);
    assert.ok(hb.stateOf('net-0'));
    assert.ok(hb.stateOf('net-20'));
    await hb.save();
    const restarted = new SmartHeartbeat({ ...SMALL, store });
    assert.equal(await restarted.load(), 20);
    assert.deepEqual(restarted.networkIds().sort(), hb.networkIds().sort());
  });

  test('a smaller maxNetworks trims what it loads, keeping the current network', async () => {
    const store = new MemoryKeyValueStore();
    const hb = new SmartHeartbeat({ ...SMALL, store });
    for (let i = 0; i < 5; i++) hb.onNetworkChanged(`net-${i}`, 1000 + i);
    await hb.save();
    const small = new SmartHeartbeat({ ...SMALL, store, maxNetworks: 2, networkId: 'net-0' });
    await small.load();
    assert.deepEqual(small.networkIds().sort(), ['net-0', 'net-4']);
  });

  test('corrupt or foreign JSON is ignored without a crash', async () => {
    for (const text of [
      '{not json',
      '',
      'null',
      '[]',
      '{"version": 2, "networks": {}}',
      '{"version": 1, "networks": []}',
      '{"version": 1}',
    ]) {
      const store = new MemoryKeyValueStore([[KEY, text]]);
      const hb = new SmartHeartbeat({ ...SMALL, store });
      assert.equal(await hb.load(), 0, text);
      assert.equal(hb.intervalFor(0), 10 * S);
      learn(hb, { now: 1_700_000_000_000 }, 35 * S); // and it still learns and saves
      await hb.save();
      assert.equal(
        (JSON.parse((await store.get(KEY)) ?? '') as { networks: { default: { currentMs: number } } }).networks.default
          .currentMs,
        27 * S,
      );
    }
  });

  test('malformed entries are skipped and out-of-range values clamped', async () => {
    const good = {
      currentMs: 27 * S,
      lastGoodMs: 30 * S,
      stable: true,
      failures: 0,
      successesAtCurrent: 0,
      modifiedAt: 5,
      usedAt: 5,
    };
    // JSON.parse makes "__proto__" an own key, as a hostile or unlucky file would have it.
    const networks = JSON.parse(`{"__proto__": ${JSON.stringify({ ...good, currentMs: 33 * S })}}`) as object;
    Object.assign(networks, {
      good,
      tooLong: { ...good, currentMs: 600 * S },
      tooShort: { ...good, currentMs: 1 },
      manyFailures: { ...good, failures: 99 },
      badType: { ...good, stable: 'yes' },
      negative: { ...good, currentMs: -5 },
      fractionalCount: { ...good, failures: 0.5 },
      missing: { currentMs: 20 * S },
      notAnObject: 7,
    });
    const text = JSON.stringify({ version: 1, networks });
    assert.ok(text.includes('"__proto__"'));
    const hb = new SmartHeartbeat({ ...SMALL, store: new MemoryKeyValueStore([[KEY, text]]) });
    assert.equal(await hb.load(), 5);
    assert.equal(hb.stateOf('good')?.currentMs, 27 * S);
    assert.equal(hb.stateOf('tooLong')?.currentMs, 57 * S);
    assert.deepEqual(hb.stateOf('tooShort'), { ...good, currentMs: 10 * S, stable: false });
    assert.equal(hb.stateOf('manyFailures')?.failures, 1);
    assert.equal(hb.stateOf('__proto__')?.currentMs, 33 * S);
    for (const id of ['badType', 'negative', 'fractionalCount', 'missing', 'notAnObject']) {
      assert.equal(hb.stateOf(id), undefined, id);
    }
    assert.equal(({} as Record<string, unknown>).currentMs, undefined, 'no prototype was polluted');
  });

  test('a "__proto__" network id round-trips without touching prototypes', async () => {
    const store = new MemoryKeyValueStore();
    const hb = new SmartHeartbeat({ ...SMALL, store, networkId: '__proto__' });
    learn(hb, { now: 1_700_000_000_000 }, 35 * S);
    await hb.save();
    const again = new SmartHeartbeat({ ...SMALL, store });
    assert.equal(await again.load(), 1);
    assert.equal(again.stateOf('__proto__')?.currentMs, 27 * S);
    assert.equal(({} as Record<string, unknown>).currentMs, undefined);
  });

  test('a failing store is reported, never thrown from load or automatic saves', async () => {
    const failing: KeyValueStore = {
      get: () => Promise.reject(new Error('disk gone')),
      set: () => Promise.reject(new Error('disk full')),
      delete: () => Promise.resolve(),
    };
    const errors: string[] = [];
    const hb = new SmartHeartbeat({ ...SMALL, store: failing, onError: (e) => errors.push((e as Error).message) });
    assert.equal(await hb.load(), 0);
    learn(hb, { now: 1_700_000_000_000 }, 35 * S);
    await tick();
    assert.equal(errors[0], 'disk gone');
    assert.ok(errors.slice(1).length > 0 && errors.slice(1).every((m) => m === 'disk full'));
    await assert.rejects(hb.save(), /disk full/);
    assert.equal(hb.state.currentMs, 27 * S, 'the policy keeps working in memory');
  });

  test('load keeps state learned in this process when it is newer', async () => {
    const store = new MemoryKeyValueStore();
    const clock = { now: 1_700_000_000_000 };
    const old = new SmartHeartbeat({ ...SMALL, store, networkId: 'wifi' });
    learn(old, clock, 35 * S); // 27 s
    await old.save();
    clock.now += DAY;
    const hb = new SmartHeartbeat({ ...SMALL, networkId: 'wifi', store });
    learn(hb, clock, 55 * S); // 47 s, learned before load finished
    await hb.load();
    assert.equal(hb.state.currentMs, 47 * S);
  });
});
