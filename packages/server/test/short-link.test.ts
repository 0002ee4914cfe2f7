import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Command, ErrorCode, type Frame, FrameCodec, FrameDecoder, pb } from '@parley/protocol';
import { TestServer } from './helpers/server.js';

const codec = new FrameCodec();

describe('short link: protocol requests over HTTP', () => {
  let ts: TestServer;
  let url = '';
  before(async () => {
    ts = await TestServer.start();
    url = `http://127.0.0.1:${String(ts.port('ws'))}/v1/link`;
  });
  after(async () => {
    await ts.stop();
  });

  async function post(
    body: Uint8Array,
    headers: Record<string, string>,
  ): Promise<{ status: number; frames: Frame[]; text: string }> {
    const res = await fetch(url, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/x-parley-frame', ...headers },
    });
    const bytes = new Uint8Array(await res.arrayBuffer());
    const frames: Frame[] = [];
    if (res.headers.get('content-type')?.startsWith('application/x-parley-frame')) {
      new FrameDecoder().push(bytes, (f) => frames.push({ ...f, body: f.body.slice() }));
    }
    return { status: res.status, frames, text: new TextDecoder().decode(bytes) };
  }

  test('a send over HTTP is stored, acked once, and pushed to the long-link recipient', async () => {
    const bob = await ts.login('sl-bob');
    const token = await ts.token('sl-alice');
    const create = codec.request(Command.CONV_CREATE, 1, { type: pb.ConversationType.DIRECT, memberIds: ['sl-bob'] });
    const r1 = await post(create, { authorization: `Bearer ${token}`, 'x-parley-device': 'web-fallback' });
    assert.equal(r1.status, 200);
    const convId = codec.decodeResponse(Command.CONV_CREATE, r1.frames[0]!).state?.conversation?.conversationId ?? '';
    assert.ok(convId);
    const send = (seq: number) =>
      codec.request(Command.SEND, seq, {
        conversationId: convId,
        clientMessageId: 'sl-1',
        content: { type: pb.MessageType.TEXT, text: 'over http' },
      });
    // Two frames in one call, the second a resend of the first: one message, two identical acks.
    const r2 = await post(Buffer.concat([send(2), send(3)]), {
      authorization: `Bearer ${token}`,
      'x-parley-device': 'web-fallback',
    });
    const acks = r2.frames.map((f) => codec.decodeResponse(Command.SEND, f));
    assert.equal(acks.length, 2);
    assert.equal(acks[0]!.seq, acks[1]!.seq);
    assert.deepEqual(acks.map((a) => a.duplicate).sort(), [false, true]);
    const push = await bob.nextPush(Command.MESSAGE);
    assert.equal(push.message?.content?.text, 'over http');
    assert.equal(push.message?.senderDeviceId, 'web-fallback');
    bob.destroy();
  });

  test('requests that need a live link, bad tokens and bad bodies get typed errors', async () => {
    const token = await ts.token('sl-carol');
    const join = codec.request(Command.ROOM_JOIN, 5, { roomId: 'r' });
    const r = await post(join, { authorization: `Bearer ${token}`, 'x-parley-device': 'd' });
    assert.equal(codec.responseStatus(r.frames[0]!).code, ErrorCode.UNSUPPORTED);
    const noAuth = await post(join, {});
    assert.equal(noAuth.status, 401);
    assert.match(noAuth.text, /UNAUTHENTICATED/);
    const expired = await post(join, {
      authorization: `Bearer ${await ts.token('sl-carol', { ttlSeconds: -5 })}`,
      'x-parley-device': 'd',
    });
    assert.equal(expired.status, 401);
    assert.match(expired.text, /TOKEN_EXPIRED/);
    const garbage = await post(new TextEncoder().encode('GET / HTTP/1.1'), {
      authorization: `Bearer ${token}`,
      'x-parley-device': 'd',
    });
    assert.equal(garbage.status, 400);
    const noDevice = await post(join, { authorization: `Bearer ${token}` });
    assert.equal(noDevice.status, 400);
    const nonMember = await post(codec.request(Command.SYNC_MESSAGES, 9, { conversationId: 'g_x', fromSeq: 1 }), {
      authorization: `Bearer ${token}`,
      'x-parley-device': 'd',
    });
    assert.equal(codec.responseStatus(nonMember.frames[0]!).code, ErrorCode.NOT_FOUND);
  });
});
