import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { Command } from '@parley/protocol';
import { MemoryKeyValueStore } from '../src/index.js';
import { Harness, type Kind, sleep, waitFor } from './connection-harness.js';
import {
  UNLIMITED,
  closeClients,
  isMessagePush,
  makeClient,
  orderProblem,
  texts,
  waitForStates,
} from './client-helpers.js';

for (const kind of ['tcp', 'ws'] as Kind[]) {
  describe(`sync over ${kind}`, () => {
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

    test('a recipient offline during 100 messages gets them all at the next sync, in order, once', async () => {
      const storage = new MemoryKeyValueStore();
      const alice = await online(`a1-${kind}`);
      const bob = await online(`b1-${kind}`, { storage });
      const conv = (await alice.client.createConversation({ type: 'direct', members: [`b1-${kind}`] })).id;
      const early = texts('early', 5).map((t) => alice.client.send(conv, t));
      await waitFor(() => bob.seen.in(conv).length === 5, 5_000, 'bob got 5');
      await waitForStates(alice.client, early, ['delivered']);
      await bob.client.sync.run(); // the version cursor only moves by sync (push versions are store-wide)
      const version = bob.client.sync.version;
      assert.ok(version > 0);
      await bob.client.close();
      const expected = texts('missed', 100);
      const sent = expected.map((t) => alice.client.send(conv, t));
      await waitForStates(alice.client, sent, ['sent']);
      // Bob's app restarts on the same storage: it resumes from its stored cursor and seqs.
      const bob2 = makeClient(h, `b1-${kind}`, kind, { storage });
      await bob2.client.sync.load();
      assert.equal(bob2.client.sync.version, version, 'the version cursor persisted');
      assert.equal(bob2.client.sync.lastSeq(conv), 5);
      await bob2.client.connect();
      await waitFor(() => bob2.seen.in(conv).length >= 100, 10_000, 'bob got 100');
      await sleep(50);
      assert.equal(orderProblem(bob2.seen.in(conv), expected), undefined);
      assert.equal(bob2.seen.in(conv)[0]?.seq, 6);
      assert.equal(bob2.client.conversation(conv)?.unread, 105, 'none read yet');
      await waitForStates(alice.client, sent, ['delivered']);
    });

    test('a lost push is detected by the next one and pulled before it is delivered', async () => {
      const alice = await online(`a2-${kind}`);
      const bob = await online(`b2-${kind}`);
      const conv = (await alice.client.createConversation({ type: 'direct', members: [`b2-${kind}`] })).id;
      await sleep(30);
      let pushes = 0;
      bob.tap.dropDown = (frame) => isMessagePush(frame) && ++pushes === 3;
      const pullsBefore = bob.tap.count(Command.SYNC_MESSAGES);
      const expected = texts('gap', 6);
      for (const t of expected) alice.client.send(conv, t);
      await waitFor(() => bob.seen.in(conv).length >= 6, 5_000, 'bob got 6');
      await sleep(30);
      assert.equal(bob.tap.dropped.length, 1, 'one push was lost');
      assert.ok(bob.tap.count(Command.SYNC_MESSAGES) > pullsBefore, 'the gap was pulled');
      assert.equal(orderProblem(bob.seen.in(conv), expected), undefined);
    });

    test('duplicate pushes are delivered once', async () => {
      const alice = await online(`a3-${kind}`);
      const bob = await online(`b3-${kind}`);
      const conv = (await alice.client.createConversation({ type: 'direct', members: [`b3-${kind}`] })).id;
      bob.tap.repeatDown = isMessagePush;
      const expected = texts('dup', 10);
      for (const t of expected) alice.client.send(conv, t);
      await waitFor(() => bob.seen.in(conv).length >= 10, 5_000, 'bob got 10');
      await sleep(50);
      assert.equal(orderProblem(bob.seen.in(conv), expected), undefined);
    });

    test('first sync of a conversation with 500 messages pulls only the latest page; history pages back', async () => {
      const alice = await online(`a4-${kind}`);
      const conv = (await alice.client.createConversation({ type: 'direct', members: [`b4-${kind}`] })).id;
      const expected = texts('old', 500);
      const sent = expected.map((t) => alice.client.send(conv, t));
      await waitForStates(alice.client, sent, ['sent']);
      const bob = makeClient(h, `b4-${kind}`, kind);
      const synced = new Promise((resolve) => bob.client.once('synced', resolve));
      await bob.client.connect();
      await synced;
      await sleep(30);
      const got = bob.seen.in(conv);
      assert.equal(got.length, 20);
      assert.deepEqual(
        got.map((m) => m.seq),
        Array.from({ length: 20 }, (_, i) => 481 + i),
      );
      assert.equal(bob.tap.count(Command.SYNC_MESSAGES), 1);
      const view = bob.client.conversation(conv);
      assert.equal(view?.unread, 500);
      assert.equal(view?.lastMessage?.content.text, 'old-499');
      // Older history, on demand, page by page.
      const older: string[] = [];
      for (;;) {
        const page = await bob.client.loadHistory(conv, 100);
        older.unshift(...page.messages.map((m) => m.content.text ?? ''));
        if (!page.hasMore) break;
      }
      assert.deepEqual([...older, ...got.map((m) => m.content.text ?? '')], expected);
      assert.deepEqual(await bob.client.loadHistory(conv), { messages: [], hasMore: false });
    });

    test('wake() syncs what pushes missed', async () => {
      const alice = await online(`a5-${kind}`);
      const bob = await online(`b5-${kind}`);
      const conv = (await alice.client.createConversation({ type: 'direct', members: [`b5-${kind}`] })).id;
      bob.tap.dropDown = isMessagePush; // every push lost (a half-dead link)
      const sent = texts('asleep', 3).map((t) => alice.client.send(conv, t));
      await waitForStates(alice.client, sent, ['sent']);
      await sleep(30);
      assert.equal(bob.seen.in(conv).length, 0);
      bob.tap.dropDown = undefined;
      bob.client.wake();
      await waitFor(() => bob.seen.in(conv).length >= 3, 5_000, 'bob got 3 after wake');
      assert.equal(orderProblem(bob.seen.in(conv), texts('asleep', 3)), undefined);
    });
  });
}
