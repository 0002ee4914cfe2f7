// The pure parts of `parley chat`: reading typed lines, the text of the screen, the message
// log, and the flags.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type ChatMessage, type ConversationView, MemoryKeyValueStore, pb } from '@parley/client';
import { parseInput, splitArgs } from '../src/chat/commands.js';
import { ChatModel, TYPING_SHOWN_MS, conversationTitle } from '../src/chat/model.js';
import { ChatUsageError, chatOptions } from '../src/chat/options.js';
import { resolveConversation } from '../src/chat/resolve.js';
import { TypingSender } from '../src/chat/typing-sender.js';
import { textWidth } from '../src/chat/text-width.js';
import { entryLines, listRow, sanitize, statusText, truncate, typingText, wrap } from '../src/chat/render.js';

function message(seq: number, text: string, senderId = 'bob', extra: Partial<ChatMessage> = {}): ChatMessage {
  return {
    conversationId: 'c1',
    seq,
    messageId: `m${String(seq)}`,
    senderId,
    senderDeviceId: 'd',
    clientMessageId: `l${String(seq)}`,
    serverTime: 0,
    content: { type: pb.MessageType.TEXT, text },
    recalled: false,
    conversationType: pb.ConversationType.DIRECT,
    ...extra,
  };
}

function view(extra: Partial<ConversationView> = {}): ConversationView {
  return {
    id: 'd_abcdefghijklmnop',
    type: pb.ConversationType.DIRECT,
    name: '',
    attributes: '',
    ownerId: '',
    memberCount: 2,
    role: pb.MemberRole.MEMBER,
    lastMessage: undefined,
    lastSeq: 0,
    unread: 0,
    mentionUnread: 0,
    readSeq: 0,
    deliveredSeq: 0,
    peerReadSeq: 0,
    peerDeliveredSeq: 0,
    notificationsMuted: false,
    mutedUntil: 0,
    createdAt: 0,
    updatedAt: 0,
    activityAt: 0,
    ...extra,
  };
}

describe('chat input', () => {
  test('plain text is a message in a conversation, a number opens from the list', () => {
    assert.deepEqual(parseInput('hello there ', true), { kind: 'send', text: 'hello there' });
    assert.deepEqual(parseInput('2', false), { kind: 'open', target: '2' });
    assert.deepEqual(parseInput('2', true), { kind: 'send', text: '2' });
    assert.deepEqual(parseInput('//etc/passwd', true), { kind: 'send', text: '/etc/passwd' });
  });

  test('commands and their arguments', () => {
    assert.deepEqual(parseInput('/OPEN the team', false), { kind: 'open', target: 'the team' });
    assert.deepEqual(parseInput('/dm bob', false), { kind: 'dm', userId: 'bob' });
    assert.deepEqual(parseInput('/group "our team" bob carol bob', false), {
      kind: 'group',
      name: 'our team',
      members: ['bob', 'carol'],
    });
    assert.deepEqual(parseInput('/retry', true), { kind: 'retry', which: 'all' });
    assert.deepEqual(parseInput('/retry 2', true), { kind: 'retry', which: 2 });
    for (const quit of ['/q', '/quit', '/exit']) assert.deepEqual(parseInput(quit, true), { kind: 'quit' });
    assert.deepEqual(splitArgs('a "b c" d'), ['a', 'b c', 'd']);
  });

  test('bad input is an error with a clear message, never an exception', () => {
    const errors: [string, boolean, RegExp][] = [
      ['/nope', true, /unknown command \/nope: type \/help/],
      ['   ', true, /empty message: nothing sent/],
      ['hi', false, /no conversation open/],
      ['/open', false, /usage: \/open N\|NAME/],
      ['/dm', false, /usage: \/dm USER/],
      ['/dm a b', false, /usage: \/dm USER/],
      ['/group x', false, /usage: \/group NAME USER/],
      ['/group "x bob', false, /unbalanced quotes/],
      ['/retry -1', true, /usage: \/retry \[N\|all\]/],
      ['/retry x', true, /usage: \/retry/],
    ];
    for (const [line, open, expected] of errors) {
      const input = parseInput(line, open);
      assert.equal(input.kind, 'error', line);
      assert.match(input.kind === 'error' ? input.message : '', expected, line);
    }
    assert.deepEqual(parseInput('', false), { kind: 'nothing' });
  });
});

describe('chat screen text', () => {
  test('control characters from other users never reach the terminal', () => {
    assert.equal(sanitize('a\x1b[2Jb\x07c\u009bd\te'), 'a[2Jbcd  e');
    const lines = entryLines(
      { kind: 'stored', message: message(1, 'x\x1b]0;owned\x07y'), own: false, state: undefined },
      80,
    );
    assert.ok(
      lines.every((l) => !l.includes('\x1b]')),
      lines.join('|'),
    );
  });

  test('wrapping and cutting keep to the width', () => {
    assert.deepEqual(wrap('one two three four', 9), ['one two', 'three', 'four']);
    assert.deepEqual(wrap('abcdefghij', 4), ['abcd', 'efgh', 'ij']);
    assert.deepEqual(wrap('a\nb', 10), ['a', 'b']);
    assert.equal(truncate('hello world', 6), 'hello…');
    assert.equal(textWidth('日本語'), 6);
    assert.equal(textWidth('e\u0301👍🏽'), 3, 'a combining accent and an emoji with a skin tone');
    assert.deepEqual(wrap('日本語のテキスト', 6), ['日本語', 'のテキ', 'スト']);
    assert.equal(truncate('日本語のテキスト', 7), '日本語…');
    const long = entryLines({ kind: 'stored', message: message(1, 'word '.repeat(40)), own: true, state: 'read' }, 40);
    assert.ok(long.length > 3);
    assert.ok(long.every((l) => textWidth(l) <= 40 + ' · read'.length));
    assert.match(long[long.length - 1] ?? '', / · read$/);
  });

  test('a list row has the number, title, unread count and last message', () => {
    const row = listRow(
      3,
      view({ unread: 2, lastMessage: message(5, 'see you', 'bob', { serverTime: Date.now() }) }),
      'bob',
      100,
    );
    assert.match(row, /^ {2}3\. bob\s+2 unread\s+\d\d:\d\d {2}bob: see you$/);
    assert.match(listRow(1, view(), 'bob', 100), /\(no messages\)/);
  });

  test('pending and failed messages say their state and how to retry', () => {
    const base = {
      localId: 'x',
      conversationId: 'c1',
      content: { type: pb.MessageType.TEXT, text: 'hi' },
      createdAt: 0,
      order: 1,
      attempts: 0,
    };
    assert.deepEqual(
      entryLines({ kind: 'pending', message: { ...base, state: 'sending' }, failedIndex: undefined }, 80),
      ['      you: hi · sending'],
    );
    const failed = entryLines(
      {
        kind: 'pending',
        message: { ...base, state: 'failed', error: { code: 3006, message: 'too large' } },
        failedIndex: 2,
      },
      80,
    );
    assert.deepEqual(failed, ['[!2]  you: hi · failed (too large): /retry 2']);
  });

  test('status and typing texts', () => {
    const s = { endpoint: 'tcp://h:1', queued: 0, lastError: undefined, retryAt: undefined };
    assert.equal(statusText({ ...s, state: 'connected' }), 'online · tcp://h:1');
    assert.equal(statusText({ ...s, state: 'connecting', queued: 2 }), 'connecting to tcp://h:1… · 2 queued');
    assert.equal(
      statusText({ ...s, state: 'backing-off', queued: 1, lastError: 'refused', retryAt: 5_000 }, 2_000),
      'offline · 1 queued · retry in 3s (refused)',
    );
    assert.equal(
      statusText({ ...s, state: 'backing-off', link: 'short', lastError: 'refused', retryAt: 5_000 }, 2_000),
      'offline · sending over HTTP · retry in 3s (refused)',
    );
    assert.equal(typingText(['bob']), 'bob is typing…');
    assert.equal(typingText(['bob', 'carol']), 'bob and carol are typing…');
    assert.equal(typingText(['a', 'b', 'c']), '3 people are typing…');
  });
});

describe('chat model', () => {
  test('merges messages by seq, applies recalls, and stays bounded', () => {
    const model = new ChatModel(new MemoryKeyValueStore(), 5);
    assert.equal(model.add('c1', [message(3, 'c'), message(2, 'b'), message(3, 'c')]), 2);
    assert.deepEqual(
      model.log('c1').messages.map((m) => m.seq),
      [2, 3],
    );
    model.add('c1', [message(4, '', 'bob', { content: { type: pb.MessageType.RECALL, recallTargetSeq: 3 } })]);
    assert.equal(model.log('c1').messages.find((m) => m.seq === 3)?.recalled, true);
    model.add(
      'c1',
      [5, 6, 7, 8].map((n) => message(n, String(n))),
    );
    assert.equal(model.log('c1').messages.length, 5);
    assert.equal(model.oldestSeq('c1'), 4);
    assert.equal(model.log('c1').hasOlder, true);
    model.add('c2', [message(1, 'first')]);
    assert.equal(model.log('c2').hasOlder, false, 'seq 1 is the start');
  });

  test('typing notices expire; peers persist', async () => {
    const storage = new MemoryKeyValueStore();
    const model = new ChatModel(storage);
    assert.equal(model.setTyping('c1', 'bob', true, 1000), true);
    assert.equal(model.setTyping('c1', 'bob', true, 1500), false, 'already shown');
    assert.deepEqual(model.typing('c1', 2000), ['bob']);
    assert.deepEqual(model.typing('c1', 1500 + TYPING_SHOWN_MS), []);
    model.setPeer('d1', 'bob');
    await new Promise((resolve) => setImmediate(resolve));
    const again = new ChatModel(storage);
    await again.load();
    assert.equal(again.peer('d1'), 'bob');
    assert.equal(conversationTitle(view({ id: 'd1' }), again.peer('d1')), 'bob');
    assert.equal(conversationTitle(view({ type: pb.ConversationType.GROUP, name: 'team' }), undefined), 'team');
  });
});

describe('chat flags', () => {
  const base = { user: 'alice', state: '/tmp/x' };

  test('the transport follows the URL, else tcp to this machine and tls elsewhere', () => {
    assert.equal(chatOptions({ ...base, server: '127.0.0.1' }).transport, 'tcp');
    assert.equal(chatOptions({ ...base, server: 'localhost' }).port, 7100);
    const remote = chatOptions({ ...base, server: 'chat.example.com' });
    assert.deepEqual([remote.transport, remote.port], ['tls', 7101]);
    const ws = chatOptions({ ...base, server: 'wss://chat.example.com/live' });
    assert.deepEqual([ws.transport, ws.port, ws.httpTls, ws.wsPath], ['ws', 443, true, '/live']);
    assert.equal(chatOptions({ ...base, server: 'tls://h:9000' }).port, 9000);
    assert.equal(chatOptions({ ...base, server: 'h', transport: 'ws', httpPort: '8080' }).port, 8080);
    assert.equal(chatOptions({ ...base, server: 'h' }).token.kind, 'dev-endpoint');
  });

  test('bad values are usage errors', () => {
    const bad: [Record<string, string>, RegExp][] = [
      [{ server: '' }, /--server is empty/],
      [{ server: 'ftp://h' }, /use http, https, ws, wss, tcp or tls URLs/],
      [{ server: 'h', transport: 'udp' }, /--transport must be tcp, tls or ws/],
      [{ server: 'h', user: ' ' }, /--user must be 1 to 128 characters/],
      [{ server: 'h', token: ' ' }, /--token is empty/],
      [{ server: 'h', tokenCommand: 'x', data: '/d' }, /give one of/],
      [{ server: 'h', wsPath: 'ws' }, /--ws-path must start with \//],
      [{ server: 'h', ca: '/nonexistent/ca.pem' }, /--ca \/nonexistent\/ca\.pem/],
      [{ server: 'h', tcpPort: '70000' }, /--tcp-port must be a port, 1 to 65535/],
      [{ server: 'h', wait: 'soon' }, /--wait must be a number of seconds/],
      [{ server: 'h', device: ' ' }, /--device must be 1 to 128 characters/],
    ];
    for (const [flags, expected] of bad) {
      assert.throws(
        () => chatOptions({ ...base, ...flags } as Parameters<typeof chatOptions>[0]),
        (err: unknown) => {
          assert.ok(err instanceof ChatUsageError);
          assert.match(err.message, expected);
          return true;
        },
      );
    }
  });
});

describe('chat conversation choice and typing', () => {
  const list = [
    view({ id: 'g1', type: pb.ConversationType.GROUP, name: 'Team Alpha' }),
    view({ id: 'g2', type: pb.ConversationType.GROUP, name: 'Team Beta' }),
    view({ id: 'd1' }),
  ];
  const title = (v: ConversationView) => v.name || 'bob';
  const peer = (v: ConversationView) => (v.id === 'd1' ? 'bob' : undefined);

  test('by number, name, peer, id or a unique prefix; otherwise why not', () => {
    assert.equal(resolveConversation(list, '2', title, peer).view?.id, 'g2');
    assert.equal(resolveConversation(list, 'team alpha', title, peer).view?.id, 'g1');
    assert.equal(resolveConversation(list, 'BOB', title, peer).view?.id, 'd1');
    assert.equal(resolveConversation(list, 'g2', title, peer).view?.id, 'g2');
    assert.equal(resolveConversation(list, 'team b', title, peer).view?.id, 'g2');
    assert.match(resolveConversation(list, 'team', title, peer).error ?? '', /"team" matches 2 conversations/);
    assert.match(resolveConversation(list, '4', title, peer).error ?? '', /no conversation 4: the list has 1 to 3/);
    assert.match(resolveConversation([], '1', title, peer).error ?? '', /the list is empty/);
    assert.match(resolveConversation(list, 'zed', title, peer).error ?? '', /no conversation matches "zed"/);
  });

  test('typing is sent when it starts, repeated while it goes on, and stopped once', () => {
    const sent: [string, boolean][] = [];
    const typing = new TypingSender((id, on) => (sent.push([id, on]), true));
    typing.keystroke('c1', '/more', 0);
    typing.keystroke('c1', 'h', 1_000);
    typing.keystroke('c1', 'he', 2_000);
    typing.keystroke('c1', 'hel', 4_500);
    typing.keystroke('c2', 'x', 5_000);
    typing.stop();
    typing.stop();
    assert.deepEqual(sent, [
      ['c1', true],
      ['c1', true],
      ['c1', false],
      ['c2', true],
      ['c2', false],
    ]);
  });
});
