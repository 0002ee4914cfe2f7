// `parley chat` driven the way a person uses it: alice types into a real pseudo-terminal
// (tmux), bob is an SDK client, the server is real and is stopped and started again.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { ChatMessage, OutboxMessage, ParleyClient } from '@parley/client';
import { textWidth } from '../src/chat/text-width.js';
import { ChatServer, TmuxChat, tempDir, waitFor } from './helpers/chat-harness.js';

// tmux provides the pseudo-terminal. Without it the suite is skipped, except in CI (CI=true),
// where it fails: .ci/run installs tmux.
const tmuxMissing = spawnSync('tmux', ['-V']).status !== 0;
const skip = tmuxMissing && process.env.CI !== 'true' ? 'tmux is not installed' : false;

describe('parley chat in a terminal', { timeout: 600_000, skip }, () => {
  let server: ChatServer;
  let bob: ParleyClient;
  let alice: TmuxChat;
  let state: string;
  let direct = '';
  const bobSaw: ChatMessage[] = [];
  const bobTyping: { conversationId: string; userId: string; typing: boolean }[] = [];

  const startAlice = async () => {
    alice = new TmuxChat();
    await alice.start(server.chatArgs('alice', state));
    await alice.waitFor(/parley · alice · online/);
  };

  before(async () => {
    server = await ChatServer.start({ maxMessageBytes: 256 }); // small: a long message fails
    state = tempDir('parley-chat-state-');
    bob = await server.sdkClient('bob');
    bob.on('message', (m) => bobSaw.push(m));
    bob.on('typing', (t) => bobTyping.push(t));
    await startAlice();
  });

  after(async () => {
    await alice.kill();
    await bob.close();
    await server.dispose();
    rmSync(state, { recursive: true, force: true });
  });

  test('an empty list says how to start, and bad input gets a clear message, no crash', async () => {
    await alice.waitFor(/No conversations yet: \/dm USER starts one/);
    await alice.type('/frobnicate');
    await alice.waitFor(/! unknown command \/frobnicate: type \/help for the list/);
    await alice.type('/open 99');
    await alice.waitFor(/! no conversation 99: the list is empty/);
    await alice.type('hello?');
    await alice.waitFor(/! no conversation open: \/open N or NAME, \/dm USER, or \/help/);
    await alice.type('/group onlyname');
    await alice.waitFor(/! usage: \/group NAME USER \[USER\.\.\.\]/);
    await alice.type('/help');
    await alice.waitFor(/\/retry \[N\|all\]\s+send failed message N/);
    await alice.type('');
    await alice.waitFor(/Conversations · type a number to open/);
    await alice.waitFor(/parley · alice · online/);
  });

  test('messages from bob show in the list with an unread count and a preview, live', async () => {
    const view = await bob.createConversation({ type: 'direct', members: ['alice'] });
    direct = view.id;
    for (const text of ['first-1', 'first-2', 'first-3']) bob.send(direct, text);
    const screen = await alice.waitFor(/1\. bob\s+3 unread\s+\d\d:\d\d\s+bob: first-3/);
    assert.match(screen, /Conversations · 3 unread/);
  });

  test('opening it by name shows the messages and marks them read; bob sees his messages read', async () => {
    await alice.type('/open bob');
    await alice.waitFor(/bob · 1:1/);
    const screen = await alice.waitFor(/bob: first-3/);
    assert.match(screen, /bob: first-1[\s\S]*bob: first-2[\s\S]*bob: first-3/);
    await waitFor('bob to see his messages read', () =>
      bob.outbox.list(direct).every((m) => m.state === 'read') ? true : undefined,
    );
    assert.equal(bob.conversation(direct)?.peerReadSeq, 3);
  });

  test('alice sends: sent, then delivered, then read as bob receives and reads', async () => {
    bob.connection.close(); // bob offline: the message can only be sent
    await alice.type('hi bob');
    await alice.waitFor(/you: hi bob · sent/);
    await bob.connect();
    await alice.waitFor(/you: hi bob · delivered/);
    await waitFor('bob to get the message', () => bobSaw.find((m) => m.content.text === 'hi bob'));
    await bob.markRead(direct);
    await alice.waitFor(/you: hi bob · read/);
  });

  test('typing shows both ways', async () => {
    assert.equal(bob.typing(direct, true), true);
    await alice.waitFor(/bob · 1:1 · bob is typing…/);
    await alice.type('still typ', false);
    await waitFor('bob to see alice typing', () =>
      bobTyping.find((t) => t.userId === 'alice' && t.typing && t.conversationId === direct),
    );
    await alice.type('ing');
    await waitFor('alice to stop typing on send', () => bobTyping.find((t) => t.userId === 'alice' && !t.typing));
    await alice.waitFor(/you: still typing · (sent|delivered|read)/);
    // A message from bob ends his typing notice at once.
    bob.send(direct, 'done typing');
    await alice.waitFor(/bob: done typing/);
    await alice.waitFor(/bob · 1:1 · \/list to go back/);
  });

  test('after a restart, opening the conversation loads the latest page and /more loads older history', async () => {
    const sent: OutboxMessage[] = [];
    for (let i = 1; i <= 60; i++) sent.push(bob.send(direct, `h-${String(i).padStart(2, '0')}`));
    await waitFor('bob history sent', () => sent.every((m) => m.state !== 'sending'));
    await alice.waitFor(/bob: h-60/);
    // Ctrl-D quits cleanly; the next start has nothing in memory.
    await alice.type('/list');
    await alice.waitFor(/Conversations/);
    await alice.keys('C-d');
    await alice.waitFor(/EXIT=0/);
    await alice.kill();
    await startAlice();
    await alice.waitFor(/1\. bob\s+.*bob: h-60/);
    await alice.type('1');
    let screen = await alice.waitFor(/bob · 1:1[\s\S]*bob: h-59\n.*bob: h-60/);
    assert.doesNotMatch(screen, /first-1/);
    assert.match(screen, /↑ PageUp or \/more for older messages/);
    await alice.type('/more');
    screen = await alice.waitFor(/bob: first-1/);
    assert.match(screen, /older messages · the start of the conversation/);
    assert.doesNotMatch(screen, /bob: h-60/, 'scrolled up to the oldest');
    await alice.keys('NPage', 'NPage', 'NPage');
    await alice.waitFor(/bob: h-60/);
  });

  test('a terminal resize redraws the screen to the new size', async () => {
    await alice.resize(70, 20);
    // Rows: 1 status, 2 header, 3-18 messages, 19 notice, 20 input.
    const lines = await waitFor(
      'a 70x20 frame',
      async () => {
        const rows = (await alice.screen()).split('\n');
        const framed = (rows[0] ?? '').includes('parley · alice · online') && (rows[1] ?? '').startsWith('bob · 1:1');
        return framed && (rows[17] ?? '').includes('bob: h-60') && (rows[19] ?? '').startsWith('bob>')
          ? rows
          : undefined;
      },
      30_000,
      () => alice.screen(),
    );
    assert.match(lines[2] ?? '', /bob: h-4\d/);
    assert.ok(
      lines.every((l) => textWidth(l) <= 70),
      lines.join('\n'),
    );
    await alice.resize(120, 40);
    await alice.waitFor(/bob: h-5\d[\s\S]*bob: h-60/);
  });

  test('a group is created with a name and members; the members get it', async () => {
    await alice.type('/group "the team" bob carol');
    await alice.waitFor(/the team · group of 3/);
    const group = await waitFor('bob to get the group', () => bob.conversations().find((c) => c.name === 'the team'));
    assert.equal(group.memberCount, 3);
    await alice.type('hello team');
    await alice.waitFor(/you: hello team · (sent|delivered|read)/);
    await waitFor('bob to get the group message', () => bobSaw.find((m) => m.content.text === 'hello team'));
    // A message in another conversation is counted in the header, and moves it up the list.
    bob.send(direct, 'psst');
    await alice.waitFor(/the team · group of 3 · 1 unread elsewhere: \/list/);
    await alice.type('/list');
    await alice.waitFor(/1\. bob\s+1 unread\s+.*bob: psst\n\s+2\. the team\s+.*alice: hello team/);
  });

  test('bad input in a conversation, a failed message and /retry, sending while the server is down', async () => {
    await alice.type('/open nosuch');
    await alice.waitFor(/! no conversation matches "nosuch": \/dm nosuch starts a 1:1/);
    await alice.type('/open bob');
    await alice.waitFor(/bob · 1:1/);
    await alice.type('   ');
    await alice.waitFor(/! empty message: nothing sent/);
    await alice.type(`long-${'x'.repeat(300)}`);
    await alice.waitFor(/\[!1\] +you: long-x+/);
    await alice.waitFor(/failed \(SEND failed: MESSAGE_TOO_LARGE[^)]*\): \/retry 1/);
    await alice.type('/retry 2');
    await alice.waitFor(/! no failed message 2: there are 1/);

    await server.down();
    await alice.waitFor(/parley · alice · (offline|connecting)/);
    await alice.type('while down');
    await alice.waitFor(/you: while down · sending/);
    await alice.waitFor(/1 queued/);
    await server.up(); // now with the default limit
    await alice.waitFor(/parley · alice · online/, 60_000);
    await alice.waitFor(/you: while down · (delivered|read)/, 60_000);
    await waitFor('bob to get the queued message', () => bobSaw.find((m) => m.content.text === 'while down'), 60_000);
    assert.equal(bobSaw.filter((m) => m.content.text === 'while down').length, 1);
    // The failed message goes out on /retry, after the one queued later (retry order).
    await alice.type('/retry 1');
    await alice.waitFor(/you: long-[x\s]+ · (delivered|read)/);
    assert.doesNotMatch(await alice.screen(), /failed/);
    await waitFor('bob to get the retried message', () => bobSaw.find((m) => m.content.text?.startsWith('long-')));
  });

  test('Ctrl-C quits cleanly', async () => {
    await alice.keys('C-c');
    const screen = await alice.waitFor(/EXIT=0/);
    assert.match(screen, /bye/);
  });
});
