import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { Command, ErrorCode, Flags, type Frame } from '@parley/protocol';
import { ClientError, ClientErrorCode, MemoryKeyValueStore, isRetryable } from '../src/index.js';
import { FAST_BACKOFF, Harness, type Kind, sleep, waitFor } from './connection-harness.js';
import {
  UNLIMITED,
  closeClients,
  isMessagePush,
  makeClient,
  orderProblem,
  texts,
  waitForStates,
} from './client-helpers.js';

/** A push (not an answer) of `command`. */
const isPush =
  (command: number) =>
  (frame: Frame): boolean =>
    frame.command === command && (frame.flags & Flags.RESPONSE) === 0;
/** An answer to a request of `command`. */
const isAnswer =
  (command: number) =>
  (frame: Frame): boolean =>
    frame.command === command && (frame.flags & Flags.RESPONSE) !== 0;

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
      const history: unknown[] = [];
      bob.client.on('history', (info) => history.push(info));
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
      assert.deepEqual(history, [{ conversationId: conv, beforeSeq: 481 }]);
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

    test('a conversation first heard of after the first sync arrives from its first message, once each, in order', async () => {
      const alice = await online(`a6-${kind}`);
      const history: unknown[] = [];
      alice.client.on('history', (info) => history.push(info));
      await alice.client.sync.run(); // her first sync: from now on she has a cursor
      await alice.client.close();
      // While she is offline, bob starts a conversation with her and sends 60 messages.
      const bob = await online(`b6-${kind}`);
      const conv = (await bob.client.createConversation({ type: 'direct', members: [`a6-${kind}`] })).id;
      const expected = texts('while-away', 60);
      const sent = expected.map((t) => bob.client.send(conv, t));
      await waitForStates(bob.client, sent, ['sent']);
      await alice.client.connect();
      await waitFor(() => alice.seen.in(conv).length >= 60, 10_000, 'alice got 60');
      await sleep(50);
      assert.equal(orderProblem(alice.seen.in(conv), expected), undefined);
      assert.equal(alice.seen.in(conv)[0]?.seq, 1);
      assert.deepEqual(history, []);
      assert.equal(alice.client.sync.oldestSeq(conv), 1);
      assert.deepEqual(await alice.client.loadHistory(conv), { messages: [], hasMore: false });
    });

    test('a conversation first heard of later with more than newConversationLimit: the latest N, a history event, older by loadHistory', async () => {
      // Across an app restart: the stored state says the first sync is done.
      const storage = new MemoryKeyValueStore();
      const sync = { persistDelayMs: 5, newConversationLimit: 25 };
      const alice = await online(`a7-${kind}`, { storage, sync });
      await alice.client.sync.run();
      await alice.client.close();
      const bob = await online(`b7-${kind}`);
      const conv = (await bob.client.createConversation({ type: 'direct', members: [`a7-${kind}`] })).id;
      const expected = texts('many', 60);
      const sent = expected.map((t) => bob.client.send(conv, t));
      await waitForStates(bob.client, sent, ['sent']);
      const alice2 = makeClient(h, `a7-${kind}`, kind, { storage, sync });
      const history: unknown[] = [];
      alice2.client.on('history', (info) => history.push(info));
      await alice2.client.connect();
      await waitFor(() => alice2.seen.in(conv).length >= 25, 10_000, 'alice got 25');
      await sleep(50);
      assert.equal(orderProblem(alice2.seen.in(conv), expected.slice(35)), undefined);
      assert.deepEqual(history, [{ conversationId: conv, beforeSeq: 36 }]);
      assert.equal(alice2.client.sync.oldestSeq(conv), 36);
      const older = await alice2.client.loadHistory(conv, 100);
      assert.deepEqual(
        older.messages.map((m) => m.content.text),
        expected.slice(0, 35),
      );
      assert.equal(older.hasMore, false);
    });

    test('one’s own message acked in a conversation not seen yet reaches the app, in order', async () => {
      // A small limit: were the acked message left to the conversation's later discovery, it would fall below it.
      const alice = await online(`a8-${kind}`, { sync: { persistDelayMs: 5, newConversationLimit: 10 } });
      await alice.client.sync.run();
      // Alice hears nothing of the new conversation: pushes lost, and her list's CONV_GET unanswered.
      alice.tap.dropDown = (f) => isMessagePush(f) || isPush(Command.CONVERSATION)(f) || isAnswer(Command.CONV_GET)(f);
      const bob = await online(`b8-${kind}`);
      const conv = (await bob.client.createConversation({ type: 'direct', members: [`a8-${kind}`] })).id;
      const before = texts('before', 3);
      await waitForStates(
        bob.client,
        before.map((t) => bob.client.send(conv, t)),
        ['sent'],
      );
      const mine = alice.client.send(conv, 'mine');
      await waitForStates(alice.client, [mine], ['sent', 'delivered', 'read']);
      const after = texts('after', 30);
      await waitForStates(
        bob.client,
        after.map((t) => bob.client.send(conv, t)),
        ['sent'],
      );
      alice.tap.dropDown = undefined;
      alice.client.wake();
      await waitFor(() => alice.seen.in(conv).length >= 34, 10_000, 'alice got 34');
      await sleep(50);
      assert.equal(orderProblem(alice.seen.in(conv), [...before, 'mine', ...after]), undefined);
      assert.equal(alice.seen.in(conv)[3]?.clientMessageId, mine.localId);
    });

    test('a member removed and added again gets what came since, never again what it had', async () => {
      const owner = await online(`o9-${kind}`);
      const alice = await online(`a9-${kind}`);
      const group = (await owner.client.createConversation({ type: 'group', members: [`a9-${kind}`], name: 'g' })).id;
      const before = texts('before', 5);
      await waitForStates(
        owner.client,
        before.map((t) => owner.client.send(group, t)),
        ['sent', 'delivered', 'read'],
      );
      await waitFor(() => alice.seen.in(group).length >= 5, 10_000, 'alice got 5');
      await owner.client.connection.request(Command.MEMBERS_REMOVE, { conversationId: group, userIds: [`a9-${kind}`] });
      await waitFor(() => alice.client.conversation(group) === undefined, 10_000, 'alice saw her removal');
      await owner.client.connection.request(Command.MEMBERS_ADD, { conversationId: group, userIds: [`a9-${kind}`] });
      const later = texts('after', 3);
      await waitForStates(
        owner.client,
        later.map((t) => owner.client.send(group, t)),
        ['sent', 'delivered', 'read'],
      );
      const texted = () => alice.seen.in(group).filter((m) => m.content.text);
      await waitFor(() => texted().length >= 8, 10_000, 'alice got the later 3');
      await sleep(100);
      assert.deepEqual(
        texted().map((m) => m.content.text),
        [...before, ...later],
      );
      const seqs = alice.seen.in(group).map((m) => m.seq);
      assert.deepEqual(
        seqs,
        [...new Set(seqs)].sort((a, b) => a - b),
        'each seq once, in order',
      );
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

describe('sync failures', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start({ limits: UNLIMITED });
  });
  afterEach(closeClients);
  after(async () => {
    await h.close();
  });

  /** Short request timeouts, so an unanswered pull fails fast. */
  async function online(user: string) {
    const c = makeClient(h, user, 'tcp', {
      connection: { backoff: FAST_BACKOFF, tasks: { retryDelayMs: 30, timeoutMs: 200 }, watchOnline: false },
    });
    await c.client.connect();
    await c.client.ready();
    await c.client.sync.run();
    return c;
  }

  test('retryable failures are not app errors: a typed, retryable lastError until a run succeeds', async () => {
    const alice = await online('sf-alice-1');
    const bob = await online('sf-bob-1');
    const conv = (await bob.client.createConversation({ type: 'direct', members: ['sf-alice-1'] })).id;
    await alice.client.sync.run();
    alice.tap.dropDown = (f) => isMessagePush(f) || isAnswer(Command.SYNC_MESSAGES)(f);
    const expected = texts('unpulled', 3);
    await waitForStates(
      bob.client,
      expected.map((t) => bob.client.send(conv, t)),
      ['sent'],
    );
    for (let i = 0; i < 3; i++) await alice.client.sync.run(); // each run stops at the pull
    assert.equal(alice.seen.in(conv).length, 0);
    assert.deepEqual(alice.seen.errors, [], 'routine failures do not reach the app');
    const last = alice.client.sync.lastError;
    assert.ok(last instanceof ClientError);
    assert.equal(last.clientCode, ClientErrorCode.SYNC);
    assert.equal(last.code, ErrorCode.TIMEOUT);
    assert.ok(isRetryable(last));
    assert.match(last.message, /^sync stopped: /);
    assert.ok(last.cause instanceof ClientError && last.cause.clientCode === ClientErrorCode.TASK_TIMEOUT);

    alice.tap.dropDown = undefined;
    await alice.client.sync.run();
    assert.equal(alice.client.sync.lastError, undefined);
    assert.equal(orderProblem(alice.seen.in(conv), expected), undefined);
  });

  test('a run asked for while one fails (a new login) still goes', async () => {
    const alice = await online('sf-alice-3');
    const bob = await online('sf-bob-3');
    const conv = (await bob.client.createConversation({ type: 'direct', members: ['sf-alice-3'] })).id;
    await alice.client.sync.run();
    let dropped = 0;
    // Both attempts of the first pull go unanswered; later ones are answered.
    alice.tap.dropDown = (f) => isMessagePush(f) || (isAnswer(Command.SYNC_MESSAGES)(f) && dropped++ < 2);
    const expected = texts('later', 3);
    await waitForStates(
      bob.client,
      expected.map((t) => bob.client.send(conv, t)),
      ['sent'],
    );
    const first = alice.client.sync.run();
    await waitFor(() => dropped > 0, 5_000, 'the first pull under way');
    void alice.client.sync.run();
    await first; // the run and the one folded into it
    assert.equal(orderProblem(alice.seen.in(conv), expected), undefined);
    assert.equal(alice.client.sync.lastError, undefined);
  });

  test('a failure that is not retryable is reported once per run of failures, typed', async () => {
    const alice = await online('sf-alice-2');
    alice.client.sync.expect('no-such-conversation', 3); // a pull the server refuses
    await waitFor(() => alice.seen.errors.length > 0, 5_000, 'an error');
    await alice.client.sync.run();
    await alice.client.sync.run();
    assert.equal(alice.seen.errors.length, 1, alice.seen.errors.map((e) => e.message).join('; '));
    const [error] = alice.seen.errors;
    assert.ok(error instanceof ClientError);
    assert.equal(error.clientCode, ClientErrorCode.SYNC);
    assert.ok(!isRetryable(error));
    assert.ok(error.cause instanceof ClientError && error.cause.clientCode === ClientErrorCode.SERVER);
    assert.equal(error.code, error.cause.code);
    assert.equal(alice.client.sync.lastError?.clientCode, ClientErrorCode.SYNC);
  });
});
