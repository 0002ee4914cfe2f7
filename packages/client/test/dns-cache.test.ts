import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CachingResolver } from '../src/dns/caching-resolver.js';
import { DnsError, DnsErrorCode } from '../src/dns/dns-errors.js';
import type { ResolvedAddress, Resolver } from '../src/dns/types.js';

/** An upstream whose next answer the test sets, counting lookups. */
class FakeUpstream implements Resolver {
  calls = 0;
  next: () => Promise<ResolvedAddress[]> = () => Promise.resolve([]);

  resolve(host: string): Promise<ResolvedAddress[]> {
    assert.equal(host, host.toLowerCase());
    this.calls++;
    return this.next();
  }

  answer(addresses: string[], expiresAt: number): void {
    this.next = () =>
      Promise.resolve(
        addresses.map((address) => ({ address, family: 4 as const, source: 'httpdns' as const, expiresAt })),
      );
  }

  fail(): void {
    this.next = () => Promise.reject(new DnsError(DnsErrorCode.LOOKUP_FAILED, 'x', 'upstream down'));
  }
}

function setup(options: { maxStaleMs?: number; maxEntries?: number } = {}) {
  const clock = { now: 1_000_000 };
  const upstream = new FakeUpstream();
  const cache = new CachingResolver(upstream, { ...options, now: () => clock.now });
  return { clock, upstream, cache };
}

/** Lets pending promise callbacks and the upstream call run. */
const tick = () => new Promise((resolve) => setImmediate(resolve));

const addressesOf = (list: ResolvedAddress[]) => list.map((a) => a.address);

describe('CachingResolver', () => {
  test('serves from cache until the earliest TTL runs out, then asks again', async () => {
    const { clock, upstream, cache } = setup();
    upstream.next = () =>
      Promise.resolve([
        { address: '192.0.2.1', family: 4, source: 'httpdns', expiresAt: clock.now + 60_000 },
        { address: '2001:db8::1', family: 6, source: 'httpdns', expiresAt: clock.now + 30_000 },
      ]);
    assert.equal((await cache.resolve('Chat.Test')).length, 2);
    clock.now += 29_999;
    assert.equal((await cache.resolve('chat.test.')).length, 2);
    assert.equal(upstream.calls, 1);
    clock.now += 1;
    upstream.answer(['192.0.2.9'], clock.now + 60_000);
    assert.deepEqual(addressesOf(await cache.resolve('chat.test')), ['192.0.2.9']);
    assert.equal(upstream.calls, 2);
  });

  test('serves a stale answer, marked, when the upstream fails within maxStaleMs', async () => {
    const { clock, upstream, cache } = setup({ maxStaleMs: 10_000 });
    upstream.answer(['192.0.2.1'], clock.now + 1000);
    const fresh = await cache.resolve('chat.test');
    assert.equal(fresh[0]?.stale, undefined);
    clock.now += 5000;
    upstream.fail();
    const stale = await cache.resolve('chat.test');
    assert.deepEqual(stale, [
      { address: '192.0.2.1', family: 4, source: 'httpdns', expiresAt: clock.now - 4000, stale: true },
    ]);
    // An empty upstream answer is treated the same way.
    upstream.answer([], 0);
    assert.equal((await cache.resolve('chat.test'))[0]?.stale, true);
    // Past expiry + maxStaleMs the failure comes through.
    clock.now += 6000;
    upstream.fail();
    await assert.rejects(cache.resolve('chat.test'), (err) => err instanceof DnsError);
    upstream.answer([], 0);
    assert.deepEqual(await cache.resolve('chat.test'), []);
  });

  test('a stale answer does not refresh the entry: the next lookup asks the upstream again', async () => {
    const { clock, upstream, cache } = setup();
    upstream.answer(['192.0.2.1'], clock.now + 1000);
    await cache.resolve('chat.test');
    clock.now += 2000;
    upstream.fail();
    await cache.resolve('chat.test');
    await cache.resolve('chat.test');
    assert.equal(upstream.calls, 3);
    upstream.answer(['192.0.2.2'], clock.now + 1000);
    const answer = await cache.resolve('chat.test');
    assert.deepEqual(addressesOf(answer), ['192.0.2.2']);
    assert.equal(answer[0]?.stale, undefined);
  });

  test('without a cached answer an upstream failure is passed on', async () => {
    const { upstream, cache } = setup();
    upstream.fail();
    await assert.rejects(cache.resolve('chat.test'), /upstream down/);
  });

  test('invalidate and clear forget answers (network change)', async () => {
    const { clock, upstream, cache } = setup();
    upstream.answer(['192.0.2.1'], clock.now + 60_000);
    await cache.resolve('a.test');
    await cache.resolve('b.test');
    cache.invalidate('A.test');
    await cache.resolve('a.test');
    await cache.resolve('b.test');
    assert.equal(upstream.calls, 3);
    cache.clear();
    upstream.fail();
    // Forgotten means no stale fallback either.
    await assert.rejects(cache.resolve('b.test'), /upstream down/);
  });

  test('concurrent lookups of one host share one upstream lookup', async () => {
    const { clock, upstream, cache } = setup();
    let release = (): void => undefined;
    upstream.next = () =>
      new Promise((resolve) => {
        release = () => {
          resolve([{ address: '192.0.2.1', family: 4, source: 'system', expiresAt: clock.now + 1000 }]);
        };
      });
    const lookups = [cache.resolve('chat.test'), cache.resolve('CHAT.test'), cache.resolve('chat.test.')];
    await tick();
    release();
    const answers = await Promise.all(lookups);
    assert.equal(upstream.calls, 1);
    for (const a of answers) assert.deepEqual(addressesOf(a), ['192.0.2.1']);
    // Each caller gets its own array.
    assert.notEqual(answers[0], answers[1]);
  });

  test('an answer that arrives after clear() is returned but not cached', async () => {
    const { clock, upstream, cache } = setup();
    let release = (): void => undefined;
    upstream.next = () =>
      new Promise((resolve) => {
        release = () => {
          resolve([{ address: '192.0.2.1', family: 4, source: 'system', expiresAt: clock.now + 60_000 }]);
        };
      });
    const pending = cache.resolve('chat.test');
    await tick();
    cache.clear();
    release();
    assert.deepEqual(addressesOf(await pending), ['192.0.2.1']);
    upstream.answer(['192.0.2.2'], clock.now + 60_000);
    assert.deepEqual(addressesOf(await cache.resolve('chat.test')), ['192.0.2.2']);
  });

  test("a caller's abort stops its wait only", async () => {
    const { clock, upstream, cache } = setup();
    let release = (): void => undefined;
    upstream.next = () =>
      new Promise((resolve) => {
        release = () => {
          resolve([{ address: '192.0.2.1', family: 4, source: 'system', expiresAt: clock.now + 60_000 }]);
        };
      });
    const controller = new AbortController();
    const aborted = cache.resolve('chat.test', controller.signal);
    const other = cache.resolve('chat.test');
    const reason = new Error('gave up');
    controller.abort(reason);
    await assert.rejects(aborted, (err) => err === reason);
    await tick();
    release();
    assert.deepEqual(addressesOf(await other), ['192.0.2.1']);
    assert.equal(upstream.calls, 1);
  });

  test('keeps at most maxEntries hosts, dropping the least recently used', async () => {
    const { clock, upstream, cache } = setup({ maxEntries: 2 });
    upstream.answer(['192.0.2.1'], clock.now + 60_000);
    await cache.resolve('a.test');
    await cache.resolve('b.test');
    await cache.resolve('a.test'); // a is now the most recent
    await cache.resolve('c.test'); // evicts b
    assert.equal(upstream.calls, 3);
    await cache.resolve('a.test');
    assert.equal(upstream.calls, 3);
    await cache.resolve('b.test');
    assert.equal(upstream.calls, 4);
  });

  test('IP literals bypass the cache and the upstream', async () => {
    const { upstream, cache } = setup();
    assert.deepEqual(addressesOf(await cache.resolve('127.0.0.1')), ['127.0.0.1']);
    assert.equal(upstream.calls, 0);
  });
});
