// SYNC_HINT after a Redis outage: two nodes in this process over a private redis-server that
// is killed and started again. A message sent from node 0 to users on node 1 while Redis is
// down is acked but not pushed; once Redis is back, node 1 tells its sessions to sync and
// the recipients get the message with no further traffic (no later push, no reconnect).
import assert from 'node:assert/strict';
import { type Server, type Socket, createConnection, createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command, pb } from '@parley/protocol';
import { RecordedClient } from './helpers/cluster-clients.js';
import { OwnRedis, SharedStore, counter, eventually, startNode, uniquePrefix } from './helpers/cluster.js';
import type { TestServer } from './helpers/server.js';
import { REDIS, requireService } from './helpers/services.js';

const skip = await requireService(REDIS);
const HINT_WINDOW_MS = 500;

describe('cluster: SYNC_HINT after a Redis outage', { skip, timeout: 60_000 }, () => {
  let redis: OwnRedis;
  let shared: SharedStore;
  const nodes: TestServer[] = [];
  const clients: RecordedClient[] = [];
  let proxy: RedisProxy;
  const ports = () => nodes.map((n) => n.port('tcp'));

  before(async () => {
    redis = await OwnRedis.start();
    shared = new SharedStore();
    const prefix = uniquePrefix();
    proxy = await RedisProxy.start(Number(new URL(redis.url).port));
    for (const nodeId of ['h0', 'h1', 'h2']) {
      const cluster = { keyPrefix: prefix, presenceTtlMs: 30_000, syncHintWindowMs: HINT_WINDOW_MS };
      // h2 reaches Redis through a proxy the test can cut: an outage of that node alone.
      const redisUrl = nodeId === 'h2' ? proxy.url : redis.url;
      nodes.push(await startNode(shared, { redisUrl, prefix, nodeId, overrides: { cluster } }));
    }
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    for (const n of nodes) await n.stop();
    await shared.close();
    await proxy.close();
    await redis.stop();
  });

  /** A ParleyClient logged in on node `home`, recording the SYNC_HINT pushes it gets. */
  const client = async (userId: string, home: number) => {
    const c = new RecordedClient(userId, ports, home, () => (nodes[0] as TestServer).token(userId));
    clients.push(c);
    const hints: pb.SyncHintReason[] = [];
    c.client.connection.on('push', (push) => {
      if (push.command === Command.SYNC_HINT) hints.push(push.body.reason);
    });
    await c.connect();
    assert.equal(c.transport.port, ports()[home], `${userId} is on node ${String(home)}`);
    return {
      c,
      hints,
      /** The texts of the conversation's messages the app saw, in order (system events left out). */
      texts: (conv: string) =>
        c.messages
          .filter((m) => m.message.conversationId === conv && m.message.content.text)
          .map((m) => m.message.content.text),
    };
  };
  const redisUp = async (n: TestServer) => (await counter(n, 'parley_redis_up')) === 1;

  test('a message missed in the outage reaches the other node’s devices with no further traffic', async () => {
    const alice = await client('hint-alice', 0);
    const bob = await client('hint-bob', 1);
    const conv = (
      await alice.c.client.createConversation({ type: 'group', members: ['hint-bob', 'hint-carol'], name: 'hint' })
    ).id;
    alice.c.send(conv, 'before');
    await eventually('bob to get the message pushed across nodes', () => bob.texts(conv).includes('before'), 10_000);

    await redis.kill();
    await eventually(
      'both nodes to see Redis down',
      async () => !(await redisUp(nodes[0] as TestServer)) && !(await redisUp(nodes[1] as TestServer)),
      10_000,
    );
    // Carol logs in during the outage (her node serves her), before the message is sent.
    const carol = await client('hint-carol', 1);
    await carol.c.client.sync.run(); // her login sync is over before the message is sent
    const during = alice.c.send(conv, 'during');
    await eventually('alice to get her ack', () => alice.c.allAcked(), 10_000);
    await sleep(300);
    assert.ok(!bob.texts(conv).includes('during'), 'acked, but not pushed across nodes while Redis is down');
    assert.ok(!carol.texts(conv).includes('during'), 'nor to a device that logged in during the outage');
    assert.deepEqual([...bob.hints, ...carol.hints], [], 'no hint before Redis is back');

    await redis.restart();
    // Nothing is sent from here on: only the hint can make them sync.
    for (const r of [bob, carol]) {
      await eventually(`${r.c.userId} to get the missed message`, () => r.texts(conv).includes('during'), 10_000);
      assert.deepEqual(r.hints, [pb.SyncHintReason.BUS_RECOVERED], 'one hint, BUS_RECOVERED');
      assert.deepEqual(r.texts(conv), ['before', 'during'], 'each once, in order');
    }
    assert.equal(alice.c.client.outbox.get(during.localId)?.seq, bob.c.messages.at(-1)?.message.seq);
    await sleep(HINT_WINDOW_MS + 200);
    assert.equal(bob.hints.length, 1, 'one hint per outage');
    assert.deepEqual([...alice.c.errors, ...bob.c.errors, ...carol.c.errors], []);
  });

  test('one node’s own outage: the other nodes hint their sessions when it is back', async () => {
    const dave = await client('hint-dave', 2); // on the node whose link to Redis is cut
    const erin = await client('hint-erin', 1);
    const conv = (await dave.c.client.createConversation({ type: 'direct', members: ['hint-erin'] })).id;
    dave.c.send(conv, 'before');
    await eventually('erin to get the message pushed across nodes', () => erin.texts(conv).includes('before'), 10_000);

    proxy.cut();
    const h2 = nodes[2] as TestServer;
    await eventually('node 2 to see Redis down', async () => !(await redisUp(h2)), 10_000);
    assert.ok(await redisUp(nodes[1] as TestServer), 'node 1 never lost Redis');
    dave.c.send(conv, 'during');
    await eventually('dave to get his ack', () => dave.c.allAcked(), 10_000);
    await sleep(300);
    assert.ok(!erin.texts(conv).includes('during'), 'acked, but node 2 could not route it');

    proxy.restore();
    // Node 1 had no outage of its own: only node 2's word makes it hint erin.
    await eventually('erin to get the missed message', () => erin.texts(conv).includes('during'), 10_000);
    assert.deepEqual(erin.texts(conv), ['before', 'during'], 'each once, in order');
    assert.ok(erin.hints.includes(pb.SyncHintReason.BUS_RECOVERED));
    assert.deepEqual([...dave.c.errors, ...erin.c.errors], []);
  });
});

/** A TCP relay to Redis that can refuse everyone for a while (a node's own network outage). */
class RedisProxy {
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;

  private constructor(
    private readonly target: number,
    readonly port: number,
  ) {}

  static async start(target: number): Promise<RedisProxy> {
    const probe = await RedisProxy.#listen(target, 0);
    const address = probe.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    await new Promise((resolve) => probe.close(resolve));
    const proxy = new RedisProxy(target, port);
    proxy.#server = await RedisProxy.#listen(target, port, proxy.#sockets);
    return proxy;
  }

  get url(): string {
    return `redis://127.0.0.1:${String(this.port)}`;
  }

  /** Drops every relayed connection and refuses new ones. */
  cut(): void {
    this.#server?.close();
    this.#server = undefined;
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
  }

  restore(): void {
    void RedisProxy.#listen(this.target, this.port, this.#sockets).then((server) => {
      this.#server = server;
    });
  }

  async close(): Promise<void> {
    this.cut();
    await sleep(10);
  }

  static #listen(target: number, port: number, sockets = new Set<Socket>()): Promise<Server> {
    const server = createServer((inbound) => {
      const outbound = createConnection(target, '127.0.0.1');
      for (const s of [inbound, outbound]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => undefined);
      }
      inbound.pipe(outbound).pipe(inbound);
      inbound.on('close', () => outbound.destroy());
      outbound.on('close', () => inbound.destroy());
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        resolve(server);
      });
    });
  }
}
