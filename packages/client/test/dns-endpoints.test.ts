import assert from 'node:assert/strict';
import { type Server, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  type BoundEndpoints,
  buildEndpoints,
  configuredEndpoints,
  endpointsRoute,
} from '../../server/src/http/endpoints-route.js';
import { DnsError, DnsErrorCode } from '../src/dns/dns-errors.js';
import {
  endpointAddresses,
  fetchServerEndpoints,
  parseServerEndpoints,
  splitHostPort,
} from '../src/dns/server-endpoints.js';
import { StaticResolver } from '../src/dns/static-resolver.js';

// The server's GET /v1/endpoints route, served by a bare node:http server (the route only
// reads the Host header from its context), and the client side that reads it.
let bound: BoundEndpoints = {};
let http: Server;
let base: string;

before(async () => {
  const route = endpointsRoute(() => bound, { ttlSeconds: 120 });
  http = createServer((req, res) => {
    if (req.url === '/fail') {
      res.writeHead(500).end();
      return;
    }
    const c = { req: { header: (name: string) => req.headers[name.toLowerCase()] as string | undefined } };
    void (async () => {
      const reply = await route.handle({ c: c as never, params: {}, body: undefined, query: undefined });
      assert.ok(reply instanceof Response);
      res.writeHead(reply.status, Object.fromEntries(reply.headers));
      res.end(await reply.text());
    })();
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
});

after(async () => {
  http.closeAllConnections();
  await new Promise<void>((resolve) =>
    http.close(() => {
      resolve();
    }),
  );
});

describe('server: endpoints-route', () => {
  test('lists the bound addresses; a wildcard bind is listed under the request host', () => {
    const list = buildEndpoints(
      {
        tcp: { address: '203.0.113.5', port: 7100 },
        tls: { address: '2001:db8::5', port: 7101 },
        http: { address: '0.0.0.0', port: 7180 },
      },
      { requestHost: 'chat.example.com' },
    );
    assert.deepEqual(list, {
      tcp: ['203.0.113.5:7100'],
      tls: ['[2001:db8::5]:7101'],
      ws: ['ws://chat.example.com:7180/ws'],
      ttlSeconds: 300,
    });
    // Without a request host a wildcard has no address to give.
    assert.deepEqual(buildEndpoints({ tcp: { address: '::', port: 7100 }, wsPath: '/socket' }).tcp, []);
  });

  test('configuredEndpoints leaves out gateways that are off or on port 0', () => {
    const config = { host: '198.51.100.2', tcp: true, tls: false, tcpPort: 7100, tlsPort: 7101, httpPort: 0 };
    assert.deepEqual(buildEndpoints(configuredEndpoints(config)), {
      tcp: ['198.51.100.2:7100'],
      tls: [],
      ws: [],
      ttlSeconds: 300,
    });
  });

  test('GET /v1/endpoints answers JSON with a cache lifetime, varying by host', async () => {
    bound = { tcp: { address: '0.0.0.0', port: 7100 }, http: { address: '127.0.0.1', port: 7180 } };
    // fetch() will not send a Host header of our choosing; node:http will.
    const response = await new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
      (resolve, reject) => {
        const req = request(`${base}/v1/endpoints`, { headers: { host: 'Chat.Example.com:7180' } }, (res) => {
          let body = '';
          res.on('data', (chunk) => (body += String(chunk)));
          res.on('end', () => {
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
          });
        });
        req.on('error', reject);
        req.end();
      },
    );
    assert.equal(response.status, 200);
    assert.equal(response.headers['cache-control'], 'max-age=120');
    assert.equal(response.headers.vary, 'host');
    assert.deepEqual(JSON.parse(response.body), {
      tcp: ['chat.example.com:7100'],
      tls: [],
      ws: ['ws://127.0.0.1:7180/ws'],
      ttlSeconds: 120,
    });
  });
});

describe('client: server endpoints', () => {
  test('fetches the list and turns its IPs into the static fallback list', async () => {
    bound = {
      tcp: { address: '127.0.0.1', port: 7100 },
      tls: { address: '::1', port: 7101 },
      http: { address: '127.0.0.1', port: 7180 },
    };
    const endpoints = await fetchServerEndpoints(`${base}/v1/endpoints`);
    assert.deepEqual(endpoints, {
      tcp: ['127.0.0.1:7100'],
      tls: ['[::1]:7101'],
      ws: ['ws://127.0.0.1:7180/ws'],
      ttlSeconds: 120,
    });
    const ips = endpointAddresses(endpoints);
    assert.deepEqual(ips, ['127.0.0.1', '::1']);
    const list = new StaticResolver();
    list.set('chat.example.com', ips);
    assert.deepEqual(
      (await list.resolve('chat.example.com')).map((a) => [a.address, a.family]),
      [
        ['127.0.0.1', 4],
        ['::1', 6],
      ],
    );
  });

  test('an HTTP error or a malformed body is a DnsError', async () => {
    await assert.rejects(fetchServerEndpoints(`${base}/fail`), (err) => {
      assert.ok(err instanceof DnsError);
      assert.equal(err.dnsCode, DnsErrorCode.LOOKUP_FAILED);
      return true;
    });
    for (const body of [null, [], { tcp: 'x', ttlSeconds: 1 }, { tcp: [1], ttlSeconds: 1 }, { tcp: [] }]) {
      assert.throws(
        () => parseServerEndpoints(body),
        (err) => err instanceof DnsError && err.dnsCode === DnsErrorCode.BAD_RESPONSE,
        JSON.stringify(body),
      );
    }
    assert.deepEqual(parseServerEndpoints({ ttlSeconds: 5 }), { tcp: [], tls: [], ws: [], ttlSeconds: 5 });
  });

  test('splitHostPort', () => {
    assert.deepEqual(splitHostPort('chat.example.com:7100'), { host: 'chat.example.com', port: 7100 });
    assert.deepEqual(splitHostPort('[2001:db8::1]:443'), { host: '2001:db8::1', port: 443 });
    assert.equal(splitHostPort('2001:db8::1:443'), undefined);
    assert.equal(splitHostPort('host:0'), undefined);
    assert.equal(splitHostPort('host:70000'), undefined);
    assert.equal(splitHostPort('host'), undefined);
  });
});
