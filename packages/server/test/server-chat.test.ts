import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Command, ErrorCode, ParleyError, pb } from '@parley/protocol';
import { directConversationId } from '../src/index.js';
import { TestServer, type Transport } from './helpers/server.js';
import type { TestClient } from './helpers/test-client.js';

const text = (t: string) => ({ type: pb.MessageType.TEXT, text: t });
let cid = 0;
const nextId = () => `cm-${String(++cid)}`;

async function rejectsWith(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(p, (err: unknown) => err instanceof ParleyError && err.code === code);
}

describe('server: conversations and delivery', () => {
  let ts: TestServer;
  const clients: TestClient[] = [];
  const track = <T extends TestClient>(c: T): T => {
    clients.push(c);
    return c;
  };

  before(async () => {
    ts = await TestServer.start({
      limits: { sendsPerSecond: 10_000, sendBurst: 10_000, requestsPerSecond: 10_000, requestBurst: 10_000 },
    });
  });
  after(async () => {
    for (const c of clients) c.destroy();
    await ts.stop();
  });

  for (const transport of ['tcp', 'tls', 'ws'] as Transport[]) {
    test(`two users chat 1:1 over ${transport} with acks and receipts`, async () => {
      const alice = track(await ts.login(`alice-${transport}`, transport));
      const bob = track(await ts.login(`bob-${transport}`, transport));
      const created = await alice.request(Command.CONV_CREATE, {
        type: pb.ConversationType.DIRECT,
        memberIds: [`bob-${transport}`],
      });
      const convId = created.state?.conversation?.conversationId ?? '';
      assert.equal(convId, directConversationId(`alice-${transport}`, `bob-${transport}`));
      assert.equal(created.created, true);
      // Bob asking for the same pair gets the same conversation.
      const again = await bob.request(Command.CONV_CREATE, {
        type: pb.ConversationType.DIRECT,
        memberIds: [`alice-${transport}`],
      });
      assert.equal(again.state?.conversation?.conversationId, convId);
      assert.equal(again.created, false);

      const ack = await alice.request(Command.SEND, {
        conversationId: convId,
        clientMessageId: nextId(),
        content: text('hi bob'),
      });
      assert.equal(ack.seq, 1);
      assert.ok(ack.messageId.length > 0);
      assert.ok(ack.serverTime > 0);
      const push = await bob.nextPush(Command.MESSAGE);
      assert.equal(push.message?.seq, 1);
      assert.equal(push.message?.content?.text, 'hi bob');
      assert.equal(push.message?.senderId, `alice-${transport}`);

      await bob.request(Command.CURSOR, { conversationId: convId, kind: pb.CursorKind.DELIVERED, seq: 1 });
      const delivered = await alice.nextPush(Command.CURSOR);
      assert.equal(delivered.kind, pb.CursorKind.DELIVERED);
      assert.equal(delivered.userId, `bob-${transport}`);
      const read = await bob.request(Command.CURSOR, { conversationId: convId, kind: pb.CursorKind.READ, seq: 1 });
      assert.equal(read.unread, 0);
      const readPush = await alice.nextPush(Command.CURSOR, { where: (p) => p.kind === pb.CursorKind.READ });
      assert.equal(readPush.seq, 1);
    });
  }

  test('a group of 50 across TCP, TLS and WS gets every message in order', async () => {
    const transports: Transport[] = ['tcp', 'tls', 'ws'];
    const members = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => track(await ts.login(`g50-${String(i)}`, transports[i % 3]))),
    );
    const owner = members[0]!;
    const created = await owner.request(Command.CONV_CREATE, {
      type: pb.ConversationType.GROUP,
      name: 'fifty',
      memberIds: members.slice(1).map((_, i) => `g50-${String(i + 1)}`),
    });
    const convId = created.state?.conversation?.conversationId ?? '';
    assert.equal(created.state?.conversation?.memberCount, 50);
    assert.equal(created.state?.role, pb.MemberRole.OWNER);
    for (let i = 0; i < 5; i++) {
      await owner.request(Command.SEND, {
        conversationId: convId,
        clientMessageId: nextId(),
        content: text(`m${String(i)}`),
      });
    }
    for (const m of members.slice(1)) {
      // seq 1 is the CONVERSATION_CREATED system message.
      const system = await m.nextPush(Command.MESSAGE);
      assert.equal(system.message?.content?.type, pb.MessageType.SYSTEM);
      const seqs: number[] = [];
      for (let i = 0; i < 5; i++) seqs.push((await m.nextPush(Command.MESSAGE)).message?.seq ?? 0);
      assert.deepEqual(seqs, [2, 3, 4, 5, 6]);
    }
  });

  test('a chat room of 500 connections', async () => {
    const n = 500;
    const people = await Promise.all(
      Array.from({ length: n }, async (_, i) => track(await ts.login(`room-${String(i)}`, 'tcp'))),
    );
    for (const p of people) await p.request(Command.ROOM_JOIN, { roomId: 'live-1' });
    const ack = await people[0]!.request(Command.SEND, {
      conversationId: 'live-1',
      clientMessageId: nextId(),
      content: text('hello room'),
    });
    assert.ok(ack.seq > 0);
    await Promise.all(
      people.slice(1).map(async (p) => {
        const push = await p.nextPush(Command.MESSAGE, { where: (x) => x.message?.conversationId === 'live-1' });
        assert.equal(push.message?.content?.text, 'hello room');
        assert.equal(push.message?.conversationType, pb.ConversationType.ROOM);
      }),
    );
    const info = await people[7]!.nextPush(Command.ROOM_INFO, { timeoutMs: 5_000, where: (x) => x.onlineCount === n });
    assert.equal(info.roomId, 'live-1');
    // A late joiner sees the recent history.
    const late = track(await ts.login('room-late'));
    const joined = await late.request(Command.ROOM_JOIN, { roomId: 'live-1', recentLimit: 10 });
    assert.equal(joined.onlineCount, n + 1);
    assert.equal(joined.recent.at(-1)?.content?.text, 'hello room');
    // Outsiders cannot post.
    const outsider = track(await ts.login('room-outsider'));
    await rejectsWith(
      outsider.request(Command.SEND, { conversationId: 'live-1', clientMessageId: nextId(), content: text('x') }),
      ErrorCode.NOT_MEMBER,
    );
  });

  test('multi-device: every device gets messages; the sender’s other devices too', async () => {
    const phone = track(await ts.login('md-carol', 'tcp', { deviceId: 'phone' }));
    const laptop = track(await ts.login('md-carol', 'ws', { deviceId: 'laptop' }));
    const dave = track(await ts.login('md-dave'));
    const conv = await dave.request(Command.CONV_CREATE, { type: pb.ConversationType.DIRECT, memberIds: ['md-carol'] });
    const convId = conv.state?.conversation?.conversationId ?? '';
    await dave.request(Command.SEND, { conversationId: convId, clientMessageId: nextId(), content: text('to both') });
    assert.equal((await phone.nextPush(Command.MESSAGE)).message?.content?.text, 'to both');
    assert.equal((await laptop.nextPush(Command.MESSAGE)).message?.content?.text, 'to both');
    await phone.request(Command.SEND, {
      conversationId: convId,
      clientMessageId: nextId(),
      content: text('from phone'),
    });
    assert.equal((await laptop.nextPush(Command.MESSAGE)).message?.content?.text, 'from phone');
    assert.equal((await dave.nextPush(Command.MESSAGE)).message?.content?.text, 'from phone');
    assert.equal(phone.pushes(Command.MESSAGE).length, 0);
    // Reading on the phone moves the laptop's read state (its own message already counts as read).
    await dave.request(Command.SEND, { conversationId: convId, clientMessageId: nextId(), content: text('read me') });
    await phone.nextPush(Command.MESSAGE);
    await laptop.nextPush(Command.MESSAGE);
    await phone.request(Command.CURSOR, { conversationId: convId, kind: pb.CursorKind.READ, seq: 3 });
    const cur = await laptop.nextPush(Command.CURSOR, { where: (p) => p.userId === 'md-carol' });
    assert.equal(cur.seq, 3);
  });

  test('an offline user gets every message in order at sync', async () => {
    const erin = track(await ts.login('off-erin'));
    const frank = await ts.login('off-frank');
    const conv = await erin.request(Command.CONV_CREATE, {
      type: pb.ConversationType.DIRECT,
      memberIds: ['off-frank'],
    });
    const convId = conv.state?.conversation?.conversationId ?? '';
    const login = await frank.request(Command.SYNC_CONVERSATIONS, { sinceVersion: 0 });
    const version = login.version;
    frank.destroy();
    for (let i = 0; i < 30; i++) {
      await erin.request(Command.SEND, {
        conversationId: convId,
        clientMessageId: nextId(),
        content: text(`n${String(i)}`),
      });
    }
    const back = track(await ts.connect('tcp'));
    const lr = await back.login(await ts.token('off-frank'), { conversationVersion: version });
    assert.ok(lr.conversationVersion > version);
    const changes = await back.request(Command.SYNC_CONVERSATIONS, { sinceVersion: version });
    const state = changes.conversations.find((c) => c.conversation?.conversationId === convId);
    assert.ok(state);
    assert.equal(state.unread, 30);
    assert.equal(state.lastMessage?.seq, 30);
    const got: string[] = [];
    let from = 1;
    for (;;) {
      const page = await back.request(Command.SYNC_MESSAGES, { conversationId: convId, fromSeq: from, limit: 7 });
      got.push(...page.messages.map((m) => m.content?.text ?? ''));
      if (!page.hasMore) break;
      from = (page.messages.at(-1)?.seq ?? 0) + 1;
    }
    assert.deepEqual(
      got,
      Array.from({ length: 30 }, (_, i) => `n${String(i)}`),
    );
    const hist = await back.request(Command.HISTORY, { conversationId: convId, limit: 5 });
    assert.deepEqual(
      hist.messages.map((m) => m.seq),
      [30, 29, 28, 27, 26],
    );
    assert.equal(hist.hasMore, true);
  });

  test('the same client message id sent three times is stored once', async () => {
    const gina = track(await ts.login('dup-gina'));
    const hank = track(await ts.login('dup-hank'));
    const conv = await gina.request(Command.CONV_CREATE, { type: pb.ConversationType.DIRECT, memberIds: ['dup-hank'] });
    const convId = conv.state?.conversation?.conversationId ?? '';
    const id = nextId();
    const acks = await Promise.all(
      [1, 2, 3].map(() =>
        gina.request(Command.SEND, { conversationId: convId, clientMessageId: id, content: text('once') }),
      ),
    );
    assert.equal(new Set(acks.map((a) => a.messageId)).size, 1);
    assert.equal(new Set(acks.map((a) => a.seq)).size, 1);
    assert.equal(acks.filter((a) => a.duplicate).length, 2);
    await hank.nextPush(Command.MESSAGE);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(hank.pushes(Command.MESSAGE).length, 0);
    const range = await hank.request(Command.SYNC_MESSAGES, { conversationId: convId, fromSeq: 1 });
    assert.equal(range.messages.length, 1);
  });

  test('recall, typing, presence and unread counts', async () => {
    const ivy = track(await ts.login('rt-ivy'));
    const jack = track(await ts.login('rt-jack'));
    const conv = await ivy.request(Command.CONV_CREATE, { type: pb.ConversationType.DIRECT, memberIds: ['rt-jack'] });
    const convId = conv.state?.conversation?.conversationId ?? '';
    // presence: jack follows ivy
    const subscribed = await jack.request(Command.PRESENCE_SUBSCRIBE, { userIds: ['rt-ivy'] });
    assert.equal(subscribed.users[0]?.online, true);
    await rejectsWith(jack.request(Command.PRESENCE_QUERY, { userIds: ['stranger'] }), ErrorCode.PERMISSION_DENIED);
    // typing
    await ivy.request(Command.TYPING, { conversationId: convId, typing: true });
    const typing = await jack.nextPush(Command.TYPING);
    assert.equal(typing.userId, 'rt-ivy');
    assert.equal(typing.typing, true);
    // unread
    for (let i = 0; i < 3; i++)
      await ivy.request(Command.SEND, {
        conversationId: convId,
        clientMessageId: nextId(),
        content: text(`u${String(i)}`),
      });
    const got = await jack.request(Command.CONV_GET, { conversationId: convId });
    assert.equal(got.state?.unread, 3);
    const own = await ivy.request(Command.CONV_GET, { conversationId: convId });
    assert.equal(own.state?.unread, 0);
    // recall
    const r = await ivy.request(Command.RECALL, { conversationId: convId, seq: 2 });
    assert.equal(r.recallSeq, 4);
    const pushes = await jack.waitForPushes(Command.MESSAGE, 4, 3000);
    const recallPush = pushes.find((p) => p.message?.content?.type === pb.MessageType.RECALL);
    assert.equal(recallPush?.message?.content?.recallTargetSeq, 2);
    const range = await jack.request(Command.SYNC_MESSAGES, { conversationId: convId, fromSeq: 2, toSeq: 2 });
    assert.equal(range.messages[0]?.recalled, true);
    assert.equal(range.messages[0]?.content?.text ?? '', '');
    await rejectsWith(jack.request(Command.RECALL, { conversationId: convId, seq: 1 }), ErrorCode.PERMISSION_DENIED);
    // presence: ivy goes offline
    ivy.destroy();
    const off = await jack.nextPush(Command.PRESENCE, { where: (p) => p.user?.online === false });
    assert.equal(off.user?.userId, 'rt-ivy');
  });

  test('group roles: admins add and remove, members cannot, the owner hands over', async () => {
    const owner = track(await ts.login('role-owner'));
    const m1 = track(await ts.login('role-m1'));
    const conv = await owner.request(Command.CONV_CREATE, {
      type: pb.ConversationType.GROUP,
      name: 'roles',
      memberIds: ['role-m1'],
    });
    const convId = conv.state?.conversation?.conversationId ?? '';
    await rejectsWith(
      m1.request(Command.MEMBERS_ADD, { conversationId: convId, userIds: ['role-x'] }),
      ErrorCode.PERMISSION_DENIED,
    );
    await owner.request(Command.MEMBER_ROLE, { conversationId: convId, userId: 'role-m1', role: pb.MemberRole.ADMIN });
    const added = await m1.request(Command.MEMBERS_ADD, { conversationId: convId, userIds: ['role-x', 'role-y'] });
    assert.deepEqual([...added.changed].sort(), ['role-x', 'role-y']);
    const removed = await m1.request(Command.MEMBERS_REMOVE, { conversationId: convId, userIds: ['role-y'] });
    assert.deepEqual(removed.changed, ['role-y']);
    await rejectsWith(
      m1.request(Command.MEMBERS_REMOVE, { conversationId: convId, userIds: ['role-owner'] }),
      ErrorCode.PERMISSION_DENIED,
    );
    const list = await owner.request(Command.MEMBERS_LIST, { conversationId: convId });
    assert.deepEqual(list.members.map((m) => m.userId).sort(), ['role-m1', 'role-owner', 'role-x']);
    // speak mute
    await m1.request(Command.MEMBER_SPEAK_MUTE, {
      conversationId: convId,
      userId: 'role-x',
      until: Date.now() + 60_000,
    });
    const x = track(await ts.login('role-x'));
    await rejectsWith(
      x.request(Command.SEND, { conversationId: convId, clientMessageId: nextId(), content: text('muted?') }),
      ErrorCode.SPEAK_MUTED,
    );
    // the owner leaves: the admin becomes owner
    await owner.request(Command.CONV_LEAVE, { conversationId: convId });
    const state = await m1.request(Command.CONV_GET, { conversationId: convId });
    assert.equal(state.state?.role, pb.MemberRole.OWNER);
    await rejectsWith(
      owner.request(Command.SEND, { conversationId: convId, clientMessageId: nextId(), content: text('gone') }),
      ErrorCode.NOT_MEMBER,
    );
  });
});

describe('server: durability across restarts', () => {
  test('a restarted server keeps every acked message and still dedupes', async () => {
    let ts = await TestServer.start();
    try {
      const a = await ts.login('rs-a');
      const conv = await a.request(Command.CONV_CREATE, { type: pb.ConversationType.DIRECT, memberIds: ['rs-b'] });
      const convId = conv.state?.conversation?.conversationId ?? '';
      const acks = [];
      for (let i = 0; i < 20; i++) {
        acks.push(
          await a.request(Command.SEND, {
            conversationId: convId,
            clientMessageId: `rs-${String(i)}`,
            content: text(`r${String(i)}`),
          }),
        );
      }
      a.destroy();
      ts = await ts.restart();
      const b = await ts.login('rs-b');
      const range = await b.request(Command.SYNC_MESSAGES, { conversationId: convId, fromSeq: 1 });
      assert.deepEqual(
        range.messages.map((m) => m.messageId),
        acks.map((x) => x.messageId),
      );
      const a2 = await ts.login('rs-a');
      const resend = await a2.request(Command.SEND, {
        conversationId: convId,
        clientMessageId: 'rs-7',
        content: text('r7'),
      });
      assert.equal(resend.duplicate, true);
      assert.equal(resend.seq, acks[7]!.seq);
      a2.destroy();
      b.destroy();
    } finally {
      await ts.stop();
    }
  });
});
