import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { connect as netConnect } from 'node:net';
import { Command, ErrorCode, type Frame, FrameCodec, FrameDecoder, pb, writeHeader } from '@parley/protocol';
import { TestServer } from './helpers/server.js';

const text = (t: string) => ({ type: pb.MessageType.TEXT, text: t });

describe('server: sessions', () => {
  test('a second login with the same device id replaces the first', async () => {
    const ts = await TestServer.start();
    try {
      const first = await ts.login('dev-user', 'tcp', { deviceId: 'phone-1' });
      const second = await ts.login('dev-user', 'ws', { deviceId: 'phone-1' });
      const { kick } = await first.closed;
      assert.equal(kick?.reason, ErrorCode.REPLACED_BY_DEVICE);
      const pong = await second.request(Command.PING, {});
      assert.ok(pong);
      second.destroy();
    } finally {
      await ts.stop();
    }
  });

  test('one-per-platform policy keeps the newest phone but any number of web tabs', async () => {
    const ts = await TestServer.start({ limits: { platformPolicy: 'one-per-platform' } });
    try {
      const phoneA = await ts.login('pp', 'tcp', { deviceId: 'a', platform: pb.Platform.IOS });
      const web1 = await ts.login('pp', 'ws', { deviceId: 'w1', platform: pb.Platform.WEB });
      const web2 = await ts.login('pp', 'ws', { deviceId: 'w2', platform: pb.Platform.WEB });
      const phoneB = await ts.login('pp', 'tcp', { deviceId: 'b', platform: pb.Platform.IOS });
      assert.equal((await phoneA.closed).kick?.reason, ErrorCode.REPLACED_BY_PLATFORM);
      for (const c of [web1, web2, phoneB]) assert.ok(await c.request(Command.PING, {}));
      for (const c of [web1, web2, phoneB]) c.destroy();
    } finally {
      await ts.stop();
    }
  });

  test('a silent connection is closed after its heartbeat interval plus grace', async () => {
    const ts = await TestServer.start({ limits: { heartbeatMinMs: 200, heartbeatGraceMs: 300 } });
    try {
      const chatty = await ts.login('hb-chatty', 'tcp', { heartbeatIntervalMs: 300 });
      const silent = await ts.connect('tcp');
      const lr = await silent.login(await ts.token('hb-silent'), { heartbeatIntervalMs: 300 });
      assert.equal(lr.heartbeatIntervalMs, 300);
      const started = Date.now();
      const timer = setInterval(() => {
        void chatty.request(Command.PING, {});
      }, 150);
      await silent.closed;
      const waited = Date.now() - started;
      clearInterval(timer);
      assert.ok(waited >= 550 && waited < 3_000, `closed after ${String(waited)} ms`);
      assert.ok(await chatty.request(Command.PING, {}), 'the pinging client stays');
      const metrics = await ts.server.ctx.metrics.heartbeatTimeouts.get();
      assert.equal(metrics.values[0]?.value, 1);
      chatty.destroy();
    } finally {
      await ts.stop();
    }
  });

  test('sends over the rate limit get RATE_LIMITED with a retry hint', async () => {
    const ts = await TestServer.start({ limits: { sendsPerSecond: 5, sendBurst: 5 } });
    try {
      const a = await ts.login('rl-a');
      const conv = await a.request(Command.CONV_CREATE, { type: pb.ConversationType.DIRECT, memberIds: ['rl-b'] });
      const id = conv.state?.conversation?.conversationId ?? '';
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          a.requestRaw(Command.SEND, { conversationId: id, clientMessageId: `rl-${String(i)}`, content: text('x') }),
        ),
      );
      const limited = results.filter((r) => r.status.code === ErrorCode.RATE_LIMITED);
      assert.equal(limited.length, 5);
      assert.ok((limited[0]?.status.retryAfterMs ?? 0) > 0);
      a.destroy();
    } finally {
      await ts.stop();
    }
  });

  test('shutdown sends GOAWAY with a delay, and keeps acked messages', async () => {
    const ts = await TestServer.start({ shutdown: { goawayDelayMs: 1234 } });
    const a = await ts.login('sd-a');
    const conv = await a.request(Command.CONV_CREATE, { type: pb.ConversationType.DIRECT, memberIds: ['sd-b'] });
    const id = conv.state?.conversation?.conversationId ?? '';
    const ack = await a.request(Command.SEND, {
      conversationId: id,
      clientMessageId: 'sd-1',
      content: text('before stop'),
    });
    await ts.server.stop();
    const { goaway } = await a.closed;
    assert.equal(goaway?.reconnectDelayMs, 1234);
    assert.equal(goaway?.reason, ErrorCode.SHUTTING_DOWN);
    const again = await TestServer.start({}, {}, ts.dataDir);
    try {
      const b = await again.login('sd-b');
      const range = await b.request(Command.SYNC_MESSAGES, { conversationId: id, fromSeq: 1 });
      assert.equal(range.messages[0]?.messageId, ack.messageId);
      b.destroy();
    } finally {
      await again.stop();
    }
  });

  test('unknown commands get UNKNOWN_COMMAND and the connection stays', async () => {
    const ts = await TestServer.start();
    try {
      const codec = new FrameCodec();
      const login = codec.request(Command.LOGIN, 1, { token: await ts.token('uc'), deviceId: 'd' });
      const unknown = new Uint8Array(14);
      writeHeader(unknown, 0, { command: 0x7777, seq: 2, flags: 0, length: 0 });
      const ping = codec.request(Command.PING, 3, {});
      const frames: Frame[] = [];
      await new Promise<void>((resolve, reject) => {
        const decoder = new FrameDecoder();
        const s = netConnect(ts.port('tcp'), '127.0.0.1', () => s.write(Buffer.concat([login, unknown, ping])));
        s.on('data', (chunk) => {
          decoder.push(chunk, (f) => frames.push(f));
          if (frames.length === 3) {
            s.destroy();
            resolve();
          }
        });
        s.on('error', reject);
      });
      // Responses may come in any order (the login awaits its token check): match by seq.
      frames.sort((a, b) => a.seq - b.seq);
      assert.deepEqual(
        frames.map((f) => f.seq),
        [1, 2, 3],
      );
      assert.equal(codec.responseStatus(frames[1]!).code, ErrorCode.UNKNOWN_COMMAND);
      assert.equal(frames[1]!.command, 0x7777);
      assert.equal(codec.responseStatus(frames[2]!).code, ErrorCode.OK);
    } finally {
      await ts.stop();
    }
  });
});
