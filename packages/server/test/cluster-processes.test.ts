// Cluster mode with real processes: three `parley serve` children of the CLI on one PostgreSQL
// schema and one Redis key prefix of this run's own; clients connect over TCP to different nodes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Command, pb } from '@parley/protocol';
import { deleteKeys, eventually } from './helpers/cluster.js';
import { type ClusterRun, NodeProcess, dropSchema, loginOn, newClusterRun } from './helpers/parley-processes.js';
import { POSTGRES, REDIS, requireService } from './helpers/services.js';
import { TestClient } from './helpers/test-client.js';

const POSTGRES_URL = process.env.PARLEY_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = `redis://${REDIS.host}:${String(REDIS.port)}`;
const skip = (await requireService(POSTGRES)) || (await requireService(REDIS));
const GROUP_SIZE = 200;
const WAIT_MS = 60_000;
let cid = 0;
const nextId = () => `proc-${String(++cid)}`;

describe('cluster of three parley serve processes', { skip, timeout: 180_000 }, () => {
  let run: ClusterRun;
  const nodes: NodeProcess[] = [];
  const clients: TestClient[] = [];
  const login = (node: number, userId: string) => loginOn(run, nodes[node] as NodeProcess, userId, clients);
  const send = (client: TestClient, conversationId: string, text: string) =>
    client.request(Command.SEND, {
      conversationId,
      clientMessageId: nextId(),
      content: { type: pb.MessageType.TEXT, text },
    });

  before(async () => {
    run = newClusterRun(POSTGRES_URL, REDIS_URL);
    // The first node migrates the schema; the others start once it exists.
    nodes.push(await NodeProcess.start(run, 'p0'));
    nodes.push(...(await Promise.all([NodeProcess.start(run, 'p1'), NodeProcess.start(run, 'p2')])));
  });
  after(async () => {
    for (const c of clients) c.destroy();
    await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
    await dropSchema(run);
    await deleteKeys(REDIS_URL, run.prefix);
  });

  test('1:1 chat, read receipts and typing across nodes', async () => {
    const alice = await login(0, 'alice');
    const bob = await login(1, 'bob');
    const created = await alice.request(Command.CONV_CREATE, { type: pb.ConversationType.DIRECT, memberIds: ['bob'] });
    const conv = created.state?.conversation?.conversationId;
    assert.ok(conv);

    const ack = await send(alice, conv, 'hi bob');
    const got = await bob.nextPush(Command.MESSAGE, { where: (p) => p.message?.seq === ack.seq, timeoutMs: WAIT_MS });
    assert.equal(got.message?.content?.text, 'hi bob');
    assert.equal(got.message?.senderId, 'alice');

    await bob.request(Command.CURSOR, { conversationId: conv, kind: pb.CursorKind.READ, seq: ack.seq });
    const receipt = await alice.nextPush(Command.CURSOR, { where: (p) => p.userId === 'bob', timeoutMs: WAIT_MS });
    assert.equal(receipt.kind, pb.CursorKind.READ);

    await bob.request(Command.TYPING, { conversationId: conv, typing: true });
    const typing = await alice.nextPush(Command.TYPING, { where: (p) => p.userId === 'bob', timeoutMs: WAIT_MS });
    assert.equal(typing.conversationId, conv);
  });

  test(`a group of ${String(GROUP_SIZE)} spread over the nodes: every member gets every message once`, async () => {
    const ids = Array.from({ length: GROUP_SIZE }, (_, i) => `member-${String(i)}`);
    const members: TestClient[] = [];
    for (let i = 0; i < ids.length; i += 20) {
      members.push(...(await Promise.all(ids.slice(i, i + 20).map((id, j) => login((i + j) % 3, id)))));
    }
    const owner = members[0] as TestClient;
    const created = await owner.request(Command.CONV_CREATE, {
      type: pb.ConversationType.GROUP,
      memberIds: ids.slice(1),
      name: 'everyone',
    });
    const conv = created.state?.conversation?.conversationId;
    assert.ok(conv);

    // Three senders, one per node.
    const senders = [0, 1, 2].map((i) => members[i] as TestClient);
    const own = new Map<TestClient, number[]>();
    for (let round = 0; round < 3; round++) {
      const acks = await Promise.all(senders.map((s, i) => send(s, conv, `round ${String(round)} from ${String(i)}`)));
      acks.forEach((ack, i) => {
        const sender = senders[i] as TestClient;
        own.set(sender, [...(own.get(sender) ?? []), ack.seq]);
      });
    }
    const seqs = [...own.values()].flat().sort((a, b) => a - b);
    // A sender gets the ack for its own messages, not a push.
    const expected = (member: TestClient) => seqs.filter((seq) => !own.get(member)?.includes(seq));
    // A member's pushes of the sent messages (the group's creation notice has a seq of its own).
    const sentTo = (member: TestClient) =>
      member
        .pushes(Command.MESSAGE)
        .map((p) => Number(p.message?.seq))
        .filter((seq) => seqs.includes(seq))
        .sort((a, b) => a - b);
    await eventually(
      'every member to receive every message',
      () => members.every((m) => sentTo(m).length >= expected(m).length),
      WAIT_MS,
    );
    // Nothing arrives twice: after a pause for stragglers each member holds each message once.
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const member of members) assert.deepEqual(sentTo(member), expected(member));
  });
});
