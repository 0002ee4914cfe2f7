import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { Command, ErrorCode, Flags, pb } from '@parley/protocol';
import { FileKeyValueStore } from '../src/node.js';
import { Harness, type Kind, sleep, waitFor } from './connection-harness.js';
import { UNLIMITED, closeClients, makeClient, orderProblem, texts, waitForStates } from './client-helpers.js';

for (const kind of ['tcp', 'tls', 'ws'] as Kind[]) {
  describe(`outbox over ${kind}`, () => {
    let h: Harness;
    before(async () => {
      h = await Harness.start({ limits: UNLIMITED });
    });
    afterEach(closeClients);
    after(async () => {
      await h.close();
    });

    /** Bob, connected, with a direct conversation with `alice`. */
    async function bobWith(alice: string, bob: string) {
      const b = makeClient(h, bob, kind);
      await b.client.connect();
      await b.client.ready();
      const conv = await b.client.createConversation({ type: 'direct', members: [alice] });
      return { bob: b, conv: conv.id };
    }

    test('messages sent before connecting are stored, then delivered once each, in order', async () => {
      const { bob, conv } = await bobWith(`a1-${kind}`, `b1-${kind}`);
      const alice = makeClient(h, `a1-${kind}`, kind);
      const expected = texts('offline', 30);
      const sent = expected.map((t) => alice.client.send(conv, t));
      assert.ok(sent.every((m) => m.state === 'sending'));
      await sleep(30);
      assert.equal(alice.client.outbox.pending, 30);
      await alice.client.connect();
      await waitForStates(alice.client, sent, ['sent', 'delivered', 'read']);
      await waitFor(() => bob.seen.in(conv).length >= 30, 5_000, 'bob got 30');
      assert.equal(orderProblem(bob.seen.in(conv), expected), undefined);
      assert.deepEqual(
        sent.map((m) => alice.client.outbox.get(m.localId)?.seq),
        Array.from({ length: 30 }, (_, i) => i + 1),
      );
      assert.ok([...alice.seen.reached('sent').values()].every((n) => n === 1));
    });

    test('1,000 messages sent offline: each acked once, stored once, received once in order', async () => {
      const { bob, conv } = await bobWith(`a2-${kind}`, `b2-${kind}`);
      const alice = makeClient(h, `a2-${kind}`, kind);
      const expected = texts('bulk', 1000);
      const started = Date.now();
      const sent = expected.map((t) => alice.client.send(conv, t));
      await alice.client.connect();
      await waitForStates(alice.client, sent, ['sent', 'delivered', 'read'], 60_000);
      const ackMs = Date.now() - started;
      await waitFor(() => bob.seen.in(conv).length >= 1000, 20_000, 'bob got 1000');
      await sleep(50);
      assert.equal(orderProblem(bob.seen.in(conv), expected), undefined);
      const acks = alice.seen.reached('sent');
      assert.equal(acks.size, 1000);
      assert.ok([...acks.values()].every((n) => n === 1));
      const stored = await h.server.ctx.store.getMessages(conv, 1, 0, 5000);
      assert.equal(stored.length, 1000);
      assert.equal(new Set(stored.map((m) => m.clientMessageId)).size, 1000);
      assert.deepEqual(
        stored.map((m) => m.clientMessageId),
        sent.map((m) => m.localId),
      );
      // Own messages join the stream too: alice's app saw its 1000 messages once, in order.
      assert.equal(orderProblem(alice.seen.in(conv), expected), undefined);
      console.log(`[${kind}] 1000 offline sends acked in ${String(ackMs)} ms`);
    });

    test('server killed mid-stream and restarted on the same port and data: no loss, no duplicates', async () => {
      const { bob, conv } = await bobWith(`a3-${kind}`, `b3-${kind}`);
      const alice = makeClient(h, `a3-${kind}`, kind);
      await alice.client.connect();
      await alice.client.ready();
      const expected = texts('kill', 300);
      const sent = expected.map((t) => alice.client.send(conv, t));
      await waitFor(() => alice.seen.reached('sent').size >= 60, 10_000, '60 acks');
      await h.stop();
      const atStop = alice.seen.reached('sent').size;
      assert.ok(atStop < 300, `all ${String(atStop)} acked before the stop`);
      await sleep(100);
      await h.restart();
      await waitForStates(alice.client, sent, ['sent', 'delivered', 'read'], 30_000);
      await waitFor(() => bob.seen.in(conv).length >= 300, 20_000, 'bob got 300');
      await sleep(50);
      assert.equal(orderProblem(bob.seen.in(conv), expected), undefined);
      assert.ok([...alice.seen.reached('sent').values()].every((n) => n === 1));
      const stored = await h.server.ctx.store.getMessages(conv, 1, 0, 5000);
      assert.deepEqual(
        stored.map((m) => m.clientMessageId),
        sent.map((m) => m.localId),
      );
    });

    test('a lost ack: the resend with the same client message id is acked once, stored once', async () => {
      const { bob, conv } = await bobWith(`a8-${kind}`, `b8-${kind}`);
      const alice = makeClient(h, `a8-${kind}`, kind, {
        outbox: { timeoutMs: 150, retryBaseMs: 10, keepSettled: 100 },
      });
      await alice.client.connect();
      await alice.client.ready();
      let acks = 0;
      alice.tap.dropDown = (frame) =>
        frame.command === Command.SEND && (frame.flags & Flags.RESPONSE) !== 0 && ++acks === 2;
      const expected = texts('lost-ack', 4);
      const sent = expected.map((t) => alice.client.send(conv, t));
      await waitForStates(alice.client, sent, ['sent', 'delivered', 'read']);
      assert.equal(alice.tap.dropped.length, 1);
      assert.equal(alice.tap.count(Command.SEND), 5, 'one resend');
      assert.ok([...alice.seen.reached('sent').values()].every((n) => n === 1));
      await waitFor(() => bob.seen.in(conv).length >= 4, 5_000, 'bob got 4');
      assert.equal(orderProblem(bob.seen.in(conv), expected), undefined);
      const stored = await h.server.ctx.store.getMessages(conv, 1, 0, 100);
      assert.equal(stored.length, 4);
      assert.equal(alice.client.outbox.get(sent[1]?.localId ?? '')?.seq, 2);
    });

    test('a permanent error fails the message; retry() sends it once it can succeed', async () => {
      const owner = makeClient(h, `o4-${kind}`, kind);
      await owner.client.connect();
      await owner.client.ready();
      const group = await owner.client.createConversation({ type: 'group', members: [`m4-${kind}`], name: 'g' });
      const alice = makeClient(h, `a4-${kind}`, kind);
      await alice.client.connect();
      await alice.client.ready();
      const m = alice.client.send(group.id, 'let me in');
      const after = alice.client.send(group.id, 'me too');
      await waitForStates(alice.client, [m, after], ['failed']);
      assert.equal(alice.client.outbox.get(m.localId)?.error?.code, ErrorCode.NOT_MEMBER);
      await owner.client.connection.request(Command.MEMBERS_ADD, { conversationId: group.id, userIds: [`a4-${kind}`] });
      assert.equal(alice.client.retry(m.localId), true);
      assert.equal(alice.client.retry(m.localId), false, 'not failed any more');
      await waitForStates(alice.client, [m], ['sent', 'delivered', 'read']);
      assert.equal(alice.client.outbox.get(after.localId)?.state, 'failed');
      assert.equal(alice.client.outbox.list(group.id).length, 2);
    });

    test('receipts move states to delivered (peer DELIVERED cursor) and read (markRead)', async () => {
      const { bob, conv } = await bobWith(`a5-${kind}`, `b5-${kind}`);
      const alice = makeClient(h, `a5-${kind}`, kind);
      await alice.client.connect();
      await alice.client.ready();
      const sent = texts('r', 5).map((t) => alice.client.send(conv, t));
      await waitForStates(alice.client, sent, ['delivered']);
      await waitFor(() => bob.client.conversation(conv)?.unread === 5, 5_000, 'bob unread 5');
      await bob.client.markRead(conv);
      assert.equal(bob.client.conversation(conv)?.unread, 0);
      await waitForStates(alice.client, sent, ['read']);
      const seen = alice.seen.transitions.filter((t) => t.localId === sent[0]?.localId).map((t) => t.state);
      assert.deepEqual(seen, ['sending', 'sent', 'delivered', 'read']);
      assert.equal(alice.client.conversation(conv)?.peerReadSeq, 5);
    });

    test('in a group, the first member to read makes a message read', async () => {
      const alice = makeClient(h, `a6-${kind}`, kind);
      const bob = makeClient(h, `b6-${kind}`, kind, { deliveryReceipts: false });
      const carol = makeClient(h, `c6-${kind}`, kind, { deliveryReceipts: false });
      for (const c of [alice, bob, carol]) await c.client.connect();
      await Promise.all([alice, bob, carol].map((c) => c.client.ready()));
      const group = await alice.client.createConversation({
        type: 'group',
        members: [`b6-${kind}`, `c6-${kind}`],
      });
      const m = alice.client.send(group.id, 'hi all');
      await waitForStates(alice.client, [m], ['sent']);
      await waitFor(() => (carol.client.conversation(group.id)?.lastSeq ?? 0) >= 2, 5_000, 'carol has it');
      await sleep(30);
      assert.equal(alice.client.outbox.get(m.localId)?.state, 'sent', 'no receipts sent yet');
      await carol.client.markRead(group.id);
      await waitForStates(alice.client, [m], ['read']);
    });

    test('a restarted client (file-backed store) resends what was pending', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'parley-outbox-'));
      let second: ReturnType<typeof makeClient> | undefined;
      try {
        const { bob, conv } = await bobWith(`a7-${kind}`, `b7-${kind}`);
        const first = makeClient(h, `a7-${kind}`, kind, { storage: new FileKeyValueStore(join(dir, 'a.json')) });
        const expected = texts('restart', 10);
        const sent = expected.map((t) => first.client.send(conv, t));
        await first.client.close(); // never connected: the app quits with 10 pending
        second = makeClient(h, `a7-${kind}`, kind, { storage: new FileKeyValueStore(join(dir, 'a.json')) });
        await second.client.outbox.load();
        assert.equal(second.client.outbox.pending, 10);
        await second.client.connect();
        await waitForStates(second.client, sent, ['sent', 'delivered', 'read']);
        await waitFor(() => bob.seen.in(conv).length >= 10, 5_000, 'bob got 10');
        assert.equal(orderProblem(bob.seen.in(conv), expected), undefined);
        const stored = await h.server.ctx.store.getMessages(conv, 1, 0, 100);
        assert.deepEqual(
          stored.map((m) => m.clientMessageId),
          sent.map((m) => m.localId),
        );
        assert.equal(second.client.outbox.get(sent[0]?.localId ?? '')?.content.type, pb.MessageType.TEXT);
      } finally {
        // Close first: a live client keeps persisting receipt states into the directory.
        await second?.client.close();
        rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
      }
    });
  });
}
