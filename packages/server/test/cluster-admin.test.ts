// The admin API in cluster mode: kicks, session lists, stats and the node list reach every
// node over Redis. Nodes run in this process (one SQLite store, a RedisBus each, a key prefix
// of this run's own); the silent node is a child process stopped with SIGSTOP; the Redis-down
// case uses a private redis-server that the test kills.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ErrorCode, pb } from '@parley/protocol';
import { Redis } from 'ioredis';
import { type Envelope, EnvelopeError, decodeEnvelope, encodeEnvelope } from '../src/bus/redis/envelope.js';
import {
  NodeChild,
  OwnRedis,
  SharedStore,
  counter,
  eventually,
  inProcessCluster,
  startNode,
  uniquePrefix,
} from './helpers/cluster.js';
import type { TestServer } from './helpers/server.js';
import { REDIS, requireService } from './helpers/services.js';
import { TestClient } from './helpers/test-client.js';

const REDIS_URL = `redis://${REDIS.host}:${String(REDIS.port)}`;
const skip = await requireService(REDIS);

interface MissingJson {
  nodeId: string;
  startedAt: number;
  lastSeen: number;
}
interface ClusterStatusJson {
  complete: boolean;
  unavailable: boolean;
  error?: { code: string; status: number };
  missing: MissingJson[];
}
interface KickJson {
  kicked: number;
  cluster: ClusterStatusJson & { nodes: { nodeId: string; kicked: number }[] };
}
interface NodeStatsJson {
  nodeId: string;
  startedAt: number;
  connections: number;
  connectionsByTransport: Record<string, number>;
  sessions: number;
}
interface StatsJson extends NodeStatsJson {
  cluster: ClusterStatusJson & {
    connections: number;
    connectionsByTransport: Record<string, number>;
    sessions: number;
    nodes: NodeStatsJson[];
  };
}
interface NodesJson extends ClusterStatusJson {
  nodes: (Partial<NodeStatsJson> & { nodeId: string; answered: boolean; lastSeen: number; startedAt: number })[];
}
interface SessionsJson {
  sessions: { nodeId: string; sessionId: string; deviceId: string; transport: string }[];
  cluster: ClusterStatusJson;
}

/** Calls a node's admin API; the body parsed as the test expects it (the assertions check it). */
async function api<T>(node: TestServer, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`http://127.0.0.1:${String(node.port('ws'))}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${node.server.adminKey.value}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `${method} ${path}: ${text}`);
  return JSON.parse(text) as T;
}

const sessionsOf = (node: TestServer, userId: string) => api<SessionsJson>(node, 'GET', `/v1/users/${userId}/sessions`);

describe('cluster admin: three nodes', { skip, timeout: 120_000 }, () => {
  const cluster = inProcessCluster(REDIS_URL);
  const { prefix, clients, node, login } = cluster;
  const asks = () => cluster.publishes('ask');
  before(cluster.start);
  after(cluster.stop);

  test('a kick on node A ends a device’s session on node B; the answer counts it there', async () => {
    const laptop = await login(0, 'kx', 'laptop');
    const phone = await login(1, 'kx', 'phone', 'ws');
    const tablet = await login(2, 'kx', 'tablet');
    // Presence is written to Redis just after login: wait until node A sees all three.
    await eventually('the devices to be known cluster-wide', async () => {
      return (await sessionsOf(node(0), 'kx')).sessions.length === 3;
    });
    const listed = await sessionsOf(node(0), 'kx');
    assert.deepEqual(listed.sessions.map((s) => `${s.nodeId}/${s.deviceId}/${s.transport}`).sort(), [
      'n0/laptop/tcp',
      'n1/phone/ws',
      'n2/tablet/tcp',
    ]);
    assert.equal(listed.cluster.complete, true);

    const asksBefore = await asks();
    const one = await api<KickJson>(node(0), 'POST', '/v1/users/kx/kick', { deviceId: 'phone', reason: 'lost phone' });
    assert.equal(one.kicked, 1);
    assert.deepEqual(one.cluster.nodes, [
      { nodeId: 'n0', kicked: 0 },
      { nodeId: 'n1', kicked: 1 },
    ]);
    assert.equal(one.cluster.complete, true);
    assert.deepEqual(one.cluster.missing, []);
    // Only the node holding the device was asked.
    assert.equal((await asks()) - asksBefore, 1);
    const { kick } = await phone.closed;
    assert.equal(kick?.reason, ErrorCode.KICKED_BY_ADMIN);
    assert.equal(kick.message, 'lost phone');

    // One session by its id, through a third node.
    const tabletSession = listed.sessions.find((s) => s.deviceId === 'tablet');
    const bySession = await api<KickJson>(node(1), 'POST', '/v1/users/kx/kick', {
      sessionId: tabletSession?.sessionId,
    });
    assert.equal(bySession.kicked, 1);
    assert.equal((await tablet.closed).kick?.reason, ErrorCode.KICKED_BY_ADMIN);

    const rest = await api<KickJson>(node(2), 'POST', '/v1/users/kx/kick');
    assert.equal(rest.kicked, 1);
    assert.equal((await laptop.closed).kick?.reason, ErrorCode.KICKED_BY_ADMIN);
    await eventually('the sessions to be gone everywhere', async () => {
      return (await sessionsOf(node(1), 'kx')).sessions.length === 0;
    });
  });

  test('stats on node A count the connections on B and C, per node and per transport', async () => {
    const stats = () => api<StatsJson>(node(0), 'GET', '/v1/stats');
    const start = await stats();
    assert.equal(start.nodeId, 'n0');
    assert.deepEqual(
      start.cluster.nodes.map((n) => n.nodeId),
      ['n0', 'n1', 'n2'],
    );

    await login(1, 'st1', 'd', 'ws');
    await login(1, 'st2', 'd', 'ws');
    await login(2, 'st3', 'd', 'tcp');
    clients.push(await node(2).connect('tcp')); // not logged in: a connection, not a session
    const end = await stats();
    assert.equal(end.cluster.complete, true);
    assert.equal(end.cluster.connections - start.cluster.connections, 4);
    assert.equal(end.cluster.sessions - start.cluster.sessions, 3);
    const byT = (s: StatsJson, t: string) => s.cluster.connectionsByTransport[t] ?? 0;
    assert.equal(byT(end, 'ws') - byT(start, 'ws'), 2);
    assert.equal(byT(end, 'tcp') - byT(start, 'tcp'), 2);
    // Each node's share is what that node says of itself; the totals are their sum.
    for (const [i, share] of end.cluster.nodes.entries()) {
      const own = await api<StatsJson>(node(i), 'GET', '/v1/stats');
      assert.equal(share.connections, own.connections, `node ${share.nodeId}`);
      assert.deepEqual(share.connectionsByTransport, own.connectionsByTransport);
    }
    assert.equal(
      end.cluster.connections,
      end.cluster.nodes.reduce((sum, n) => sum + n.connections, 0),
    );

    const list = await api<NodesJson>(node(2), 'GET', '/v1/nodes');
    assert.equal(list.complete, true);
    assert.deepEqual(
      list.nodes.map((n) => [n.nodeId, n.answered]),
      [
        ['n2', true],
        ['n0', true],
        ['n1', true],
      ],
    );
    for (const n of list.nodes) {
      assert.ok(n.startedAt > 0 && n.lastSeen >= n.startedAt);
      assert.equal(typeof n.connections, 'number');
    }
  });

  test('a peer’s malformed answer is not counted: the node is listed as missing', async () => {
    // A fake node: alive in Redis, answers every ask with nonsense.
    const redis = new Redis(REDIS_URL);
    const sub = new Redis(REDIS_URL);
    try {
      await redis.zadd(`${prefix}:nodes`, Date.now() + 60_000, 'liar');
      await sub.subscribe(`${prefix}:n:liar`);
      sub.on('messageBuffer', (_channel: Buffer, message: Buffer) => {
        const e = decodeEnvelope(message);
        if (e.kind !== 'ask') return;
        void redis.publish(
          `${prefix}:n:${e.from}`,
          encodeEnvelope({ kind: 'answer', from: 'liar', id: e.id, value: { connections: -5 } }),
        );
      });
      const stats = await api<StatsJson>(node(0), 'GET', '/v1/stats?timeoutMs=5000');
      assert.equal(stats.cluster.complete, false);
      assert.deepEqual(
        stats.cluster.missing.map((m) => m.nodeId),
        ['liar'],
      );
      assert.equal(stats.cluster.nodes.length, 3);
    } finally {
      await redis.zrem(`${prefix}:nodes`, 'liar');
      redis.disconnect();
      sub.disconnect();
    }
  });
});

describe('cluster admin: a node that stops answering', { skip, timeout: 120_000 }, () => {
  const cluster = inProcessCluster(REDIS_URL, { nodeIds: ['live'] });
  const { prefix, shared, clients } = cluster;
  let stuck: NodeChild | undefined;
  before(cluster.start);
  after(async () => {
    await stuck?.kill();
    await cluster.stop();
  });

  test('kick, stats and the node list answer within their timeout and name the silent node', async () => {
    const live = cluster.node(0);
    stuck = await NodeChild.start(shared, { redisUrl: REDIS_URL, prefix, nodeId: 'stuck', presenceTtlMs: 60_000 });
    const proc = stuck.child;
    const far = await TestClient.connect({ transport: 'tcp', host: '127.0.0.1', port: stuck.tcpPort });
    clients.push(far);
    await far.login(await live.token('sam'), { platform: pb.Platform.IOS, deviceId: 'far' });
    const near = await live.login('sam', 'tcp', { deviceId: 'near' });
    clients.push(near);
    await eventually('both devices to be known', async () => {
      return (await sessionsOf(live, 'sam')).sessions.length === 2;
    });

    proc.kill('SIGSTOP');
    const kick = await api<KickJson>(live, 'POST', '/v1/users/sam/kick?timeoutMs=300');
    assert.equal(kick.kicked, 1, 'this node’s session was kicked');
    assert.equal((await near.closed).kick?.reason, ErrorCode.KICKED_BY_ADMIN);
    assert.equal(kick.cluster.complete, false);
    assert.equal(kick.cluster.unavailable, false);
    assert.deepEqual(
      kick.cluster.missing.map((m) => m.nodeId),
      ['stuck'],
    );
    const [missing] = kick.cluster.missing;
    assert.ok((missing?.startedAt ?? 0) > 0 && (missing?.lastSeen ?? 0) >= (missing?.startedAt ?? 0));

    const stats = await api<StatsJson>(live, 'GET', '/v1/stats?timeoutMs=300');
    assert.deepEqual(
      stats.cluster.missing.map((m) => m.nodeId),
      ['stuck'],
    );
    assert.deepEqual(
      stats.cluster.nodes.map((n) => n.nodeId),
      ['live'],
    );
    const list = await api<NodesJson>(live, 'GET', '/v1/nodes?timeoutMs=300');
    assert.deepEqual(
      list.nodes.map((n) => [n.nodeId, n.answered, n.connections]),
      [
        ['live', true, stats.connections],
        ['stuck', false, undefined],
      ],
    );

    // Woken up, the node works through the kick it was asked for.
    proc.kill('SIGCONT');
    assert.equal((await far.closed).kick?.reason, ErrorCode.KICKED_BY_ADMIN);
  });
});

describe('cluster admin: Redis down', { skip, timeout: 120_000 }, () => {
  const prefix = uniquePrefix();
  const shared = new SharedStore();
  let redis: OwnRedis;
  const nodes: TestServer[] = [];
  const clients: TestClient[] = [];

  before(async () => {
    redis = await OwnRedis.start();
    for (let i = 0; i < 2; i++) {
      nodes.push(await startNode(shared, { redisUrl: redis.url, prefix, nodeId: `d${String(i)}` }));
    }
  });
  after(async () => {
    for (const c of clients) c.destroy();
    for (const n of nodes) await n.stop();
    await shared.close();
    await redis.stop();
  });

  test('the admin call acts and answers locally and says the cluster part is unavailable', async () => {
    const [a, b] = nodes as [TestServer, TestServer];
    const here = await a.login('rd', 'tcp', { deviceId: 'here' });
    const there = await b.login('rd', 'tcp', { deviceId: 'there' });
    clients.push(here, there);
    await eventually('both devices to be known', async () => (await sessionsOf(a, 'rd')).sessions.length === 2);

    await redis.kill();
    await eventually('node A to notice', async () => (await counter(a, 'parley_redis_up')) === 0);

    const kick = await api<KickJson>(a, 'POST', '/v1/users/rd/kick');
    assert.equal(kick.kicked, 1);
    assert.equal(kick.cluster.unavailable, true);
    assert.equal(kick.cluster.complete, false);
    assert.equal(kick.cluster.error?.code, 'UNAVAILABLE');
    assert.equal(kick.cluster.error.status, ErrorCode.UNAVAILABLE);
    assert.deepEqual(kick.cluster.nodes, [{ nodeId: 'd0', kicked: 1 }]);
    assert.equal((await here.closed).kick?.reason, ErrorCode.KICKED_BY_ADMIN);

    const stats = await api<StatsJson>(a, 'GET', '/v1/stats');
    assert.equal(stats.cluster.unavailable, true);
    assert.equal(stats.cluster.connections, stats.connections);
    assert.deepEqual(
      stats.cluster.nodes.map((n) => n.nodeId),
      ['d0'],
    );
    const list = await api<NodesJson>(a, 'GET', '/v1/nodes');
    assert.equal(list.unavailable, true);
    assert.deepEqual(
      list.nodes.map((n) => n.nodeId),
      ['d0'],
    );
    // Node B's device was out of reach and stays connected.
    assert.equal((await b.server.ctx.bus.userSessions('rd', 100)).answers[0]?.value.length, 1);
  });
});

describe('admin envelopes', () => {
  test('ask and answer round-trip; malformed asks are typed errors', () => {
    const cases: Envelope[] = [
      {
        kind: 'ask',
        from: 'n1',
        id: 'x',
        ask: { op: 'kick', target: { userId: 'u', deviceId: 'd' }, reason: ErrorCode.KICKED_BY_ADMIN, message: 'm' },
      },
      { kind: 'ask', from: 'n1', id: 'y', ask: { op: 'stats' } },
      { kind: 'ask', from: 'n1', id: 'z', ask: { op: 'sessions', userId: 'u' } },
      { kind: 'answer', from: 'n2', id: 'x', value: 3 },
    ];
    for (const e of cases) assert.deepEqual(decodeEnvelope(encodeEnvelope(e)), e);
    const header = (h: unknown) => {
      const json = Buffer.from(JSON.stringify(h));
      const out = Buffer.alloc(5 + json.length);
      out[0] = 4; // ask
      out.writeUInt32BE(json.length, 1);
      json.copy(out, 5);
      return out;
    };
    for (const bad of [
      { from: 'n', ask: { op: 'stats' } },
      { from: 'n', id: 'i', ask: { op: 'nuke' } },
      {
        from: 'n',
        id: 'i',
        ask: { op: 'kick', target: { userId: 1 }, reason: ErrorCode.KICKED_BY_ADMIN, message: '' },
      },
      { from: 'n', id: 'i', ask: { op: 'kick', target: { userId: 'u' }, reason: 999_999, message: '' } },
      { from: 'n', id: 'i', ask: { op: 'sessions' } },
      { from: 'n', id: 'i', ask: null },
    ]) {
      assert.throws(() => decodeEnvelope(header(bad)), EnvelopeError, JSON.stringify(bad));
    }
  });
});
