// SYNC_HINT after a Redis outage: two nodes in this process over a private redis-server that
// is killed and started again. A message sent from node 0 to users on node 1 while Redis is
// down is acked but not pushed; once Redis is back, node 1 tells its sessions to sync and
// the recipients get the message with no further traffic (no later push, no reconnect).
import assert from 'node:assert/strict';
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
  const ports = () => nodes.map((n) => n.port('tcp'));

  before(async () => {
    redis = await OwnRedis.start();
    shared = new SharedStore();
    const prefix = uniquePrefix();
    for (const nodeId of ['h0', 'h1']) {
      const cluster = { keyPrefix: prefix, presenceTtlMs: 30_000, syncHintWindowMs: HINT_WINDOW_MS };
      nodes.push(await startNode(shared, { redisUrl: redis.url, prefix, nodeId, overrides: { cluster } }));
    }
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    for (const n of nodes) await n.stop();
    await shared.close();
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
});
