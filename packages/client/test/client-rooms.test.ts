import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { Command, ErrorCode, pb } from '@parley/protocol';
import { ClientError, type ChatMessage } from '../src/index.js';
import { Harness, waitFor } from './connection-harness.js';
import { UNLIMITED, closeClients, makeClient, waitForStates } from './client-helpers.js';

describe('ParleyClient rooms and recall', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start({ limits: UNLIMITED });
  });
  afterEach(closeClients);
  after(async () => {
    await h.close();
  });

  async function online(user: string) {
    const c = makeClient(h, user, 'ws');
    await c.client.connect();
    await c.client.ready();
    return c;
  }

  test('join, post, receive, online count, leave', async () => {
    const alice = await online('room-alice');
    const bob = await online('room-bob');
    const joinedA = await alice.client.joinRoom('lobby');
    assert.equal(joinedA.onlineCount, 1);
    assert.equal(joinedA.name, 'lobby');
    const ack = await alice.client.sendToRoom('lobby', 'first');
    assert.ok(ack.seq > 0);
    const joinedB = await bob.client.joinRoom('lobby', { recentLimit: 10 });
    assert.equal(joinedB.onlineCount, 2);
    assert.deepEqual(
      joinedB.recent.map((m) => m.content.text),
      ['first'],
    );
    assert.equal(joinedB.recent[0]?.conversationType, pb.ConversationType.ROOM);
    const counts: number[] = [];
    alice.client.on('room', (r) => counts.push(r.onlineCount));
    await bob.client.sendToRoom('lobby', { type: pb.MessageType.TEXT, text: 'second' });
    await waitFor(() => alice.seen.in('lobby').length === 1, 5_000, 'alice gets the room message');
    const got = alice.seen.in('lobby')[0] as ChatMessage;
    assert.equal(got.content.text, 'second');
    assert.equal(got.senderId, 'room-bob');
    await waitFor(() => counts.includes(2), 10_000, 'a ROOM_INFO push with the count');
    await bob.client.leaveRoom('lobby');
    await waitFor(() => counts.at(-1) === 1, 10_000, 'the count drops after the leave');
    await assert.rejects(bob.client.sendToRoom('lobby', 'gone'), (err) => {
      assert.ok(err instanceof ClientError);
      assert.equal(err.code, ErrorCode.NOT_MEMBER);
      return true;
    });
    assert.deepEqual(alice.seen.errors, []);
  });

  test('a joined room is joined again after a reconnect', async () => {
    const alice = await online('rejoin-alice');
    const bob = await online('rejoin-bob');
    await alice.client.joinRoom('stage');
    await bob.client.joinRoom('stage');
    for (const session of h.server.ctx.registry.sessionsOf('rejoin-alice')) session.connection.destroy();
    await waitFor(() => alice.client.connection.state !== 'connected', 5_000, 'link dropped');
    await alice.client.ready({ timeoutMs: 10_000 });
    await waitFor(() => h.server.ctx.rooms.onlineCount('stage') === 2, 10_000, 'alice rejoined');
    await bob.client.sendToRoom('stage', 'after the reconnect');
    await waitFor(() => alice.seen.texts('stage').includes('after the reconnect'), 5_000, 'alice hears the room');
  });

  test('recall: the RECALL message reaches the peer and history marks the target', async () => {
    const alice = await online('recall-alice');
    const bob = await online('recall-bob');
    const direct = (await alice.client.createConversation({ type: 'direct', members: ['recall-bob'] })).id;
    const sent = alice.client.send(direct, 'oops');
    await waitForStates(alice.client, [sent], ['sent', 'delivered', 'read']);
    const seq = alice.client.outbox.get(sent.localId)?.seq ?? 0;
    await waitFor(() => bob.seen.texts(direct).includes('oops'), 5_000, 'bob has it');
    const recallSeq = await alice.client.recall(direct, seq);
    assert.equal(recallSeq, seq + 1);
    await waitFor(
      () => bob.seen.in(direct).some((m) => m.content.type === pb.MessageType.RECALL),
      5_000,
      'bob gets the RECALL',
    );
    const recall = bob.seen.in(direct).find((m) => m.content.type === pb.MessageType.RECALL) as ChatMessage;
    assert.equal(recall.content.recallTargetSeq, seq);
    const page = await bob.client.connection.request(Command.HISTORY, {
      conversationId: direct,
      beforeSeq: 0,
      limit: 10,
    });
    const target = page.messages.find((m) => m.seq === seq);
    assert.equal(target?.recalled, true, 'history marks the recalled message');
    // The sender's own stream gets the RECALL message too (the server pushes it to other sessions only).
    await waitFor(
      () => alice.seen.in(direct).some((m) => m.content.type === pb.MessageType.RECALL),
      5_000,
      "alice's stream has the RECALL",
    );
    // Someone else's message cannot be recalled by a member of a direct conversation.
    await assert.rejects(bob.client.recall(direct, seq), (err) => {
      assert.ok(err instanceof ClientError);
      assert.ok(err.code === ErrorCode.PERMISSION_DENIED || err.code === ErrorCode.ALREADY_EXISTS);
      return true;
    });
  });
});
