import assert from 'node:assert/strict';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ChainResolver } from '../src/dns/chain-resolver.js';
import { DnsError, DnsErrorCode } from '../src/dns/dns-errors.js';
import { HttpDnsResolver, type HttpDnsResolverOptions } from '../src/dns/httpdns-resolver.js';
import { eitherSignal, timeoutSignal } from '../src/dns/resolve-util.js';
import { StaticResolver } from '../src/dns/static-resolver.js';
import { type LookupAll, SystemResolver } from '../src/dns/system-resolver.js';
import type { ResolvedAddress, Resolver } from '../src/dns/types.js';

// A local DoH JSON endpoint. Each name maps record types to a behaviour.
type Behaviour =
  | { answer: { type?: number; TTL?: number; data: unknown }[]; status?: number }
  | { http: number }
  | { badJson: true }
  | { delayMs: number; then: Behaviour };

const A = 1;
const AAAA = 28;
const CNAME = 5;

const zones: Record<string, Partial<Record<'A' | 'AAAA', Behaviour>>> = {
  'good.test': {
    A: { answer: [{ type: A, TTL: 120, data: '127.0.0.1' }] },
    AAAA: { answer: [{ type: AAAA, TTL: 30, data: '::1' }] },
  },
  'public.test': {
    A: {
      answer: [
        { type: CNAME, TTL: 300, data: 'edge.public.test.' },
        { type: A, TTL: 5, data: '93.184.216.34' },
        { type: A, TTL: 999999, data: '93.184.216.35' },
      ],
    },
    AAAA: { answer: [{ type: AAAA, TTL: 600, data: '2606:2800:0220:0001:0248:1893:25c8:1946' }] },
  },
  'poisoned.test': {
    A: { answer: [{ type: A, TTL: 600, data: '10.10.34.35' }] },
    AAAA: { answer: [], status: 0 },
  },
  'zero.test': {
    A: { answer: [{ type: A, TTL: 600, data: '0.0.0.0' }] },
    AAAA: { answer: [{ type: AAAA, TTL: 600, data: '::' }] },
  },
  'mixed.test': {
    A: {
      answer: [
        { type: A, TTL: 600, data: '192.168.1.1' },
        { type: A, TTL: 600, data: 'not-an-ip' },
        { type: A, TTL: 600, data: '93.184.216.34' },
      ],
    },
    AAAA: { answer: [{ type: AAAA, TTL: 600, data: '1.2.3.4' }] },
  },
  'nxdomain.test': { A: { answer: [], status: 3 }, AAAA: { answer: [], status: 3 } },
  'servfail.test': { A: { answer: [], status: 2 }, AAAA: { answer: [], status: 2 } },
  'http500.test': { A: { http: 500 }, AAAA: { http: 500 } },
  'badjson.test': { A: { badJson: true }, AAAA: { badJson: true } },
  'slow.test': {
    A: { delayMs: 2000, then: { answer: [{ type: A, TTL: 60, data: '127.0.0.1' }] } },
    AAAA: { delayMs: 2000, then: { answer: [] } },
  },
  'v4only.test': {
    A: { answer: [{ type: A, TTL: 60, data: '127.0.0.1' }] },
    AAAA: { http: 503 },
  },
};

let doh: Server;
let dohUrl: string;
const requests: { name: string; type: string; accept: string | undefined }[] = [];

function serve(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  const name = url.searchParams.get('name') ?? '';
  const type = (url.searchParams.get('type') ?? 'A').toUpperCase() as 'A' | 'AAAA';
  requests.push({ name, type, accept: req.headers.accept });
  const behaviour: Behaviour = zones[name]?.[type] ?? { answer: [], status: 3 };
  const respond = (b: Behaviour): void => {
    if ('delayMs' in b) {
      const timer = setTimeout(() => {
        respond(b.then);
      }, b.delayMs);
      res.on('close', () => {
        clearTimeout(timer);
      });
    } else if ('http' in b) res.writeHead(b.http).end('error');
    else if ('badJson' in b) res.writeHead(200, { 'content-type': 'application/dns-json' }).end('{"Status": 0, "Ans');
    else {
      const body = {
        Status: b.status ?? 0,
        TC: false,
        Question: [{ name: `${name}.`, type: type === 'A' ? A : AAAA }],
        ...(b.answer.length > 0 ? { Answer: b.answer.map((r) => ({ name: `${name}.`, ...r })) } : {}),
      };
      res.writeHead(200, { 'content-type': 'application/dns-json' }).end(JSON.stringify(body));
    }
  };
  respond(behaviour);
}

before(async () => {
  doh = createServer(serve);
  await new Promise<void>((resolve) => doh.listen(0, '127.0.0.1', resolve));
  dohUrl = `http://127.0.0.1:${(doh.address() as AddressInfo).port}/resolve?name={name}&type={type}`;
});

after(async () => {
  doh.closeAllConnections();
  await new Promise<void>((resolve) =>
    doh.close(() => {
      resolve();
    }),
  );
});

const NOW = 1_700_000_000_000;
const httpdns = (options: Partial<HttpDnsResolverOptions> = {}) =>
  new HttpDnsResolver({ url: dohUrl, allowLoopback: true, now: () => NOW, timeoutMs: 1000, ...options });

async function rejectsWith(promise: Promise<unknown>, dnsCode: DnsErrorCode): Promise<DnsError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof DnsError, `expected a DnsError, got ${String(err)}`);
    assert.equal(err.dnsCode, dnsCode, err.message);
    return err;
  }
  assert.fail(`expected ${dnsCode}`);
}

const addressesOf = (list: ResolvedAddress[]) => list.map((a) => a.address);

describe('HttpDnsResolver', () => {
  test('queries A and AAAA with the dns-json accept header, honouring TTLs', async () => {
    requests.length = 0;
    const answer = await httpdns().resolve('Good.Test.');
    assert.deepEqual(answer, [
      { address: '127.0.0.1', family: 4, source: 'httpdns', expiresAt: NOW + 120_000 },
      { address: '::1', family: 6, source: 'httpdns', expiresAt: NOW + 60_000 }, // 30 s clamped up to the 60 s minimum
    ]);
    assert.deepEqual(requests.map((r) => [r.name, r.type, r.accept]).sort(), [
      ['good.test', 'A', 'application/dns-json'],
      ['good.test', 'AAAA', 'application/dns-json'],
    ]);
  });

  test('clamps TTLs, skips CNAME records and canonicalises IPv6', async () => {
    const answer = await httpdns({ rejectPrivate: true, minTtlSeconds: 10, maxTtlSeconds: 300 }).resolve('public.test');
    assert.deepEqual(
      answer.map((a) => [a.address, a.expiresAt - NOW]),
      [
        ['93.184.216.34', 10_000],
        ['93.184.216.35', 300_000],
        ['2606:2800:220:1:248:1893:25c8:1946', 300_000],
      ],
    );
  });

  test('a URL without {name} gets name and type query parameters', async () => {
    requests.length = 0;
    const base = dohUrl.slice(0, dohUrl.indexOf('?'));
    const answer = await httpdns({ url: base, families: [4] }).resolve('good.test');
    assert.deepEqual(addressesOf(answer), ['127.0.0.1']);
    assert.deepEqual(requests, [{ name: 'good.test', type: 'A', accept: 'application/dns-json' }]);
  });

  test('families sets the query order and what is asked', async () => {
    requests.length = 0;
    assert.deepEqual(addressesOf(await httpdns({ families: [6, 4] }).resolve('good.test')), ['::1', '127.0.0.1']);
    assert.deepEqual(addressesOf(await httpdns({ families: [6] }).resolve('good.test')), ['::1']);
  });

  test('a poisoned private answer is refused (SUSPICIOUS_ANSWER) and reported', async () => {
    const rejected: [string, string[]][] = [];
    const onReject = (host: string, addresses: string[]) => rejected.push([host, addresses]);
    await rejectsWith(httpdns({ onReject }).resolve('poisoned.test'), DnsErrorCode.SUSPICIOUS_ANSWER);
    await rejectsWith(httpdns({ onReject }).resolve('zero.test'), DnsErrorCode.SUSPICIOUS_ANSWER);
    assert.deepEqual(rejected, [
      ['poisoned.test', ['10.10.34.35']],
      ['zero.test', ['0.0.0.0', '::']],
    ]);
  });

  test('loopback is refused unless allowed; rejectPrivate: false keeps everything well-formed', async () => {
    await rejectsWith(httpdns({ allowLoopback: false }).resolve('good.test'), DnsErrorCode.SUSPICIOUS_ANSWER);
    assert.deepEqual(addressesOf(await httpdns({ rejectPrivate: false }).resolve('poisoned.test')), ['10.10.34.35']);
  });

  test('keeps the plausible addresses of a mixed answer, drops malformed and wrong-family data', async () => {
    const rejected: string[] = [];
    const answer = await httpdns({ onReject: (_, a) => rejected.push(...a) }).resolve('mixed.test');
    assert.deepEqual(addressesOf(answer), ['93.184.216.34']);
    assert.deepEqual(rejected, ['192.168.1.1', 'not-an-ip', '1.2.3.4']);
  });

  test('NXDOMAIN is an empty answer; SERVFAIL, HTTP errors and bad JSON are failures', async () => {
    assert.deepEqual(await httpdns().resolve('nxdomain.test'), []);
    const servfail = await rejectsWith(httpdns().resolve('servfail.test'), DnsErrorCode.LOOKUP_FAILED);
    assert.match(servfail.message, /SERVFAIL/);
    const http = await rejectsWith(httpdns().resolve('http500.test'), DnsErrorCode.LOOKUP_FAILED);
    assert.match(http.message, /HTTP 500/);
    await rejectsWith(httpdns().resolve('badjson.test'), DnsErrorCode.BAD_RESPONSE);
  });

  test('one family failing is fine when the other answers', async () => {
    assert.deepEqual(addressesOf(await httpdns().resolve('v4only.test')), ['127.0.0.1']);
  });

  test('a slow endpoint times out (TIMEOUT) after timeoutMs', async () => {
    const started = Date.now();
    await rejectsWith(httpdns({ timeoutMs: 150 }).resolve('slow.test'), DnsErrorCode.TIMEOUT);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 140 && elapsed < 1000, `took ${elapsed} ms`);
  });

  test("the caller's abort rejects with the caller's reason", async () => {
    const controller = new AbortController();
    const reason = new Error('app went to background');
    setTimeout(() => {
      controller.abort(reason);
    }, 50);
    await assert.rejects(httpdns().resolve('slow.test', controller.signal), (err) => err === reason);
  });

  test('an unreachable endpoint is LOOKUP_FAILED', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) =>
      closed.close(() => {
        resolve();
      }),
    );
    await rejectsWith(
      httpdns({ url: `http://127.0.0.1:${port}/resolve?name={name}&type={type}` }).resolve('good.test'),
      DnsErrorCode.LOOKUP_FAILED,
    );
  });

  test('IP literals bypass the lookup', async () => {
    requests.length = 0;
    const answer = await httpdns().resolve('[2001:db8::1]');
    assert.deepEqual(answer, [
      { address: '2001:db8::1', family: 6, source: 'literal', expiresAt: Number.POSITIVE_INFINITY },
    ]);
    assert.equal(requests.length, 0);
  });
});

describe('StaticResolver', () => {
  test('answers the fixed list in order, with its TTL; unknown hosts get nothing', async () => {
    const list = new StaticResolver(
      { 'Chat.Example.com': ['10.0.0.1', '2001:DB8::5'] },
      { ttlSeconds: 30, now: () => NOW },
    );
    assert.deepEqual(await list.resolve('chat.example.com.'), [
      { address: '10.0.0.1', family: 4, source: 'static', expiresAt: NOW + 30_000 },
      { address: '2001:db8::5', family: 6, source: 'static', expiresAt: NOW + 30_000 },
    ]);
    assert.deepEqual(await list.resolve('other.example.com'), []);
    list.set('chat.example.com', ['192.0.2.7']);
    assert.deepEqual(list.get('chat.example.com'), ['192.0.2.7']);
    list.set('chat.example.com', []);
    assert.deepEqual(await list.resolve('chat.example.com'), []);
    assert.throws(() => {
      list.set('x', ['not-an-ip']);
    }, TypeError);
  });
});

/** A fake getaddrinfo answering from a table (or failing with an errno code). */
function fakeLookup(table: Record<string, string[] | string>): LookupAll {
  return (host) => {
    const entry = table[host];
    if (entry === undefined || typeof entry === 'string') {
      const err = Object.assign(new Error(`getaddrinfo ${entry ?? 'ENOTFOUND'} ${host}`), {
        code: entry ?? 'ENOTFOUND',
      });
      return Promise.reject(err);
    }
    return Promise.resolve(entry.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
  };
}

describe('SystemResolver', () => {
  test('resolves localhost through the real getaddrinfo', async () => {
    const answer = await new SystemResolver().resolve('localhost');
    assert.ok(answer.length > 0);
    for (const a of answer) {
      assert.equal(a.source, 'system');
      assert.ok(a.address === '127.0.0.1' || a.address === '::1', a.address);
    }
  });

  test('unknown names are empty, other errors LOOKUP_FAILED, a hung lookup TIMEOUT', async () => {
    const system = new SystemResolver({
      lookup: fakeLookup({ 'chat.test': ['198.51.100.9', '2001:DB8::9'], 'broken.test': 'ESERVFAIL' }),
      ttlSeconds: 10,
      now: () => NOW,
    });
    assert.deepEqual(await system.resolve('chat.test'), [
      { address: '198.51.100.9', family: 4, source: 'system', expiresAt: NOW + 10_000 },
      { address: '2001:db8::9', family: 6, source: 'system', expiresAt: NOW + 10_000 },
    ]);
    assert.deepEqual(await system.resolve('missing.test'), []);
    await rejectsWith(system.resolve('broken.test'), DnsErrorCode.LOOKUP_FAILED);
    const hung = new SystemResolver({ lookup: () => new Promise(() => undefined), timeoutMs: 50 });
    await rejectsWith(hung.resolve('chat.test'), DnsErrorCode.TIMEOUT);
  });
});

/** A resolver that counts its calls and answers what it is told. */
function scripted(answer: () => Promise<ResolvedAddress[]>): Resolver & { calls: number } {
  const r = {
    calls: 0,
    resolve() {
      r.calls++;
      return answer();
    },
  };
  return r;
}

describe('ChainResolver', () => {
  test('HTTPDNS poisoned with a private address falls back to the static IP list', async () => {
    const system = new SystemResolver({ lookup: fakeLookup({}) });
    const list = new StaticResolver({ 'poisoned.test': ['127.0.0.1'] });
    const chain = new ChainResolver([httpdns(), system, list]);
    const answer = await chain.resolve('poisoned.test');
    assert.deepEqual(
      answer.map((a) => [a.address, a.source]),
      [['127.0.0.1', 'static']],
    );
  });

  test('moves on after errors, empty answers and slow resolvers', async () => {
    const slow = scripted(() => new Promise(() => undefined));
    const chain = new ChainResolver(
      [
        httpdns(),
        slow,
        new SystemResolver({ lookup: fakeLookup({}) }),
        new StaticResolver({ 'servfail.test': ['192.0.2.1'] }),
      ],
      { stepTimeoutMs: 100 },
    );
    const started = Date.now();
    assert.deepEqual(addressesOf(await chain.resolve('servfail.test')), ['192.0.2.1']);
    assert.ok(Date.now() - started < 1000);
    assert.equal(slow.calls, 1);
  });

  test('stops at the first answer', async () => {
    const second = scripted(() => Promise.resolve([]));
    const chain = new ChainResolver([httpdns(), second]);
    assert.deepEqual(addressesOf(await chain.resolve('good.test')), ['127.0.0.1', '::1']);
    assert.equal(second.calls, 0);
  });

  test('all failing: LOOKUP_FAILED with every error; all empty: NOT_FOUND', async () => {
    const chain = new ChainResolver([
      httpdns(),
      new SystemResolver({ lookup: fakeLookup({ 'http500.test': 'EAI_AGAIN' }) }),
    ]);
    const err = await rejectsWith(chain.resolve('http500.test'), DnsErrorCode.LOOKUP_FAILED);
    assert.ok(err.cause instanceof AggregateError);
    assert.equal(err.cause.errors.length, 2);
    assert.match(err.message, /HTTP 500.*EAI_AGAIN/);
    const empty = new ChainResolver([httpdns(), new StaticResolver()]);
    await rejectsWith(empty.resolve('nxdomain.test'), DnsErrorCode.NOT_FOUND);
  });

  test('system and HTTPDNS disagreeing entirely is flagged and HTTPDNS wins, whatever the order', async () => {
    const mismatches: [string, string[], string[]][] = [];
    const system = new SystemResolver({ lookup: fakeLookup({ 'good.test': ['198.51.100.66'] }) });
    const doh = httpdns();
    const chain = new ChainResolver([system, doh, new StaticResolver()], {
      crossCheck: { system, httpdns: doh },
      onMismatch: (host, sys, http) => mismatches.push([host, addressesOf(sys), addressesOf(http)]),
    });
    const answer = await chain.resolve('good.test');
    assert.deepEqual(
      answer.map((a) => [a.address, a.source]),
      [
        ['127.0.0.1', 'httpdns'],
        ['::1', 'httpdns'],
      ],
    );
    assert.deepEqual(mismatches, [['good.test', ['198.51.100.66'], ['127.0.0.1', '::1']]]);
  });

  test('an overlap, or answers in different families, is no mismatch; the chain order holds', async () => {
    const mismatches: string[] = [];
    const onMismatch = (host: string) => mismatches.push(host);
    const doh = httpdns();
    const overlap = new SystemResolver({ lookup: fakeLookup({ 'good.test': ['::1', '127.0.0.1', '127.0.0.2'] }) });
    const chain = new ChainResolver([overlap, doh], { crossCheck: { system: overlap, httpdns: doh }, onMismatch });
    assert.deepEqual(
      (await chain.resolve('good.test')).map((a) => a.source),
      ['system', 'system', 'system'],
    );
    const v6only = new SystemResolver({ lookup: fakeLookup({ 'good.test': ['::2'] }) });
    const doh4 = httpdns({ families: [4] });
    const chain2 = new ChainResolver([v6only, doh4], { crossCheck: { system: v6only, httpdns: doh4 }, onMismatch });
    assert.deepEqual(addressesOf(await chain2.resolve('good.test')), ['::2']);
    assert.deepEqual(mismatches, []);
  });

  test('a failed HTTPDNS lookup is no mismatch: the system answer is used', async () => {
    const mismatches: string[] = [];
    const system = new SystemResolver({ lookup: fakeLookup({ 'servfail.test': ['198.51.100.1'] }) });
    const doh = httpdns();
    const chain = new ChainResolver([doh, system], {
      crossCheck: { system, httpdns: doh },
      onMismatch: (h) => mismatches.push(h),
    });
    assert.deepEqual(addressesOf(await chain.resolve('servfail.test')), ['198.51.100.1']);
    assert.deepEqual(mismatches, []);
  });

  test('orders answers by the scores the connector reports', async () => {
    const list = new StaticResolver({ 'chat.test': ['192.0.2.1', '192.0.2.2', '192.0.2.3'] });
    const chain = new ChainResolver([list]);
    chain.report('192.0.2.1', false);
    chain.report('192.0.2.3', true);
    assert.deepEqual(addressesOf(await chain.resolve('chat.test')), ['192.0.2.3', '192.0.2.2', '192.0.2.1']);
    for (let i = 0; i < 20; i++) chain.report('192.0.2.1', true); // capped at +5
    assert.equal(chain.scores.score('192.0.2.1'), 5);
    chain.scores.clear();
    assert.deepEqual(addressesOf(await chain.resolve('chat.test')), ['192.0.2.1', '192.0.2.2', '192.0.2.3']);
  });

  test('refuses crossCheck resolvers that are not in the chain', () => {
    const system = new SystemResolver();
    assert.throws(() => new ChainResolver([httpdns()], { crossCheck: { system, httpdns: httpdns() } }), TypeError);
  });
});

describe('signal helpers without AbortSignal.any and AbortSignal.timeout (older Safari)', () => {
  test('timeoutSignal and eitherSignal fall back to plain AbortControllers', async () => {
    const statics = AbortSignal as unknown as Record<'any' | 'timeout', unknown>;
    const saved = { any: statics.any, timeout: statics.timeout };
    statics.any = undefined;
    statics.timeout = undefined;
    try {
      const timeout = timeoutSignal(20);
      const caller = new AbortController();
      const either = eitherSignal(caller.signal, timeout);
      await new Promise((resolve) => setTimeout(resolve, 40));
      assert.equal(either.aborted, true);
      assert.equal(either.reason, timeout.reason);
      assert.equal((timeout.reason as Error).name, 'TimeoutError');
      const other = new AbortController();
      const reason = new Error('caller');
      const first = eitherSignal(other.signal, timeoutSignal(100));
      other.abort(reason);
      assert.equal(first.reason, reason);
      // The resolvers work on top of them.
      await rejectsWith(httpdns({ timeoutMs: 50 }).resolve('slow.test'), DnsErrorCode.TIMEOUT);
    } finally {
      statics.any = saved.any;
      statics.timeout = saved.timeout;
    }
  });
});
