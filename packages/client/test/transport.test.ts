import assert from 'node:assert/strict';
import { type AddressInfo, type Socket, createServer } from 'node:net';
import { after, afterEach, before, describe, test } from 'node:test';
import { Command, ErrorCode, type Frame, FrameCodec, ProtocolError, pb } from '@parley/protocol';
import { WebSocketServer } from 'ws';
import { ClientError, ClientErrorCode, type LinkHandlers, type Push } from '../src/index.js';
import { nodeWebSocketTransport, tcpTransport, tlsTransport } from '../src/node.js';
import { Harness, KINDS, closeAll, makeConnection, next, waitFor } from './connection-harness.js';

const codec = new FrameCodec();

/** Handlers that record what a link reports. */
function recorder(): LinkHandlers & { frames: Frame[]; closed: (Error | undefined)[] } {
  const frames: Frame[] = [];
  const closed: (Error | undefined)[] = [];
  return {
    frames,
    closed,
    onFrame: (f) => frames.push({ ...f, body: f.body.slice() }),
    onClose: (e) => closed.push(e),
  };
}

/** A raw TCP server that hands each accepted socket to `onSocket`. */
async function rawServer(onSocket: (s: Socket) => void): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    onSocket(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    },
  };
}

describe('transports against the real server', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start({ limits: { requestsPerSecond: 10_000, requestBurst: 10_000 } });
  });
  afterEach(() => {
    closeAll();
  });
  after(async () => {
    await h.close();
  });

  for (const kind of KINDS) {
    test(`${kind}: login, request/response and push delivery`, async () => {
      const alice = makeConnection(h, `alice-${kind}`, h.transport(kind));
      const bob = makeConnection(h, `bob-${kind}`, h.transport(kind));
      alice.connect();
      bob.connect();
      const [a] = await Promise.all([alice.ready(), bob.ready()]);
      assert.equal(a.transport, kind === 'ws' ? 'ws' : kind);

      const created = await alice.request(Command.CONV_CREATE, {
        type: pb.ConversationType.DIRECT,
        memberIds: [`bob-${kind}`],
      });
      const conversationId = created.state?.conversation?.conversationId ?? '';
      assert.ok(conversationId.length > 0);

      const pushes: Push[] = [];
      bob.on('push', (p) => pushes.push(p));
      const message = new Promise<pb.MessagePush>((resolve) => {
        const off = bob.onPush(Command.MESSAGE, (body) => {
          off();
          resolve(body);
        });
      });
      const ack = await alice.request(Command.SEND, {
        conversationId,
        clientMessageId: `cm-${kind}`,
        content: { type: pb.MessageType.TEXT, text: `hello over ${kind}` },
      });
      assert.equal(ack.seq, 1);
      const push = await message;
      assert.equal(push.message?.content?.text, `hello over ${kind}`);
      assert.equal(push.message?.senderId, `alice-${kind}`);
      assert.ok(pushes.some((p) => p.command === Command.MESSAGE));

      // A resend with the same client message id is answered with the first ack.
      const again = await alice.request(Command.SEND, {
        conversationId,
        clientMessageId: `cm-${kind}`,
        content: { type: pb.MessageType.TEXT, text: `hello over ${kind}` },
      });
      assert.equal(again.duplicate, true);
      assert.equal(again.messageId, ack.messageId);
    });
  }

  test('tls: the certificate is checked against servername when connecting by IP', async () => {
    const ca = h.ts.caCertificate();
    const port = h.port('tls');
    const wrongName = tlsTransport({ host: '127.0.0.1', port, servername: 'chat.example.com', ca });
    await assert.rejects(wrongName.connect(recorder(), new AbortController().signal), {
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
    const untrusted = tlsTransport({ host: '127.0.0.1', port, servername: 'localhost' });
    await assert.rejects(
      untrusted.connect(recorder(), new AbortController().signal),
      (err: Error & { code?: string }) => /SELF_SIGNED|UNABLE_TO_VERIFY|DEPTH_ZERO/.test(err.code ?? ''),
    );
    const link = await tlsTransport({ host: '127.0.0.1', port, servername: 'localhost', ca }).connect(
      recorder(),
      new AbortController().signal,
    );
    link.close();
  });

  test('a connection whose dial fails reports CONNECT_FAILED and backs off', async () => {
    const wrong = tlsTransport({
      host: '127.0.0.1',
      port: h.port('tls'),
      servername: 'chat.example.com',
      ca: h.ts.caCertificate(),
    });
    const conn = makeConnection(h, 'dialfail', wrong);
    conn.connect();
    const [info] = await next(conn, 'disconnected');
    assert.ok(info.error instanceof ClientError && info.error.clientCode === ClientErrorCode.CONNECT_FAILED);
    assert.equal(info.wasConnected, false);
    assert.equal(conn.state, 'backing-off');
  });
});

describe('stream transport framing', () => {
  test('frames split byte by byte and frames stuck together are delivered whole and in order', async () => {
    const frames = [
      codec.response(Command.PING, 1, {}),
      codec.push(Command.KICK, { reason: ErrorCode.LOGIN_TIMEOUT, message: 'x'.repeat(300) }),
      codec.push(Command.GOAWAY, { reason: ErrorCode.SHUTTING_DOWN, reconnectDelayMs: 5 }),
    ];
    const server = await rawServer((s) => {
      void (async () => {
        // The first frame one byte per write, the other two in one write.
        for (const byte of frames[0]!) {
          s.write(Uint8Array.of(byte));
          await new Promise((r) => setTimeout(r, 1));
        }
        s.write(Buffer.concat([frames[1]!, frames[2]!]));
      })();
    });
    const rec = recorder();
    const link = await tcpTransport({ host: '127.0.0.1', port: server.port }).connect(
      rec,
      new AbortController().signal,
    );
    await waitFor(() => rec.frames.length === 3, 2_000, 'three frames');
    assert.deepEqual(
      rec.frames.map((f) => f.command),
      [Command.PING, Command.KICK, Command.GOAWAY],
    );
    assert.equal(codec.decodePush(Command.KICK, rec.frames[1]!).message.length, 300);
    link.close();
    await server.close();
    assert.deepEqual(rec.closed, [], 'a link closed by its owner reports nothing');
  });

  test('bytes that are not Parley frames close the link with a ProtocolError', async () => {
    const server = await rawServer((s) => s.write('HTTP/1.1 400 Bad Request\r\n\r\n'));
    const rec = recorder();
    await tcpTransport({ host: '127.0.0.1', port: server.port }).connect(rec, new AbortController().signal);
    await waitFor(() => rec.closed.length === 1, 2_000, 'close');
    assert.ok(rec.closed[0] instanceof ProtocolError && rec.closed[0].code === ErrorCode.BAD_MAGIC);
    await server.close();
  });

  test('the peer closing the socket is reported once', async () => {
    const server = await rawServer((s) => s.end());
    const rec = recorder();
    await tcpTransport({ host: '127.0.0.1', port: server.port }).connect(rec, new AbortController().signal);
    await waitFor(() => rec.closed.length === 1, 2_000, 'close');
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(rec.closed.length, 1);
    await server.close();
  });

  test('aborting a TLS dial that hangs in the handshake destroys the socket and rejects', async () => {
    let accepted: Socket | undefined;
    let serverSideClosed = false;
    // Accepts and reads, but never answers the ClientHello.
    const server = await rawServer((s) => {
      accepted = s;
      s.resume();
      s.on('close', () => (serverSideClosed = true));
    });
    try {
      const ac = new AbortController();
      const attempt = tlsTransport({ host: '127.0.0.1', port: server.port, servername: 'localhost' }).connect(
        recorder(),
        ac.signal,
      );
      await waitFor(() => accepted !== undefined, 2_000, 'accepted');
      const reason = new Error('too slow');
      ac.abort(reason);
      await assert.rejects(attempt, (err) => err === reason);
      await waitFor(() => serverSideClosed, 2_000, 'server side closed');
    } finally {
      await server.close();
    }
  });

  test('the connection gives up a hanging dial after connectTimeoutMs', async () => {
    const server = await rawServer(() => undefined);
    const h = { token: () => Promise.resolve('unused') } as unknown as Harness;
    const conn = makeConnection(
      h,
      'hang',
      tlsTransport({ host: '127.0.0.1', port: server.port, servername: 'localhost' }),
      {
        connectTimeoutMs: 100,
      },
    );
    const t0 = Date.now();
    conn.connect();
    const [info] = await next(conn, 'disconnected');
    assert.ok(Date.now() - t0 >= 95);
    assert.ok(info.error instanceof ClientError && info.error.clientCode === ClientErrorCode.CONNECT_FAILED);
    assert.equal(info.error.code, ErrorCode.TIMEOUT);
    conn.close();
    await server.close();
  });
});

describe('WebSocket transport framing', () => {
  async function wsServer(onSocket: (ws: import('ws').WebSocket) => void) {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((resolve) => wss.once('listening', resolve));
    wss.on('connection', onSocket);
    const { port } = wss.address() as AddressInfo;
    return {
      url: `ws://127.0.0.1:${String(port)}/ws`,
      close: () => {
        for (const c of wss.clients) c.terminate();
        return new Promise<void>((resolve) => {
          wss.close(() => {
            resolve();
          });
        });
      },
    };
  }

  test('one frame per binary message', async () => {
    const server = await wsServer((ws) => {
      ws.send(codec.response(Command.PING, 9, {}));
      ws.send(codec.push(Command.GOAWAY, { reconnectDelayMs: 1 }));
    });
    const rec = recorder();
    const link = await nodeWebSocketTransport({ url: server.url }).connect(rec, new AbortController().signal);
    await waitFor(() => rec.frames.length === 2, 2_000, 'two frames');
    assert.equal(rec.frames[0]?.seq, 9);
    assert.equal(rec.frames[1]?.command, Command.GOAWAY);
    link.close();
    await server.close();
  });

  test('a text message or a length mismatch closes the link with a ProtocolError', async () => {
    for (const [send, code] of [
      [
        (ws: import('ws').WebSocket) => {
          ws.send('hello');
        },
        ErrorCode.BAD_BODY,
      ],
      [
        (ws: import('ws').WebSocket) => {
          ws.send(codec.response(Command.PING, 1, {}).subarray(0, 13));
        },
        ErrorCode.LENGTH_MISMATCH,
      ],
    ] as const) {
      const server = await wsServer(send);
      const rec = recorder();
      await nodeWebSocketTransport({ url: server.url }).connect(rec, new AbortController().signal);
      await waitFor(() => rec.closed.length === 1, 2_000, 'close');
      assert.ok(rec.closed[0] instanceof ProtocolError, String(rec.closed[0]));
      assert.equal(rec.closed[0].code, code);
      await server.close();
    }
  });

  test('a refused upgrade rejects the dial', async () => {
    const server = await rawServer((s) => s.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n'));
    await assert.rejects(
      nodeWebSocketTransport({ url: `ws://127.0.0.1:${String(server.port)}/ws` }).connect(
        recorder(),
        new AbortController().signal,
      ),
    );
    await server.close();
  });
});
