import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Command, ErrorCode, FrameCodec, ParleyError, pb } from '@parley/protocol';
import { TestServer } from './helpers/server.js';
import type { TestClient } from './helpers/test-client.js';

const codec = new FrameCodec();
const text = (t: string) => ({ type: pb.MessageType.TEXT, text: t });

/** Opens a raw TCP socket and resolves when the server closes it, with everything it sent. */
function rawSession(port: number, write: (s: Socket) => void): Promise<{ received: Buffer; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const chunks: Buffer[] = [];
    const s = netConnect(port, '127.0.0.1', () => {
      write(s);
    });
    s.on('data', (c) => chunks.push(c));
    s.on('error', () => undefined);
    s.on('close', () => {
      resolve({ received: Buffer.concat(chunks), ms: Date.now() - started });
    });
    setTimeout(() => {
      s.destroy();
      reject(new Error('server did not close the connection'));
    }, 15_000).unref();
  });
}

/** Decodes the frames a server sent on a raw connection. */
function kickReason(bytes: Buffer): number | undefined {
  let reason: number | undefined;
  let off = 0;
  while (off + 14 <= bytes.length) {
    const len = bytes.readUInt32BE(off + 10);
    const command = bytes.readUInt16BE(off + 4);
    if (command === Command.KICK) {
      reason = pb.Kick.decode(bytes.subarray(off + 14, off + 14 + len)).reason;
    }
    off += 14 + len;
  }
  return reason;
}

describe('server: hostile input', () => {
  let ts: TestServer;
  let bystander: TestClient;
  let bystanderPeer: TestClient;
  let convId = '';

  before(async () => {
    ts = await TestServer.start({
      limits: {
        loginTimeoutMs: 1_500,
        sendBudgetBytes: 256 * 1024,
        slowConsumerGraceMs: 500,
        sendsPerSecond: 1000,
        sendBurst: 1000,
        requestsPerSecond: 1000,
        requestBurst: 1000,
      },
    });
    bystander = await ts.login('by-a');
    bystanderPeer = await ts.login('by-b');
    const conv = await bystander.request(Command.CONV_CREATE, {
      type: pb.ConversationType.DIRECT,
      memberIds: ['by-b'],
    });
    convId = conv.state?.conversation?.conversationId ?? '';
  });
  after(async () => {
    bystander.destroy();
    bystanderPeer.destroy();
    await ts.stop();
  });

  /** The server still serves everyone else. */
  async function stillServing(): Promise<void> {
    const ack = await bystander.request(Command.SEND, {
      conversationId: convId,
      clientMessageId: `ok-${String(Date.now())}-${String(Math.random())}`,
      content: text('still here'),
    });
    assert.ok(ack.seq > 0);
    await bystanderPeer.nextPush(Command.MESSAGE);
  }

  test('garbage bytes are refused and the connection closed', async () => {
    const r = await rawSession(ts.port('tcp'), (s) => s.write(Buffer.from([0xde, 0xad, 0xbe, 0xef, 1, 2, 3])));
    assert.equal(r.received.length, 0);
    await stillServing();
  });

  test('an HTTP request on the TCP port is refused at once', async () => {
    const r = await rawSession(ts.port('tcp'), (s) => s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    assert.ok(r.ms < 1_000);
    await stillServing();
  });

  test('TLS on the plain port is refused at once', async () => {
    const r = await rawSession(ts.port('tcp'), (s) => s.write(Buffer.from('160301020001', 'hex')));
    assert.ok(r.ms < 1_000);
    await stillServing();
  });

  test('a header announcing 2 GiB is refused with FRAME_TOO_LARGE', async () => {
    const header = Buffer.from('504c0100000100000001' + '80000000', 'hex');
    const r = await rawSession(ts.port('tcp'), (s) => s.write(header));
    assert.equal(kickReason(r.received), ErrorCode.FRAME_TOO_LARGE);
    await stillServing();
  });

  test('a frame split byte by byte works', async () => {
    const token = await ts.token('split-user');
    const frame = codec.request(Command.LOGIN, 1, { token, deviceId: 'd1', heartbeatIntervalMs: 30_000 });
    const answer = await new Promise<Buffer>((resolve, reject) => {
      const s = netConnect(ts.port('tcp'), '127.0.0.1', () => {
        void (async () => {
          for (const b of frame) {
            s.write(Buffer.from([b]));
            await new Promise((r) => setImmediate(r));
          }
        })();
      });
      s.once('data', (d) => {
        s.destroy();
        resolve(d);
      });
      s.on('error', reject);
    });
    const status = pb.LoginResponse.decode(answer.subarray(14));
    assert.equal(status.status?.code ?? 0, ErrorCode.OK);
    assert.equal(status.userId, 'split-user');
  });

  test('10,000 requests before login: UNAUTHENTICATED, then closed', async () => {
    const burst = Buffer.concat(
      Array.from({ length: 10_000 }, (_, i) => codec.request(Command.SYNC_CONVERSATIONS, i + 1, { sinceVersion: 0 })),
    );
    const r = await rawSession(ts.port('tcp'), (s) => s.write(burst));
    assert.equal(kickReason(r.received), ErrorCode.UNAUTHENTICATED);
    // It answered a few with UNAUTHENTICATED and did not process thousands.
    assert.ok(r.received.length < 2_000);
    await stillServing();
  });

  test('no login within the deadline: LOGIN_TIMEOUT', async () => {
    const r = await rawSession(ts.port('tcp'), () => undefined);
    assert.equal(kickReason(r.received), ErrorCode.LOGIN_TIMEOUT);
    assert.ok(r.ms >= 1_400);
  });

  test('a non-member cannot send to a group or read it', async () => {
    const owner = await ts.login('nm-owner');
    const outsider = await ts.login('nm-outsider');
    const conv = await owner.request(Command.CONV_CREATE, {
      type: pb.ConversationType.GROUP,
      name: 'closed',
      memberIds: ['nm-m'],
    });
    const id = conv.state?.conversation?.conversationId ?? '';
    const sent = await outsider.requestRaw(Command.SEND, {
      conversationId: id,
      clientMessageId: 'x',
      content: text('let me in'),
    });
    assert.equal(sent.status.code, ErrorCode.NOT_MEMBER);
    const read = await outsider.requestRaw(Command.SYNC_MESSAGES, { conversationId: id, fromSeq: 1 });
    assert.equal(read.status.code, ErrorCode.NOT_MEMBER);
    owner.destroy();
    outsider.destroy();
  });

  test('an expired or forged token is refused with a typed error', async () => {
    const c = await ts.connect('tcp');
    const expired = await ts.token('exp-user', { ttlSeconds: -10 });
    await assert.rejects(
      c.login(expired),
      (e: unknown) => e instanceof ParleyError && e.code === ErrorCode.TOKEN_EXPIRED,
    );
    const forged = `${expired.slice(0, -4)}AAAA`;
    await assert.rejects(
      c.login(forged),
      (e: unknown) => e instanceof ParleyError && e.code === ErrorCode.TOKEN_INVALID,
    );
    // The same connection may still log in with a good token.
    const ok = await c.login(await ts.token('exp-user'));
    assert.equal(ok.userId, 'exp-user');
    c.destroy();
  });

  test('a slow reader that never reads is disconnected; memory stays bounded', async () => {
    const slow = await ts.login('slow-reader');
    const fast = await ts.login('slow-sender');
    const conv = await fast.request(Command.CONV_CREATE, {
      type: pb.ConversationType.DIRECT,
      memberIds: ['slow-reader'],
    });
    const id = conv.state?.conversation?.conversationId ?? '';
    slow.pause();
    // Random text: the server deflates large bodies, and repeated text would shrink to nothing.
    const big = randomBytes(45_000).toString('base64');
    const rssBefore = process.memoryUsage().rss;
    let i = 0;
    const closed = slow.closed;
    let done = false;
    void closed.then(() => (done = true));
    while (!done && i < 1000) {
      await fast.requestRaw(Command.SEND, {
        conversationId: id,
        clientMessageId: `big-${String(i++)}`,
        content: text(big),
      });
    }
    await closed;
    assert.ok(done, 'the slow reader was disconnected');
    assert.ok(process.memoryUsage().rss - rssBefore < 200 * 1024 * 1024);
    fast.destroy();
    await stillServing();
  });
});
