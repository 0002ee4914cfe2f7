// Three `parley serve` processes on one PostgreSQL schema and one Redis prefix of this run's own,
// for tests that put a load balancer in front of them: clients connect through the balancer and
// learn which node they landed on from their presence entry in Redis.
import assert from 'node:assert/strict';
import { Command, pb } from '@parley/protocol';
import { Redis } from 'ioredis';
import { parseDeviceField } from '../../src/bus/redis/keys.js';
import type { FrontPorts } from './balancer-config.js';
import { deleteKeys, eventually } from './cluster.js';
import { type ClusterRun, dropSchema, newClusterRun, runToken } from './parley-processes.js';
import { ServedNode } from './served-node.js';
import { TestClient } from './test-client.js';

const WAIT_MS = 30_000;

export interface Placed {
  userId: string;
  client: TestClient;
  /** The node holding the connection. */
  node: string;
}

export class BalancedCluster {
  readonly clients: TestClient[] = [];
  #nextId = 0;

  private constructor(
    readonly run: ClusterRun,
    readonly redisUrl: string,
    private readonly redis: Redis,
    readonly nodes: ServedNode[],
  ) {}

  /** Starts nodes `ids` (the first alone: it migrates the schema; the others once it exists). */
  static async start(postgresUrl: string, redisUrl: string, ids: string[]): Promise<BalancedCluster> {
    const run = newClusterRun(postgresUrl, redisUrl);
    const cluster = new BalancedCluster(run, redisUrl, new Redis(redisUrl), []);
    try {
      const [first, ...rest] = ids;
      cluster.nodes.push(await ServedNode.start(run, first ?? 'a'));
      cluster.nodes.push(...(await Promise.all(rest.map((id) => ServedNode.start(run, id)))));
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** The node ids holding the user's devices: the `<node>|<device>` fields of its presence hash. */
  async nodesOf(userId: string): Promise<string[]> {
    const fields = Object.keys(await this.redis.hgetall(`${this.run.prefix}:u:${userId}`));
    return [...new Set(fields.map((f) => parseDeviceField(f).nodeId))];
  }

  /** Connects through the balancer's frontends, logs in, and finds out which node it landed on. */
  async connect(front: FrontPorts, transport: 'tcp' | 'tls' | 'ws', userId: string): Promise<Placed> {
    const port = { tcp: front.tcp, tls: front.tls, ws: front.http }[transport];
    const client = await TestClient.connect({
      transport,
      host: '127.0.0.1',
      port,
      tls: transport === 'tls' ? { rejectUnauthorized: false } : undefined,
    });
    this.clients.push(client);
    await client.login(await runToken(this.run, userId), { platform: pb.Platform.DESKTOP });
    let node = '';
    await eventually(`${userId}'s presence`, async () => {
      const held = await this.nodesOf(userId);
      node = held[0] ?? '';
      return held.length === 1;
    });
    return { userId, client, node };
  }

  send(client: TestClient, conversationId: string, text: string) {
    return client.request(Command.SEND, {
      conversationId,
      clientMessageId: `balanced-${String(++this.#nextId)}`,
      content: { type: pb.MessageType.TEXT, text },
    });
  }

  /** `from` writes to `to` in a direct conversation; `to` gets it, reads it, and `from` gets the read receipt. */
  async directChat(from: Placed, to: Placed): Promise<void> {
    const created = await from.client.request(Command.CONV_CREATE, {
      type: pb.ConversationType.DIRECT,
      memberIds: [to.userId],
    });
    const conv = created.state?.conversation?.conversationId;
    assert.ok(conv);
    const text = `from ${from.userId} on ${from.node} to ${to.userId} on ${to.node}`;
    const ack = await this.send(from.client, conv, text);
    const got = await to.client.nextPush(Command.MESSAGE, {
      where: (p) => p.message?.seq === ack.seq,
      timeoutMs: WAIT_MS,
    });
    assert.equal(got.message?.content?.text, text);
    assert.equal(got.message?.senderId, from.userId);
    await to.client.request(Command.CURSOR, { conversationId: conv, kind: pb.CursorKind.READ, seq: ack.seq });
    const receipt = await from.client.nextPush(Command.CURSOR, {
      where: (p) => p.userId === to.userId && p.conversationId === conv,
      timeoutMs: WAIT_MS,
    });
    assert.equal(receipt.kind, pb.CursorKind.READ);
    assert.equal(receipt.seq, ack.seq);
  }

  /**
   * A group of everyone in `members`: each of `senders` writes once, every other member gets each
   * message exactly once, and a read receipt from a member on another node reaches the first sender.
   */
  async groupChat(members: Placed[], senders: Placed[]): Promise<void> {
    const [owner, ...others] = members;
    assert.ok(owner);
    const created = await owner.client.request(Command.CONV_CREATE, {
      type: pb.ConversationType.GROUP,
      memberIds: others.map((p) => p.userId),
      name: 'behind the balancer',
    });
    const group = created.state?.conversation?.conversationId;
    assert.ok(group);
    const acks = await Promise.all(senders.map((s) => this.send(s.client, group, `from ${s.userId}`)));
    const seqs = acks.map((a) => a.seq).sort((x, y) => x - y);
    const own = new Map(senders.map((s, i) => [s.userId, acks[i]?.seq]));
    // A sender gets the ack for its own message, not a push; the group's creation notice has a seq of its own.
    const expected = (m: Placed) => seqs.filter((seq) => own.get(m.userId) !== seq);
    const received = (m: Placed) =>
      m.client
        .pushes(Command.MESSAGE)
        .filter((p) => p.message?.conversationId === group && seqs.includes(Number(p.message.seq)))
        .map((p) => Number(p.message?.seq))
        .sort((x, y) => x - y);
    await eventually(
      'every member to receive the group messages',
      () => members.every((m) => received(m).length >= expected(m).length),
      WAIT_MS,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const m of members)
      assert.deepEqual(received(m), expected(m), `${m.userId} on node ${m.node}: each message once`);

    const first = senders[0];
    const reader = members.find((p) => p.node !== first?.node);
    assert.ok(first && reader, 'a member on another node than the first sender');
    await reader.client.request(Command.CURSOR, {
      conversationId: group,
      kind: pb.CursorKind.READ,
      seq: Math.max(...seqs),
    });
    const receipt = await first.client.nextPush(Command.CURSOR, {
      where: (p) => p.userId === reader.userId && p.conversationId === group,
      timeoutMs: WAIT_MS,
    });
    assert.equal(receipt.kind, pb.CursorKind.READ);
  }

  /**
   * Six TCP, three WebSocket and three TLS clients connect through `front` (the balancer keeps
   * each transport's clients on every node, as least-connections balancing does with connections
   * that stay open); they chat 1:1 and in a group across the nodes.
   */
  async spreadAndChat(front: FrontPorts): Promise<void> {
    const placed: Placed[] = [];
    for (let i = 0; i < 6; i++) placed.push(await this.connect(front, 'tcp', `tcp-${String(i)}`));
    for (let i = 0; i < 3; i++) placed.push(await this.connect(front, 'ws', `ws-${String(i)}`));
    for (let i = 0; i < 3; i++) placed.push(await this.connect(front, 'tls', `tls-${String(i)}`));
    const nodeIds = this.nodes.map((n) => n.nodeId).sort();
    for (const transport of ['tcp', 'ws', 'tls']) {
      const on = new Set(placed.filter((p) => p.userId.startsWith(transport)).map((p) => p.node));
      assert.deepEqual([...on].sort(), nodeIds, `${transport} clients on every node`);
    }
    const byTransport = (t: string) => placed.filter((p) => p.userId.startsWith(t));
    const alice = byTransport('tcp')[0] as Placed;
    const bob = byTransport('ws').find((p) => p.node !== alice.node) as Placed;
    await this.directChat(alice, bob);
    const senders = ['tcp', 'ws', 'tls'].map((t) => byTransport(t)[0] as Placed);
    await this.groupChat(placed, senders);
  }

  /**
   * Stops the last node (SIGTERM) and, once `stopped` resolves (the balancer has noticed, if it
   * must first), connects TCP and WebSocket clients through `front`: they land on the other
   * nodes only, and two of them on different nodes chat.
   */
  async stopOneAndReconnect(front: FrontPorts, stopped: (nodeId: string) => Promise<void>): Promise<void> {
    const last = this.nodes.at(-1);
    assert.ok(last);
    await last.stop('SIGTERM');
    await stopped(last.nodeId);
    const placed: Placed[] = [];
    for (let i = 0; i < 4; i++) placed.push(await this.connect(front, 'tcp', `after-tcp-${String(i)}`));
    for (let i = 0; i < 4; i++) placed.push(await this.connect(front, 'ws', `after-ws-${String(i)}`));
    const up = this.nodes.filter((n) => n !== last).map((n) => n.nodeId);
    assert.deepEqual([...new Set(placed.map((p) => p.node))].sort(), up.sort(), 'new connections on the nodes up');
    const first = placed[0] as Placed;
    await this.directChat(first, placed.find((p) => p.node !== first.node) as Placed);
  }

  async stop(): Promise<void> {
    for (const c of this.clients) c.destroy();
    await Promise.all(this.nodes.map((n) => n.stop('SIGKILL')));
    this.redis.disconnect();
    await dropSchema(this.run);
    await deleteKeys(this.redisUrl, this.run.prefix);
  }
}
