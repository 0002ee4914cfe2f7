import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { Command, pb } from '@parley/protocol';
import { type ConversationView, MemoryKeyValueStore } from '../src/index.js';
import { Harness, type Kind, sleep, waitFor } from './connection-harness.js';
import { UNLIMITED, closeClients, makeClient, texts, waitForStates } from './client-helpers.js';

for (const kind of ['tcp', 'ws'] as Kind[]) {
  describe(`ParleyClient over ${kind}`, () => {
    let h: Harness;
    before(async () => {
      h = await Harness.start({ limits: UNLIMITED });
    });
    afterEach(closeClients);
    after(async () => {
      await h.close();
    });

    async function online(user: string, options: Parameters<typeof makeClient>[3] = {}) {
      const c = makeClient(h, user, kind, options);
      await c.client.connect();
      await c.client.ready();
      return c;
    }

    test('the conversation list: activity order, unread and mention counts, markRead, persistence', async () => {
      const [A, B, C] = [`a1-${kind}`, `b1-${kind}`, `c1-${kind}`];
      const storage = new MemoryKeyValueStore();
      const alice = await online(A, { storage });
      const bob = await online(B);
      const carol = await online(C);
      let changes = 0;
      alice.client.on('conversations', () => changes++);
      const direct = (await bob.client.createConversation({ type: 'direct', members: [A] })).id;
      const group = (await carol.client.createConversation({ type: 'group', members: [A, B], name: 'trio' })).id;
      await waitFor(() => alice.client.conversation(group) !== undefined, 5_000, 'alice knows the group');
      const fromBob = texts('bob', 3).map((t) => bob.client.send(direct, t));
      await waitForStates(bob.client, fromBob, ['sent', 'delivered', 'read']);
      await sleep(5);
      const mention = carol.client.send(group, { type: pb.MessageType.TEXT, text: `hi @${A}`, mentions: [A] });
      await waitForStates(carol.client, [mention], ['sent', 'delivered', 'read']);
      await waitFor(() => alice.client.conversation(group)?.lastMessage?.content.text === `hi @${A}`, 5_000, 'mention');
      const list = alice.client.conversations();
      assert.deepEqual(
        list.map((v) => v.id),
        [group, direct],
        'newest activity first',
      );
      assert.equal(alice.client.conversations(), list, 'the same array until something changes');
      const g = alice.client.conversation(group) as ConversationView;
      assert.equal(g.name, 'trio');
      assert.equal(g.unread, 2, 'the creation notice and the mention');
      assert.equal(g.mentionUnread, 1);
      assert.equal(alice.client.conversation(direct)?.unread, 3);
      assert.ok(changes > 0);
      await alice.client.markRead(group);
      assert.equal(alice.client.conversation(group)?.unread, 0);
      assert.equal(alice.client.conversation(group)?.mentionUnread, 0);
      // Alice replies in the direct conversation: it moves to the top, and her reply reads Bob's messages.
      const reply = alice.client.send(direct, 'hello bob');
      await waitForStates(alice.client, [reply], ['sent', 'delivered', 'read']);
      await waitFor(() => alice.client.conversations()[0]?.id === direct, 5_000, 'direct on top');
      assert.equal(alice.client.conversation(direct)?.unread, 0);
      await waitForStates(bob.client, fromBob, ['read']);
      // The list persists: a restarted app renders it before connecting.
      await alice.client.close();
      const again = makeClient(h, A, kind, { storage });
      await again.client.cache.load();
      assert.deepEqual(
        again.client.conversations().map((v) => [v.id, v.unread]),
        [
          [direct, 0],
          [group, 0],
        ],
      );
    });

    test("one's other devices: own messages arrive, read state follows the user", async () => {
      const [A, B] = [`a2-${kind}`, `b2-${kind}`];
      const phone = await online(A);
      const laptop = await online(A);
      const bob = await online(B);
      const conv = (await bob.client.createConversation({ type: 'direct', members: [A] })).id;
      const fromBob = texts('x', 4).map((t) => bob.client.send(conv, t));
      await waitForStates(bob.client, fromBob, ['delivered']);
      await waitFor(() => laptop.client.conversation(conv)?.unread === 4, 5_000, 'laptop unread 4');
      await phone.client.markRead(conv);
      await waitFor(() => laptop.client.conversation(conv)?.unread === 0, 5_000, 'laptop follows the read');
      const own = phone.client.send(conv, 'from my phone');
      await waitForStates(phone.client, [own], ['sent']);
      await waitFor(() => laptop.seen.in(conv).some((m) => m.clientMessageId === own.localId), 5_000, 'laptop');
      assert.equal(laptop.client.conversation(conv)?.unread, 0);
      assert.equal(phone.seen.in(conv).filter((m) => m.clientMessageId === own.localId).length, 1);
    });

    test('typing, renames (CONVERSATION push) and removal', async () => {
      const [A, B] = [`a3-${kind}`, `b3-${kind}`];
      const alice = await online(A);
      const bob = await online(B);
      const group = (await alice.client.createConversation({ type: 'group', members: [B], name: 'one' })).id;
      await waitFor(() => bob.client.conversation(group) !== undefined, 5_000, 'bob knows it');
      const typing = new Promise<{ userId: string; typing: boolean }>((resolve) => bob.client.once('typing', resolve));
      assert.equal(alice.client.typing(group, true), true);
      assert.deepEqual(await typing, { conversationId: group, userId: A, typing: true });
      await alice.client.connection.request(Command.CONV_UPDATE, { conversationId: group, name: 'two' });
      await waitFor(() => bob.client.conversation(group)?.name === 'two', 5_000, 'renamed');
      await alice.client.connection.request(Command.MEMBERS_REMOVE, { conversationId: group, userIds: [B] });
      await waitFor(() => bob.client.conversation(group) === undefined, 5_000, 'removed from the list');
    });
  });
}
