// Cluster failures with real processes: three `parley serve` children over a private PostgreSQL
// and a private redis-server (both in temp dirs on free ports, so they can be killed for real
// without touching the machine's services). SDK clients (ParleyClient, given every node's
// address) stream sends while a node is killed -9, Redis is killed and restarted, and PostgreSQL
// is stopped (`pg_ctl stop -m immediate`) and started again; presence follows a killed node.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command, ErrorCode, ParleyError, pb } from '@parley/protocol';
import pg from 'pg';
import { RecordedClient } from './helpers/cluster-clients.js';
import { OwnRedis, eventually } from './helpers/cluster.js';
import { OwnPostgres, requirePrivateServers } from './helpers/own-postgres.js';
import { type ClusterRun, NodeProcess, loginOn, newClusterRun, runToken } from './helpers/parley-processes.js';
import { type CloseInfo, TestClient } from './helpers/test-client.js';

const skip = requirePrivateServers();
const PRESENCE_TTL_MS = 2_000;
const WAIT_MS = 30_000;
/** Small TTLs and no send limits: the file runs in well under two minutes. */
const NODE_ENV = {
  PARLEY_CLUSTER_PRESENCE_TTL_MS: String(PRESENCE_TTL_MS),
  // After the Redis outage every node tells its sessions to sync within this window.
  PARLEY_CLUSTER_SYNC_HINT_WINDOW_MS: '1000',
  PARLEY_LIMITS_SENDS_PER_SECOND: '100000',
  PARLEY_LIMITS_SEND_BURST: '100000',
  PARLEY_LIMITS_REQUESTS_PER_SECOND: '100000',
  PARLEY_LIMITS_REQUEST_BURST: '100000',
};

/** A conversation and its members' clients. */
interface Conv {
  id: string;
  members: RecordedClient[];
  /** Who sends in the stream. Default: every member. */
  senders?: RecordedClient[];
}

/** One stored message, as the database has it. */
interface Row {
  seq: number;
  senderId: string;
  clientMessageId: string;
}

describe('cluster failures: node killed, Redis restarted, PostgreSQL stopped', { skip, timeout: 240_000 }, () => {
  let postgres: OwnPostgres;
  let redis: OwnRedis;
  let run: ClusterRun;
  let nodeSeq = 0;
  /** The live nodes; a killed node's slot gets a new node, so each test starts with three. */
  const nodes: NodeProcess[] = [];
  const everyNode: NodeProcess[] = [];
  const clients: RecordedClient[] = [];
  const raw: TestClient[] = [];
  const ports = () => nodes.map((n) => n.tcpPort);

  const startNode = async () => {
    const node = await NodeProcess.start(run, `f${String(nodeSeq++)}`, { env: NODE_ENV });
    everyNode.push(node);
    return node;
  };
  /** Starts a node in a killed node's slot (resolves when it listens). */
  const replace = async (slot: number) => {
    const node = await startNode();
    nodes[slot] = node;
  };
  const client = async (userId: string, home: number) => {
    const c = new RecordedClient(userId, ports, home, () => runToken(run, userId));
    clients.push(c);
    await c.connect();
    assert.equal(c.transport.port, (nodes[home] as NodeProcess).tcpPort, `${userId} starts on node ${String(home)}`);
    return c;
  };
  /** Users <prefix>0 ... <prefix>5, user i starting on node i % 3. */
  const sixUsers = async (prefix: string) => {
    const users = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => client(`${prefix}${String(i)}`, i % 3)));
    return users as [RecordedClient, RecordedClient, RecordedClient, RecordedClient, RecordedClient, RecordedClient];
  };
  const rawClient = (node: number, userId: string) => loginOn(run, nodes[node] as NodeProcess, userId, raw);
  const group = async (members: RecordedClient[]): Promise<Conv> => {
    const [owner, ...rest] = members as [RecordedClient, ...RecordedClient[]];
    const view = await owner.client.createConversation({
      type: rest.length === 1 ? 'direct' : 'group',
      members: rest.map((m) => m.userId),
      name: rest.length === 1 ? '' : 'failures',
    });
    return { id: view.id, members };
  };

  /** The stored messages of each conversation, by seq. */
  const stored = async (convs: Conv[]): Promise<Map<string, Row[]>> => {
    const db = new pg.Client({ connectionString: postgres.url });
    await db.connect();
    try {
      const { rows } = await db.query<{
        conversation_id: string;
        seq: string;
        sender_id: string;
        client_message_id: string;
      }>(
        `SELECT conversation_id, seq, sender_id, client_message_id FROM ${run.schema}.messages
          WHERE conversation_id = ANY($1) ORDER BY conversation_id, seq`,
        [convs.map((c) => c.id)],
      );
      const byConv = new Map<string, Row[]>(convs.map((c) => [c.id, []]));
      for (const r of rows) {
        byConv
          .get(r.conversation_id)
          ?.push({ seq: Number(r.seq), senderId: r.sender_id, clientMessageId: r.client_message_id });
      }
      return byConv;
    } finally {
      await db.end();
    }
  };
  const lastSeqs = async (convs: Conv[]) =>
    new Map([...(await stored(convs))].map(([id, rows]) => [id, rows.at(-1)?.seq ?? 0]));

  /**
   * Sends `rounds` rounds, `intervalMs` apart: in each, every member of every conversation sends
   * one message there (through its outbox). `during(round)` runs after each round's sends.
   */
  const stream = async (
    tag: string,
    convs: Conv[],
    rounds: number,
    intervalMs: number,
    during: (round: number) => Promise<void>,
  ) => {
    for (let round = 0; round < rounds; round++) {
      for (const conv of convs)
        for (const m of conv.senders ?? conv.members) m.send(conv.id, `${tag} ${m.userId} ${String(round)}`);
      await during(round);
      await sleep(intervalMs);
    }
  };

  /**
   * The end state every failure must leave: every send acked exactly once and stored exactly
   * once at its acked seq; each conversation's seqs gapless; every member saw every message of
   * the stream (seq above `base`) exactly once, in seq order.
   */
  const assertExactlyOnce = async (convs: Conv[], base: Map<string, number>) => {
    const senders = [...new Set(convs.flatMap((c) => c.members))];
    await eventually('every send to be acked', () => senders.every((c) => c.allAcked()), WAIT_MS);
    const rows = await stored(convs);
    for (const conv of convs) {
      const all = rows.get(conv.id) ?? [];
      assert.deepEqual(
        all.map((r) => r.seq),
        Array.from({ length: all.length }, (_, i) => i + 1),
        'stored seqs are gapless',
      );
      const sent = senders.flatMap((c) => c.sent.filter((m) => m.conversationId === conv.id));
      const fresh = all.filter((r) => r.seq > (base.get(conv.id) ?? 0));
      assert.equal(fresh.length, sent.length, `${conv.id}: one stored message per send, no more`);
    }
    for (const c of senders) {
      assert.deepEqual(c.failed, [], `${c.userId}: no send failed for good`);
      for (const m of c.sent) {
        assert.equal(c.acks.get(m.localId)?.length, 1, `${c.userId}: ${m.localId} acked once`);
        const seq = c.ackedSeqs().get(m.localId);
        const row = rows.get(m.conversationId)?.find((r) => r.seq === seq);
        assert.equal(row?.clientMessageId, m.localId, `${c.userId}: ack of ${m.localId} names its stored message`);
        assert.equal(row.senderId, c.userId);
      }
    }
    const expected = (conv: Conv) => {
      const from = (base.get(conv.id) ?? 0) + 1;
      const last = rows.get(conv.id)?.at(-1)?.seq ?? 0;
      return Array.from({ length: last - from + 1 }, (_, i) => from + i);
    };
    const streamSeen = (m: RecordedClient, conv: Conv) => m.seqs(conv.id).filter((s) => s > (base.get(conv.id) ?? 0));
    await eventually(
      'every member to see every message',
      () => convs.every((conv) => conv.members.every((m) => streamSeen(m, conv).length >= expected(conv).length)),
      WAIT_MS,
    );
    await sleep(300); // stragglers: a message seen twice would show now
    for (const conv of convs) {
      for (const m of conv.members) {
        assert.deepEqual(streamSeen(m, conv), expected(conv), `${m.userId} saw ${conv.id} once each, in order`);
        const seen = m.seqs(conv.id);
        assert.ok(
          seen.every((s, i) => i === 0 || s === (seen[i - 1] as number) + 1),
          `${m.userId}: ${conv.id} arrived in seq order without repeats`,
        );
      }
    }
  };

  before(async () => {
    redis = await OwnRedis.start();
    postgres = await OwnPostgres.start();
    run = newClusterRun(postgres.url, redis.url);
    // The first node migrates the schema; the others start once it exists.
    nodes.push(await startNode());
    nodes.push(...(await Promise.all([startNode(), startNode()])));
  });
  after(async () => {
    for (const c of raw) c.destroy();
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(everyNode.map((n) => n.stop('SIGKILL')));
    await redis?.stop();
    await postgres?.stop();
  });

  test('kill -9 a node during a stream of sends: its clients move, sync, and everything arrives once, in order', async () => {
    // Two users per node; a group of all six and direct chats that cross the dying node.
    const users = await sixUsers('k');
    const [k0, k1, k2, k3, k4, k5] = users;
    const convs = [
      await group(users),
      await group([k0, k1]),
      await group([k4, k2]),
      await group([k1, k5]),
      await group([k3, k0]),
    ];
    const base = await lastSeqs(convs);
    const victim = nodes[1] as NodeProcess;
    let replacing: Promise<void> | undefined;
    await stream('kill', convs, 20, 50, async (round) => {
      if (round !== 7) return;
      await victim.stop('SIGKILL');
      replacing = replace(1);
    });
    await assertExactlyOnce(convs, base);
    // The victim's clients are logged in elsewhere now.
    for (const moved of [k1, k4]) {
      assert.notEqual(moved.transport.port, victim.tcpPort);
      assert.equal(moved.client.connection.state, 'connected');
    }
    await replacing;
  });

  test('presence across processes: online on another node, offline after the TTL once that node is killed', async () => {
    const watcher = await rawClient(0, 'pa');
    await watcher.request(Command.CONV_CREATE, { type: pb.ConversationType.DIRECT, memberIds: ['pb'] });
    const first = await watcher.request(Command.PRESENCE_SUBSCRIBE, { userIds: ['pb'], unsubscribe: false });
    assert.equal(first.users[0]?.online, false);

    await rawClient(2, 'pb'); // a raw client: it stays on its node and dies with it
    const online = await watcher.nextPush(Command.PRESENCE, {
      where: (p) => p.user?.userId === 'pb',
      timeoutMs: WAIT_MS,
    });
    assert.equal(online.user?.online, true);
    assert.deepEqual(online.user?.platforms, [pb.Platform.DESKTOP]);

    const killedAt = Date.now();
    await (nodes[2] as NodeProcess).stop('SIGKILL');
    const replacing = replace(2);
    const offline = await watcher.nextPush(Command.PRESENCE, {
      where: (p) => p.user?.userId === 'pb' && !p.user.online,
      timeoutMs: WAIT_MS,
    });
    // Nobody said goodbye: the entry had to lapse (one TTL without refresh) first.
    assert.ok(Date.now() - killedAt >= PRESENCE_TTL_MS / 3, 'offline only once the entry lapsed');
    assert.ok(Number(offline.user?.lastSeen) > 0, 'the reaper records a last-seen time');
    const queried = await watcher.request(Command.PRESENCE_QUERY, { userIds: ['pb'] });
    assert.equal(queried.users[0]?.online, false);
    await replacing;
  });

  test('Redis killed and restarted during traffic: local service goes on, routing recovers, nothing lost or doubled', async () => {
    const users = await sixUsers('r');
    const [r0, r1, r2, r3] = users;
    // One-way chats (only r0 sends): their recipients learn of messages only by push or sync.
    const local = { ...(await group([r0, r3])), senders: [r0] }; // both on node 0
    const remote = { ...(await group([r0, r2])), senders: [r0] }; // node 0 to node 2
    const convs = [await group(users), await group([r0, r1]), await group([r2, r1]), local, remote];
    const base = await lastSeqs(convs);
    let down = 0;
    let up = 0;
    let lateLogin: RecordedClient | undefined;
    await stream('redis', convs, 30, 50, async (round) => {
      if (round === 6) {
        await redis.kill();
        down = Date.now();
      } else if (round === 9) {
        // A device logging in while Redis is down is served by its node.
        lateLogin = await client('r-late', 2);
      } else if (round === 20) {
        await redis.restart();
        up = Date.now();
      }
    });
    assert.ok(lateLogin);
    // Local delivery and acks went on while Redis was down.
    const during = (at: number) => at > down && at < up;
    assert.ok([...r0.acks.values()].flat().some(during), 'acks while Redis was down');
    assert.ok(
      r3.messages.some((m) => m.message.conversationId === local.id && m.message.senderId === 'r0' && during(m.at)),
      'a same-node recipient got pushes while Redis was down',
    );
    // Remote recipients missed the pushes of the outage. Once Redis is back each node tells its
    // sessions to sync (SYNC_HINT), so they pull the rest even if the stream ended before
    // routing recovered (later pushes revealing the gaps may also get there first).
    await assertExactlyOnce(convs, base);
    // The outage mattered: the remote recipient got what was acked while Redis was down only
    // after it was back (a hint or a later push revealed the gap and it pulled the rest).
    const ackedInOutage = new Set(
      r0.sent
        .filter((m) => m.conversationId === remote.id && during(r0.acks.get(m.localId)?.[0] ?? 0))
        .map((m) => m.localId),
    );
    assert.ok(ackedInOutage.size > 0, 'r0 got acks in the one-way chat while Redis was down');
    const arrivals = r2.messages.filter((m) => ackedInOutage.has(m.message.clientMessageId)).map((m) => m.at);
    assert.equal(arrivals.length, ackedInOutage.size);
    assert.ok(
      arrivals.every((at) => at > up),
      'no message acked in the outage reached the other node before Redis was back',
    );
  });

  test('PostgreSQL stopped: sends fail UNAVAILABLE (never a false ack) and succeed once it is back', async () => {
    const [s0, s1] = await Promise.all([client('s0', 0), client('s1', 1)]);
    // s3 is a member too, but its device first connects while the database is down.
    const view = await s0.client.createConversation({ type: 'group', members: ['s1', 's3'], name: 'pg' });
    const conv: Conv = { id: view.id, members: [s0, s1], senders: [s0, s1] };
    const convs = [conv];
    const late = new RecordedClient('s3', ports, 2, () => runToken(run, 's3'));
    clients.push(late);
    const probe = await rawClient(2, 's2');
    const probeConv = (
      await probe.request(Command.CONV_CREATE, { type: pb.ConversationType.DIRECT, memberIds: ['s0'] })
    ).state?.conversation?.conversationId;
    assert.ok(probeConv);
    const base = await lastSeqs(convs);
    const probeSend = (clientMessageId: string) =>
      probe.request(Command.SEND, {
        conversationId: probeConv,
        clientMessageId,
        content: { type: pb.MessageType.TEXT, text: clientMessageId },
      });

    let stoppedAt = 0;
    let restartingAt = 0;
    // The outage runs beside the stream: sends keep coming while the database is down.
    const outage = async () => {
      await postgres.kill();
      stoppedAt = Date.now();
      try {
        // While it is down: a clear, retryable error, and no ack.
        for (const id of ['probe-1', 'probe-2']) {
          await assert.rejects(probeSend(id), (err: unknown) => {
            assert.ok(err instanceof ParleyError, String(err));
            assert.equal(err.code, ErrorCode.UNAVAILABLE, err.message);
            assert.ok((err.cause as pb.Status).retryAfterMs > 0, 'UNAVAILABLE names a retry delay');
            return true;
          });
        }
        // A login needs the database too: refused as retryable, so the SDK keeps trying
        // quietly; a message written meanwhile waits in its outbox.
        const ghost = await TestClient.connect({
          transport: 'tcp',
          host: '127.0.0.1',
          port: (nodes[0] as NodeProcess).tcpPort,
        });
        raw.push(ghost);
        await assert.rejects(ghost.login(await runToken(run, 'ghost')), (err: unknown) => {
          assert.ok(err instanceof ParleyError && err.code === ErrorCode.UNAVAILABLE, String(err));
          return true;
        });
        // ... and the refused session does not stay logged in: the node ends it.
        const ended = await Promise.race([ghost.closed, sleep(5_000).then((): CloseInfo => ({}))]);
        assert.equal(ended.kick?.reason, ErrorCode.UNAVAILABLE);
        await late.client.connect();
        late.send(conv.id, 'written while the database was down');
        await sleep(2_000); // the outboxes keep trying against the stopped database
        assert.notEqual(late.client.connection.state, 'connected');
      } finally {
        restartingAt = Date.now();
        await postgres.restart();
      }
    };
    let outageDone: Promise<void> | undefined;
    await stream('pg', convs, 40, 30, (round) => {
      if (round === 8) outageDone = outage();
      return Promise.resolve();
    });
    await outageDone;
    await late.client.ready({ timeoutMs: WAIT_MS });
    conv.members.push(late);
    // An ack is sent only after its commit: none can be dated in the outage (a second's margin
    // covers acks of commits that finished as the stop began, slowed by a loaded machine). The
    // stored rows checked below are the proof that no ack was false.
    const acksInOutage = [s0, s1]
      .flatMap((c) => [...c.acks.values()].flat())
      .filter((at) => at > stoppedAt + 1_000 && at < restartingAt);
    assert.deepEqual(acksInOutage, [], 'no ack while PostgreSQL was down');
    // Resending the refused message with its client message id stores it once.
    const acked = await probeSend('probe-1');
    const again = await probeSend('probe-1');
    assert.equal(again.seq, acked.seq);
    assert.equal(again.messageId, acked.messageId);
    await assertExactlyOnce(convs, base);
    const probeRows = (await stored([{ id: probeConv, members: [] }])).get(probeConv) ?? [];
    assert.deepEqual(
      probeRows.filter((r) => r.senderId === 's2').map((r) => r.clientMessageId),
      ['probe-1'],
      'the refused probe-2 was never stored; probe-1 once',
    );
    assert.ok(
      nodes.every((n) => n.running),
      'every node rode out the outage',
    );
  });
});
