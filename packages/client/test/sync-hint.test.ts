// SYNC_HINT: a server push telling the client it may have missed pushes (the node's cluster
// bus was down). The client syncs once per hint; a push command it does not know is skipped.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { Command, pb } from '@parley/protocol';
import { Harness, sleep, waitFor } from './connection-harness.js';
import { UNLIMITED, closeClients, isMessagePush, makeClient, texts, waitForStates } from './client-helpers.js';

describe('SYNC_HINT push', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start({ limits: UNLIMITED });
  });
  afterEach(closeClients);
  after(async () => {
    await h.close();
  });

  async function online(user: string) {
    const c = makeClient(h, user, 'tcp');
    await c.client.connect();
    await c.client.ready();
    await c.client.sync.run();
    return c;
  }

  /** Sends `frame` to every live session of the user, as the server's own code would. */
  function pushTo(userId: string, frame: Uint8Array): void {
    const sessions = h.sessionsOf(userId);
    assert.ok(sessions.length > 0, `${userId} has a session`);
    for (const s of sessions) s.sendFrame(frame);
  }

  const syncRuns = (c: ReturnType<typeof makeClient>): number => c.tap.sent.get(Command.SYNC_CONVERSATIONS) ?? 0;

  test('one hint makes exactly one sync run, which brings the messages whose pushes were lost', async () => {
    const alice = await online('hint-a1');
    const bob = await online('hint-b1');
    const conv = (await alice.client.createConversation({ type: 'direct', members: ['hint-b1'] })).id;
    await bob.client.sync.run();
    // The pushes never reach bob, as when the node that holds alice could not route them.
    bob.tap.dropDown = isMessagePush;
    const sent = texts('quiet', 3).map((t) => alice.client.send(conv, t));
    await waitForStates(alice.client, sent, ['sent']);
    await waitFor(() => bob.tap.dropped.length === 3, 5_000, 'the 3 pushes were dropped');
    assert.equal(bob.seen.in(conv).length, 0);
    const runsBefore = syncRuns(bob);

    pushTo('hint-b1', h.server.ctx.codec.push(Command.SYNC_HINT, { reason: pb.SyncHintReason.BUS_RECOVERED }));
    await waitFor(() => bob.seen.in(conv).length === 3, 5_000, 'bob synced the 3 messages');
    await sleep(200); // a second run, were there one, would have started by now
    assert.equal(syncRuns(bob) - runsBefore, 1, 'one SYNC_CONVERSATIONS for one hint');
    assert.deepEqual(bob.seen.texts(conv), texts('quiet', 3));
    assert.deepEqual(bob.seen.errors, []);
  });

  test('a push command the client does not know is skipped: no error, no sync, the session goes on', async () => {
    const bob = await online('hint-b2');
    const runsBefore = syncRuns(bob);
    const frame = h.server.ctx.codec.push(Command.SYNC_HINT, { reason: pb.SyncHintReason.BUS_RECOVERED });
    const unknown = frame.slice();
    unknown[4] = 0x0f; // the command (u16 at offset 4): 0x0fff, unknown to this build
    unknown[5] = 0xff;
    pushTo('hint-b2', unknown);
    await sleep(200);
    assert.equal(syncRuns(bob), runsBefore);
    assert.deepEqual(bob.seen.errors, []);
    assert.equal(bob.client.connection.state, 'connected');
    // The link still works: a hint after it is handled.
    pushTo('hint-b2', frame);
    await waitFor(() => syncRuns(bob) === runsBefore + 1, 5_000, 'the hint after it ran a sync');
  });
});
