// Cluster mode over a real Redis: three nodes in this process sharing one SQLite store, each
// with its own RedisBus, under a key prefix of this run's own. The restart test uses a private
// redis-server it kills and starts again; the node-death test runs a node as a child process
// and kills it with SIGKILL.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { Command, ErrorCode, pb } from '@parley/protocol';
import { Redis } from 'ioredis';
import { pino } from 'pino';
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
const text = (t: string) => ({ type: pb.MessageType.TEXT, text: t });
let cid = 0;
const nextId = () => `cluster-${String(++cid)}`;

async function send(client: TestClient, conversationId: string, body: string) {
  return client.request(Command.SEND, { conversationId, clientMessageId: nextId(), content: text(body) });
}

async function convId(p: Promise<{ state?: { conversation?: { conversationId?: string | null } | null } | null }>) {
  const id = (await p).state?.conversation?.conversationId;
  assert.ok(id);
  return id;
}

describe('cluster over Redis: three nodes', { skip, timeout: 180_000 }, () => {
  const cluster = inProcessCluster(REDIS_URL);
  const { prefix, nodes, login, publishes } = cluster;
  before(cluster.start);
  after(cluster.stop);

  test('1:1 chat, receipts and typing cross nodes', async () => {
    const alice = await login(0, 'alice');
    const bob = await login(1, 'bob');
    const conv = await convId(
      alice.request(Command.CONV_CREATE, { type: pb.ConversationType.DIRECT, memberIds: ['bob'] }),
    );

    const ack = await send(alice, conv, 'hi bob');
    const push = await bob.nextPush(Command.MESSAGE, { where: (p) => p.message?.seq === ack.seq });
    assert.equal(push.message?.content?.text, 'hi bob');
    assert.equal(push.message?.senderId, 'alice');
    const reply = await send(bob, conv, 'hi alice');
    const back = await alice.nextPush(Command.MESSAGE, { where: (p) => p.message?.seq === reply.seq });
    assert.equal(back.message?.content?.text, 'hi alice');

    await alice.request(Command.CURSOR, { conversationId: conv, kind: pb.CursorKind.READ, seq: reply.seq });
    const cursor = await bob.nextPush(Command.CURSOR, { where: (p) => p.userId === 'alice' });
    assert.equal(cursor.kind, pb.CursorKind.READ);
    assert.equal(cursor.seq, reply.seq);

    await bob.request(Command.TYPING, { conversationId: conv, typing: true });
    const typing = await alice.nextPush(Command.TYPING);
    assert.equal(typing.userId, 'bob');
    assert.equal(typing.typing, true);
  });

  test('presence crosses nodes: query, and pushes when a user comes and goes elsewhere', async () => {
    const watcher = await login(0, 'watcher');
    await watcher.request(Command.CONV_CREATE, { type: pb.ConversationType.DIRECT, memberIds: ['carol'] });
    const first = await watcher.request(Command.PRESENCE_SUBSCRIBE, { userIds: ['carol'], unsubscribe: false });
    assert.equal(first.users[0]?.online, false);

    const carol = await login(2, 'carol');
    const online = await watcher.nextPush(Command.PRESENCE, { where: (p) => p.user?.userId === 'carol' });
    assert.equal(online.user?.online, true);
    assert.deepEqual(online.user?.platforms, [pb.Platform.DESKTOP]);
    const queried = await watcher.request(Command.PRESENCE_QUERY, { userIds: ['carol'] });
    assert.equal(queried.users[0]?.online, true);

    await carol.close();
    const offline = await watcher.nextPush(Command.PRESENCE, {
      where: (p) => p.user?.userId === 'carol' && p.user.online === false,
    });
    assert.ok(Number(offline.user?.lastSeen) > 0);
  });

  test('a device logging in on another node replaces its session there', async () => {
    const old = await login(0, 'dana', 'phone');
    await login(1, 'dana', 'phone');
    const info = await old.closed;
    assert.equal(info.kick?.reason, ErrorCode.REPLACED_BY_DEVICE);
  });

  test('garbage on a node’s channel is dropped and counted; the node goes on', async () => {
    const redis = new Redis(REDIS_URL);
    try {
      await redis.publish(`${prefix}:n:n1`, Buffer.from([7, 1, 2]));
      await eventually('the bad envelope to be counted', async () => {
        return (await counter(nodes[1] as TestServer, 'parley_errors_total', { code: 'BUS_ENVELOPE' })) === 1;
      });
    } finally {
      redis.disconnect();
    }
    const x = await login(0, 'gx');
    const y = await login(1, 'gy');
    const conv = await convId(x.request(Command.CONV_CREATE, { type: pb.ConversationType.DIRECT, memberIds: ['gy'] }));
    const ack = await send(x, conv, 'still here');
    await y.nextPush(Command.MESSAGE, { where: (p) => p.message?.seq === ack.seq });
  });

  test('a group of 200 over three nodes: every member gets every message once, one publish per node', async () => {
    const members = await Promise.all(Array.from({ length: 200 }, (_, i) => login(i % 3, `g200-${String(i)}`)));
    const [m0, m1, m2] = members as [TestClient, TestClient, TestClient];
    const ids = members.map((_, i) => `g200-${String(i)}`);
    const conv = await convId(
      m0.request(Command.CONV_CREATE, { type: pb.ConversationType.GROUP, name: 'big', memberIds: ids.slice(1) }),
    );
    // The creation notice reaches everyone first.
    await Promise.all(members.slice(1).map((m) => m.waitForPushes(Command.MESSAGE, 1, 20_000)));

    const before = await publishes('users');
    const sent: { seq: number; from: number }[] = [];
    for (const [from, sender] of [m0, m1, m2, m0, m1, m2].entries()) {
      const ack = await send(sender, conv, `msg ${String(from)}`);
      sent.push({ seq: ack.seq, from: from % 3 });
    }

    await Promise.all(
      members.map(async (m, i) => {
        const expected = sent.filter((s) => s.from !== i).map((s) => s.seq);
        const got = (await m.waitForPushes(Command.MESSAGE, expected.length, 20_000)).map((p) =>
          Number(p.message?.seq),
        );
        assert.deepEqual(
          [...got].sort((x, y) => x - y),
          expected,
          `member ${String(i)}: each message once`,
        );
        // One sender's messages keep their order; across senders on different nodes a later
        // seq may overtake (the client sees the gap and waits or pulls, as with any loss).
        for (let node = 0; node < 3; node++) {
          const fromNode = sent.filter((x) => x.from === node).map((x) => x.seq);
          assert.deepEqual(
            got.filter((seq) => fromNode.includes(seq)),
            fromNode.filter((seq) => expected.includes(seq)),
            `member ${String(i)}: messages of sender ${String(node)} in order`,
          );
        }
      }),
    );
    // A last message from a fourth sender: per-node channels are FIFO, so a duplicate of an
    // earlier message would arrive before it.
    const marker = await send(members[3] as TestClient, conv, 'marker');
    await Promise.all(
      members.map(async (m, i) => {
        if (i === 3) return;
        await m.nextPush(Command.MESSAGE, { where: (p) => p.message?.seq === marker.seq, timeoutMs: 20_000 });
        assert.equal(m.pushes(Command.MESSAGE).length, 0, `member ${String(i)} got a message twice`);
      }),
    );
    // Each of the 7 messages went to the 2 other nodes as one envelope each, not one per member.
    assert.equal((await publishes('users')) - before, 7 * 2);
  });

  test('a room with members on three nodes: messages reach every node with members, counts add up', async () => {
    const room = `room-${prefix}`;
    const a = await login(0, 'ra');
    const b = await login(1, 'rb');
    const b2 = await login(1, 'rb2');
    await a.request(Command.ROOM_JOIN, { roomId: room, joinToken: '', recentLimit: 0 });
    await b.request(Command.ROOM_JOIN, { roomId: room, joinToken: '', recentLimit: 0 });
    await b2.request(Command.ROOM_JOIN, { roomId: room, joinToken: '', recentLimit: 0 });

    // Two nodes have members: a message is published once, to the other node only.
    const before = await publishes('room');
    const ack1 = await a.request(Command.SEND, {
      conversationId: room,
      clientMessageId: nextId(),
      content: text('one'),
    });
    for (const c of [b, b2]) {
      const p = await c.nextPush(Command.MESSAGE, { where: (m) => m.message?.conversationId === room });
      assert.equal(p.message?.seq, ack1.seq);
    }
    assert.equal((await publishes('room')) - before, 1);

    const c = await login(2, 'rc');
    const joined = await c.request(Command.ROOM_JOIN, { roomId: room, joinToken: '', recentLimit: 5 });
    assert.equal(joined.onlineCount, 4);
    const ack2 = await c.request(Command.SEND, {
      conversationId: room,
      clientMessageId: nextId(),
      content: text('two'),
    });
    assert.ok(ack2.seq > ack1.seq, 'room seqs are shared by the nodes');
    for (const m of [a, b, b2]) {
      const p = await m.nextPush(Command.MESSAGE, { where: (x) => x.message?.seq === ack2.seq });
      assert.equal(p.message?.content?.text, 'two');
    }
    // The online count pushed to each node's members is the cluster's.
    for (const m of [a, b, c]) {
      await m.nextPush(Command.ROOM_INFO, { where: (p) => p.onlineCount === 4, timeoutMs: 10_000 });
    }
    await b2.request(Command.ROOM_LEAVE, { roomId: room });
    await c.nextPush(Command.ROOM_INFO, { where: (p) => p.onlineCount === 3, timeoutMs: 10_000 });
  });
});

describe('cluster over Redis: a node that dies', { skip, timeout: 180_000 }, () => {
  const cluster = inProcessCluster(REDIS_URL, { nodeIds: ['live'], presenceTtlMs: 1_500 });
  const { prefix, shared, clients } = cluster;
  before(cluster.start);
  after(cluster.stop);

  test('its devices expire from presence on their own and followers are told (SIGKILL)', async () => {
    const node = cluster.node(0);
    const doomed = await NodeChild.start(shared, {
      redisUrl: REDIS_URL,
      prefix,
      nodeId: 'doomed',
      presenceTtlMs: 1_500,
    });
    try {
      const { tcpPort } = doomed;
      const watcher = await node.login('w1');
      clients.push(watcher);
      await watcher.request(Command.CONV_CREATE, { type: pb.ConversationType.DIRECT, memberIds: ['ghost'] });
      const ghost = await TestClient.connect({ transport: 'tcp', host: '127.0.0.1', port: tcpPort });
      clients.push(ghost);
      await ghost.login(await node.token('ghost'), { platform: pb.Platform.IOS });

      const seen = await watcher.request(Command.PRESENCE_SUBSCRIBE, { userIds: ['ghost'], unsubscribe: false });
      assert.equal(seen.users[0]?.online, true);
      assert.deepEqual(seen.users[0]?.platforms, [pb.Platform.IOS]);

      await doomed.kill();
      // The live node notices the silence, cleans up after the dead one and tells followers.
      const gone = await watcher.nextPush(Command.PRESENCE, {
        where: (p) => p.user?.userId === 'ghost' && !p.user.online,
        timeoutMs: 15_000,
      });
      assert.ok(Number(gone.user?.lastSeen) > 0);
      await eventually(
        'the dead node’s device to expire',
        async () => !(await watcher.request(Command.PRESENCE_QUERY, { userIds: ['ghost'] })).users[0]?.online,
        15_000,
      );
    } finally {
      await doomed.kill();
    }
  });
});

describe('cluster over Redis: Redis restarts during traffic', { skip, timeout: 180_000 }, () => {
  const prefix = uniquePrefix();
  const shared = new SharedStore();
  let redis: OwnRedis;
  const nodes: TestServer[] = [];
  const logs: string[][] = [[], []];
  const clients: TestClient[] = [];

  before(async () => {
    redis = await OwnRedis.start();
    for (let i = 0; i < 2; i++) {
      const stream = new Writable({
        write(chunk: Buffer, _enc, done) {
          logs[i]?.push(chunk.toString());
          done();
        },
      });
      nodes.push(
        await startNode(shared, {
          redisUrl: redis.url,
          prefix,
          nodeId: `r${String(i)}`,
          presenceTtlMs: 3_000,
          options: { logger: pino({ level: 'warn' }, stream) },
        }),
      );
    }
  });
  after(async () => {
    for (const c of clients) c.destroy();
    for (const n of nodes) await n.stop();
    await shared.close();
    await redis.stop();
  });

  test('local delivery goes on, routing recovers, and a sync finds every acked message', async () => {
    const [nodeA, nodeB] = nodes as [TestServer, TestServer];
    const a1 = await nodeA.login('a1');
    const a2 = await nodeA.login('a2');
    const b1 = await nodeB.login('b1');
    clients.push(a1, a2, b1);
    const conv = await convId(
      a1.request(Command.CONV_CREATE, { type: pb.ConversationType.GROUP, name: 'r', memberIds: ['a2', 'b1'] }),
    );
    const first = await send(a1, conv, 'before');
    await b1.nextPush(Command.MESSAGE, { where: (p) => p.message?.seq === first.seq });

    // Traffic runs throughout: a1 sends every 20 ms; every send must be acked.
    const acked: number[] = [first.seq];
    let running = true;
    const traffic = (async () => {
      while (running) {
        acked.push((await send(a1, conv, `m${String(acked.length)}`)).seq);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    await redis.kill();
    await eventually('node A to notice', async () => (await counter(nodeA, 'parley_redis_up')) === 0);
    const duringOutage = acked.length;
    await eventually('sends to go on during the outage', () => acked.length >= duringOutage + 10);
    await redis.restart();
    await eventually('node A to reconnect', async () => (await counter(nodeA, 'parley_redis_reconnects_total')) >= 1);

    // Routing recovers: a message sent now reaches b1 on the other node.
    await eventually(
      'cross-node delivery after the restart',
      async () => {
        const ack = await send(a1, conv, 'after');
        acked.push(ack.seq);
        try {
          await b1.nextPush(Command.MESSAGE, { where: (p) => p.message?.seq === ack.seq, timeoutMs: 500 });
          return true;
        } catch {
          return false;
        }
      },
      30_000,
    );
    running = false;
    await traffic;

    // a2 (same node as the sender) got every message live, outage or not.
    const last = Math.max(...acked);
    await eventually(
      'a2 to have every message live',
      () => new Set(a2.pushes(Command.MESSAGE).map((p) => p.message?.seq)).size >= acked.length + 1,
    );
    const live = a2.pushes(Command.MESSAGE).map((p) => Number(p.message?.seq));
    for (const seq of acked) assert.ok(live.includes(seq), `a2 missed ${String(seq)} live`);
    assert.equal(new Set(live).size, live.length, 'a2 got a message twice');

    // b1 missed some during the outage; a sync brings every acked one.
    const synced = await b1.request(Command.SYNC_MESSAGES, { conversationId: conv, fromSeq: 1, toSeq: 0, limit: 1000 });
    const seqs = new Set(synced.messages.map((m) => Number(m.seq)));
    for (const seq of acked) assert.ok(seqs.has(seq), `acked ${String(seq)} missing after sync`);
    assert.equal(synced.lastSeq, last);

    // Presence was re-announced into the empty Redis: node B sees a1 online on node A.
    await eventually('a1’s presence re-announced', async () => {
      const r = await b1.request(Command.PRESENCE_QUERY, { userIds: ['a1'] });
      return r.users[0]?.online === true;
    });
    // One outage, one warning per node: not one per message.
    for (const lines of logs) {
      assert.equal(lines.filter((l) => l.includes('Redis unreachable')).length, 1, lines.join(''));
    }
  });
});
