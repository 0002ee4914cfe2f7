// Transports given a resolver: a host name resolved by HTTPDNS with the static IP list as
// fallback, addresses raced, TLS checked against the name. End to end through ParleyClient.
import assert from 'node:assert/strict';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { pb } from '@parley/protocol';
import { FixedHeartbeat, ParleyClient, type Transport } from '../src/index.js';
import {
  CachingResolver,
  ChainResolver,
  HttpDnsResolver,
  StaticResolver,
  tcpTransport,
  tlsTransport,
} from '../src/node.js';
import { FAST_BACKOFF, Harness, type Kind, waitFor } from './connection-harness.js';
import { UNLIMITED, waitForStates } from './client-helpers.js';

let h: Harness;
let httpdns: Server;
let httpdnsUrl: string;
const queries: string[] = [];

before(async () => {
  h = await Harness.start({ limits: UNLIMITED });
  // A poisoned-looking HTTPDNS: every A query answers a private address, AAAA answers nothing.
  httpdns = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const name = url.searchParams.get('name') ?? '';
    const type = url.searchParams.get('type') ?? '';
    queries.push(`${name}/${type}`);
    const answer = type === 'A' ? [{ name, type: 1, TTL: 300, data: '10.66.66.66' }] : [];
    res.setHeader('content-type', 'application/dns-json');
    res.end(JSON.stringify({ Status: 0, Answer: answer }));
  });
  await new Promise<void>((resolve) => httpdns.listen(0, '127.0.0.1', resolve));
  httpdnsUrl = `http://127.0.0.1:${String((httpdns.address() as AddressInfo).port)}/resolve`;
});

after(async () => {
  await h.close();
  await new Promise<void>((resolve) =>
    httpdns.close(() => {
      resolve();
    }),
  );
});

function resolverChain(host: string): { resolver: CachingResolver; chain: ChainResolver; rejected: string[] } {
  const rejected: string[] = [];
  const chain = new ChainResolver([
    new HttpDnsResolver({ url: httpdnsUrl, onReject: (_host, addresses) => rejected.push(...addresses) }),
    // The first address refuses (nothing listens there); the race moves on to the next.
    new StaticResolver({ [host]: ['127.0.0.2', '127.0.0.1'] }),
  ]);
  return { resolver: new CachingResolver(chain), chain, rejected };
}

function transportFor(kind: Exclude<Kind, 'ws'>, host: string, chain: ReturnType<typeof resolverChain>): Transport {
  const common = { host, port: h.port(kind), resolver: chain.resolver, reporter: chain.chain, attemptDelayMs: 50 };
  return kind === 'tcp' ? tcpTransport(common) : tlsTransport({ ...common, ca: h.ts.caCertificate() });
}

describe('transports with a resolver chain', () => {
  for (const kind of ['tcp', 'tls'] as const) {
    test(`${kind}: poisoned HTTPDNS falls back to the IP list, and ParleyClient sends and receives`, async () => {
      // The development certificate is for "localhost": TLS checks the name, not the IP dialled.
      const chain = resolverChain('localhost');
      const clients = ['alice', 'bob'].map(
        (user) =>
          new ParleyClient({
            token: () => h.token(`${user}-dns-${kind}`),
            deviceId: `dev-${user}-dns-${kind}`,
            platform: pb.Platform.DESKTOP,
            heartbeat: new FixedHeartbeat({ intervalMs: 10_000, pingTimeoutMs: 1_000 }),
            connection: { backoff: FAST_BACKOFF, watchOnline: false },
            transport: transportFor(kind, 'localhost', chain),
          }),
      );
      const [alice, bob] = clients as [ParleyClient, ParleyClient];
      try {
        await Promise.all(clients.map(async (c) => c.connect().then(() => c.ready())));
        const received: string[] = [];
        bob.on('message', (m) => received.push(m.content.text ?? ''));
        const conv = (await alice.createConversation({ type: 'direct', members: [`bob-dns-${kind}`] })).id;
        const sent = ['one', 'two', 'three'].map((t) => alice.send(conv, t));
        await waitForStates(alice, sent, ['sent', 'delivered', 'read']);
        await waitFor(() => received.length >= 3, 10_000);
        assert.deepEqual(received, ['one', 'two', 'three']);
        assert.ok(queries.includes('localhost/A'), 'HTTPDNS was asked first');
        assert.ok(chain.rejected.includes('10.66.66.66'), 'the private answer was dropped as suspicious');
        assert.ok(
          chain.chain.scores.score('127.0.0.2') < chain.chain.scores.score('127.0.0.1'),
          'the dead IP ranks lower',
        );
      } finally {
        await Promise.all(clients.map((c) => c.close()));
      }
    });
  }

  test('tls: connected by IP, the certificate is still checked against the name', async () => {
    const chain = resolverChain('wrong.example');
    const transport = tlsTransport({
      host: 'wrong.example',
      port: h.port('tls'),
      resolver: chain.resolver,
      ca: h.ts.caCertificate(),
      attemptDelayMs: 50,
    });
    await assert.rejects(
      transport.connect({ onFrame: () => undefined, onClose: () => undefined }, new AbortController().signal),
      (err: Error) =>
        err.name === 'ConnectRaceError' && /ERR_TLS_CERT_ALTNAME_INVALID.*wrong\.example/.test(err.message),
    );
  });

  test('an unknown name fails with a DNS error, not a hang', async () => {
    const chain = resolverChain('known.example');
    const transport = tcpTransport({ host: 'unknown.example', port: h.port('tcp'), resolver: chain.resolver });
    await assert.rejects(
      transport.connect({ onFrame: () => undefined, onClose: () => undefined }, new AbortController().signal),
      (err: Error) => err.name === 'DnsError' || err.message.includes('unknown.example'),
    );
  });
});
