import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Command, ErrorCode, pb } from '@parley/protocol';
import { issueToken } from '../src/index.js';
import { TestServer } from './helpers/server.js';
import type { TestClient } from './helpers/test-client.js';

describe('server: message types, limits and rooms', () => {
  let ts: TestServer;
  let a: TestClient;
  let b: TestClient;
  let convId = '';
  let n = 0;
  const send = (content: pb.MessageContent.$Properties) =>
    a.requestRaw(Command.SEND, { conversationId: convId, clientMessageId: `mt-${String(++n)}`, content });

  before(async () => {
    ts = await TestServer.start({ limits: { maxMessageBytes: 2048, recallWindowMs: 300, roomsRequireToken: true } });
    a = await ts.login('mt-a');
    b = await ts.login('mt-b');
    const conv = await a.request(Command.CONV_CREATE, { type: pb.ConversationType.DIRECT, memberIds: ['mt-b'] });
    convId = conv.state?.conversation?.conversationId ?? '';
  });
  after(async () => {
    a.destroy();
    b.destroy();
    await ts.stop();
  });

  test('custom JSON and attachment references are stored and delivered as sent', async () => {
    const custom = await send({ type: pb.MessageType.CUSTOM, custom: '{"kind":"location","lat":1.5}' });
    assert.equal(custom.status.code, ErrorCode.OK);
    const attachment = await send({
      type: pb.MessageType.ATTACHMENT,
      text: 'holiday',
      attachments: [
        { url: 'https://cdn.example/p.jpg', mimeType: 'image/jpeg', size: 123456, width: 800, height: 600 },
      ],
      mentions: ['mt-b'],
    });
    assert.equal(attachment.status.code, ErrorCode.OK);
    const p1 = await b.nextPush(Command.MESSAGE);
    assert.equal(p1.message?.content?.custom, '{"kind":"location","lat":1.5}');
    const p2 = await b.nextPush(Command.MESSAGE);
    assert.equal(p2.message?.content?.attachments?.[0]?.url, 'https://cdn.example/p.jpg');
    assert.equal(p2.message?.content?.attachments?.[0]?.size, 123456);
    const state = await b.request(Command.CONV_GET, { conversationId: convId });
    assert.equal(state.state?.mentionUnread, 1);
  });

  test('bad content gets INVALID_ARGUMENT and stores nothing', async () => {
    const before = await b.request(Command.CONV_GET, { conversationId: convId });
    const cases: pb.MessageContent.$Properties[] = [
      { type: pb.MessageType.TEXT, text: '' },
      { type: pb.MessageType.CUSTOM, custom: '{not json' },
      { type: pb.MessageType.ATTACHMENT, attachments: [] },
      { type: pb.MessageType.ATTACHMENT, attachments: [{ url: 'javascript:alert(1)' }] },
      { type: pb.MessageType.SYSTEM, system: { type: pb.SystemEventType.NOTICE, text: 'fake' } },
      { type: pb.MessageType.RECALL, recallTargetSeq: 1 },
      { type: pb.MessageType.TEXT, text: 'x', mentions: [''] },
    ];
    for (const content of cases) {
      const r = await send(content);
      assert.equal(r.status.code, ErrorCode.INVALID_ARGUMENT, JSON.stringify(content));
    }
    const noId = await a.requestRaw(Command.SEND, {
      conversationId: convId,
      clientMessageId: '',
      content: { type: pb.MessageType.TEXT, text: 'x' },
    });
    assert.equal(noId.status.code, ErrorCode.INVALID_ARGUMENT);
    const after = await b.request(Command.CONV_GET, { conversationId: convId });
    assert.equal(after.state?.conversation?.lastSeq, before.state?.conversation?.lastSeq);
  });

  test('a message over the size limit gets MESSAGE_TOO_LARGE', async () => {
    const r = await send({ type: pb.MessageType.TEXT, text: 'y'.repeat(3000) });
    assert.equal(r.status.code, ErrorCode.MESSAGE_TOO_LARGE);
    const unknown = await a.requestRaw(Command.SEND, {
      conversationId: 'g_nope',
      clientMessageId: 'z',
      content: { type: pb.MessageType.TEXT, text: 'x' },
    });
    assert.equal(unknown.status.code, ErrorCode.NOT_FOUND);
  });

  test('recall only within the window', async () => {
    const sent = await a.request(Command.SEND, {
      conversationId: convId,
      clientMessageId: 'rw-1',
      content: { type: pb.MessageType.TEXT, text: 'oops' },
    });
    await new Promise((r) => setTimeout(r, 400));
    const late = await a.requestRaw(Command.RECALL, { conversationId: convId, seq: sent.seq });
    assert.equal(late.status.code, ErrorCode.RECALL_WINDOW_PASSED);
  });

  test('token-gated rooms need a join token for that user and room', async () => {
    const denied = await a.requestRaw(Command.ROOM_JOIN, { roomId: 'vip' });
    assert.equal(denied.status.code, ErrorCode.PERMISSION_DENIED);
    const otherRoom = await issueToken({ secret: ts.server.appSecret, userId: 'mt-a', room: 'other' });
    assert.equal(
      (await a.requestRaw(Command.ROOM_JOIN, { roomId: 'vip', joinToken: otherRoom })).status.code,
      ErrorCode.PERMISSION_DENIED,
    );
    const otherUser = await issueToken({ secret: ts.server.appSecret, userId: 'mt-b', room: 'vip' });
    assert.equal(
      (await a.requestRaw(Command.ROOM_JOIN, { roomId: 'vip', joinToken: otherUser })).status.code,
      ErrorCode.PERMISSION_DENIED,
    );
    const good = await issueToken({ secret: ts.server.appSecret, userId: 'mt-a', room: 'vip' });
    const joined = await a.request(Command.ROOM_JOIN, { roomId: 'vip', joinToken: good });
    assert.equal(joined.onlineCount, 1);
    await a.request(Command.ROOM_LEAVE, { roomId: 'vip' });
    assert.equal(ts.server.ctx.rooms.onlineCount('vip'), 0);
  });
});
