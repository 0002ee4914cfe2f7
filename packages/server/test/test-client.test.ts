import assert from 'node:assert/strict';
import { type AddressInfo, type Server, type Socket, createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  Command,
  ErrorCode,
  type Frame,
  FrameCodec,
  FrameDecoder,
  MAX_SEQ,
  ParleyError,
  ProtocolError,
  pb,
} from '@parley/protocol';
import { TestClient } from './helpers/test-client.js';

const codec = new FrameCodec();
const text = (t: string, seq: number) => ({
  message: { conversationId: 'c1', seq, content: { type: pb.MessageType.TEXT, text: t } },
});

/**
 * A scripted server, just enough to exercise the client:
 * PING echoes; LOGIN answers OK, then pushes two MESSAGEs in the same write; SEND answers
 * RATE_LIMITED; LOGOUT pushes KICK(LOGGED_OUT) and closes; SYNC_MESSAGES answers
 * `last_seq = from_seq` after (100 - from_seq) ms, so answers come out of order; TYPING
 * (one-way) pushes a TypingPush back; CURSOR answers and pushes three CursorPushes;
 * CONV_GET is never answered; ROOM_JOIN gets garbage bytes; PRESENCE_QUERY sends 1 MiB of
 * pushes and drops the link.
 */
function handle(socket: Socket, frame: Frame): void {
  const { seq } = frame;
  switch (frame.command) {
    case Command.PING:
      socket.write(codec.response(Command.PING, seq, {}));
      break;
    case Command.LOGIN: {
      const login = codec.response(Command.LOGIN, seq, { userId: 'u1', sessionId: 's1', heartbeatIntervalMs: 30_000 });
      const pushes = [text('first', 1), text('second', 2)].map((m) => codec.push(Command.MESSAGE, m));
      socket.write(Buffer.concat([login, ...pushes]));
      break;
    }
    case Command.SEND:
      socket.write(codec.errorResponse(Command.SEND, seq, { code: ErrorCode.RATE_LIMITED, retryAfterMs: 250 }));
      break;
    case Command.LOGOUT:
      socket.end(codec.push(Command.KICK, { reason: ErrorCode.LOGGED_OUT, message: 'bye' }));
      break;
    case Command.SYNC_MESSAGES: {
      const { fromSeq } = codec.decodeRequest(Command.SYNC_MESSAGES, frame);
      setTimeout(() => socket.write(codec.response(Command.SYNC_MESSAGES, seq, { lastSeq: fromSeq })), 100 - fromSeq);
      break;
    }
    case Command.TYPING: {
      const { conversationId, typing } = codec.decodeRequest(Command.TYPING, frame);
      socket.write(codec.push(Command.TYPING, { conversationId, userId: 'u2', typing }));
      break;
    }
    case Command.CURSOR:
      socket.write(codec.response(Command.CURSOR, seq, { seq: 3 }));
      for (const s of [1, 2, 3]) socket.write(codec.push(Command.CURSOR, { conversationId: 'c1', seq: s }));
      break;
    case Command.ROOM_JOIN:
      socket.write(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'));
      break;
    case Command.PRESENCE_QUERY: {
      const big = 'x'.repeat(16 * 1024);
      for (let i = 1; i <= 64; i++) socket.write(codec.push(Command.MESSAGE, text(big, i)));
      socket.destroy();
      break;
    }
    default: // CONV_GET and the rest: silence
  }
}

describe('TestClient over TCP against a scripted server', () => {
  let server: Server;
  const sockets = new Set<Socket>();
  const clients: TestClient[] = [];

  before(async () => {
    server = createServer((socket) => {
      sockets.add(socket);
      const decoder = new FrameDecoder();
      socket.on('data', (chunk) => {
        decoder.push(chunk, (frame) => {
          handle(socket, frame);
        });
      });
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  after(async () => {
    for (const c of clients) c.destroy();
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  async function connect(firstSeq?: number): Promise<TestClient> {
    const { port } = server.address() as AddressInfo;
    const client = await TestClient.connect({ transport: 'tcp', host: '127.0.0.1', port, firstSeq });
    clients.push(client);
    return client;
  }

  test('login resolves with the response; pushes sent with it are queued and matched', async () => {
    const c = await connect();
    const login = await c.login('token');
    assert.equal(login.userId, 'u1');
    assert.equal(login.heartbeatIntervalMs, 30_000);
    const second = await c.nextPush(Command.MESSAGE, { where: (p) => p.message?.seq === 2 });
    assert.equal(second.message?.content?.text, 'second');
    assert.equal(c.pushes(Command.MESSAGE).length, 1, 'the other push stays queued');
    assert.equal((await c.nextPush(Command.MESSAGE)).message?.content?.text, 'first');
    assert.deepEqual(c.pushes(Command.MESSAGE), []);
  });

  test('responses are matched by seq, whatever order they come in', async () => {
    const c = await connect();
    const answers = await Promise.all(
      [90, 50, 10].map((fromSeq) => c.request(Command.SYNC_MESSAGES, { conversationId: 'c1', fromSeq })),
    );
    assert.deepEqual(
      answers.map((a) => a.lastSeq),
      [90, 50, 10],
    );
  });

  test('seq counts from 1 and wraps from 2^32-1 back to 1', async () => {
    const c = await connect();
    assert.equal((await c.requestRaw(Command.PING, {})).frame.seq, 1);
    assert.equal((await c.requestRaw(Command.PING, {})).frame.seq, 2);
    const w = await connect(MAX_SEQ);
    assert.equal((await w.requestRaw(Command.PING, {})).frame.seq, MAX_SEQ);
    assert.equal((await w.requestRaw(Command.PING, {})).frame.seq, 1);
  });

  test('an error status rejects request() with a ParleyError; requestRaw() returns it', async () => {
    const c = await connect();
    const body = { conversationId: 'c1', clientMessageId: 'm1', content: { type: pb.MessageType.TEXT, text: 'x' } };
    await assert.rejects(c.request(Command.SEND, body), (err: unknown) => {
      assert.ok(err instanceof ParleyError);
      assert.equal(err.code, ErrorCode.RATE_LIMITED);
      assert.equal((err.cause as pb.Status).retryAfterMs, 250);
      return true;
    });
    const raw = await c.requestRaw(Command.SEND, body);
    assert.equal(raw.status.code, ErrorCode.RATE_LIMITED);
    assert.equal(raw.frame.command, Command.SEND);
  });

  test('a request with no answer times out; the connection stays usable', async () => {
    const c = await connect();
    await assert.rejects(c.request(Command.CONV_GET, { conversationId: 'c1' }, { timeoutMs: 50 }), /no response/);
    assert.equal((await c.requestRaw(Command.PING, {})).status.code, ErrorCode.OK);
  });

  test('nextPush waits for a push; oneWay sends seq 0; nextPush times out', async () => {
    const c = await connect();
    const typing = c.nextPush(Command.TYPING);
    c.oneWay(Command.TYPING, { conversationId: 'c9', typing: true });
    const { conversationId, userId } = await typing;
    assert.deepEqual([conversationId, userId], ['c9', 'u2']);
    await assert.rejects(c.nextPush(Command.PRESENCE, { timeoutMs: 30 }), /no PRESENCE push/);
  });

  test('waitForPushes collects and consumes a number of pushes', async () => {
    const c = await connect();
    const waiting = c.waitForPushes(Command.CURSOR, 3, 1_000);
    assert.equal((await c.request(Command.CURSOR, { conversationId: 'c1', seq: 3 })).seq, 3);
    assert.deepEqual(
      (await waiting).map((p) => p.seq),
      [1, 2, 3],
    );
    assert.equal(c.pushes(Command.CURSOR).length, 0);
    await assert.rejects(c.waitForPushes(Command.CURSOR, 1, 30), /no 1 CURSOR pushes/);
  });

  test('KICK then close: the pending request rejects with its reason; closed carries the kick', async () => {
    const c = await connect();
    await c.login('token');
    await assert.rejects(
      c.request(Command.LOGOUT, {}),
      (err: unknown) => err instanceof ParleyError && err.code === ErrorCode.LOGGED_OUT,
    );
    const info = await c.closed;
    assert.equal(info.kick?.reason, ErrorCode.LOGGED_OUT);
    assert.equal(info.goaway, undefined);
    assert.equal((await c.nextPush(Command.KICK)).message, 'bye', 'the KICK is queued like any push');
    await assert.rejects(c.nextPush(Command.MESSAGE, { where: () => false }), /closed by KICK LOGGED_OUT/);
    await assert.rejects(c.requestRaw(Command.PING, {}), /closed/);
  });

  test('bad bytes from the server reject every pending request with the ProtocolError', async () => {
    const c = await connect();
    const silent = c.request(Command.CONV_GET, { conversationId: 'c1' }, { timeoutMs: 2_000 });
    const isBadMagic = (err: unknown) => err instanceof ProtocolError && err.code === ErrorCode.BAD_MAGIC;
    await assert.rejects(c.request(Command.ROOM_JOIN, { roomId: 'r' }), isBadMagic);
    await assert.rejects(silent, isBadMagic);
    assert.deepEqual(await c.closed, {});
    await assert.rejects(c.requestRaw(Command.PING, {}), isBadMagic);
  });

  test('a paused client, its receive buffers full, still notices the server hanging up', async () => {
    const c = await connect();
    await c.login('token');
    c.pause();
    const dropped = c.request(Command.PRESENCE_QUERY, { userIds: ['u2'] });
    await assert.rejects(dropped, /connection closed before the response/);
    assert.deepEqual(await c.closed, {});
    assert.ok(c.pushes(Command.MESSAGE).length < 64, 'it did stop reading');
  });

  test('close() ends gracefully and resolves with the close info', async () => {
    const c = await connect();
    assert.deepEqual(await c.close(), {});
    assert.deepEqual(await c.closed, {});
  });
});
