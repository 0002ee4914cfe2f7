import assert from 'node:assert/strict';
import type { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { type Server as HttpServer, createServer as createHttpServer } from 'node:http';
import { type AddressInfo, type Socket, connect as netConnect, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { ErrorCode, Flags, type Frame, FrameDecoder, HEADER_SIZE, ProtocolError, writeHeader } from '@parley/protocol';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import { type ConfigInput, parseConfig } from '../src/config.js';
import type { AcceptConnection, Connection, TransportKind } from '../src/gateway/connection.js';

/** The gateways' transports (the short link, 'http', has no gateway). */
type Wire = Exclude<TransportKind, 'http'>;
import { type Gateways, startGateways } from '../src/gateway/gateway.js';
import { loadTlsCredentials } from '../src/gateway/tls-credentials.js';
import { Metrics } from '../src/metrics.js';

const logger = pino({ level: 'silent' });
const KICK_COMMAND = 99;

// ---------------------------------------------------------------------------------------------
// Server side: a recording echo handler.

interface Record {
  conn: Connection;
  frames: Frame[];
  errors: ProtocolError[];
  closes: number;
}

/**
 * Accepts connections with a handler that echoes every frame with the RESPONSE flag. On a
 * protocol error it destroys for BAD_MAGIC and otherwise sends a "kick" frame and closes,
 * as the session layer does.
 */
class Recorder {
  readonly records: Record[] = [];
  echo = true;
  throwOnFrame = false;

  readonly accept: AcceptConnection = (conn) => {
    const record: Record = { conn, frames: [], errors: [], closes: 0 };
    this.records.push(record);
    return {
      onFrame: (frame) => {
        if (this.throwOnFrame) throw new Error('handler bug');
        record.frames.push({ ...frame, body: Uint8Array.from(frame.body) });
        if (this.echo) conn.send(encode(frame.command, frame.seq, frame.body, frame.flags | Flags.RESPONSE));
      },
      onProtocolError: (error) => {
        record.errors.push(error);
        if (error.code === ErrorCode.BAD_MAGIC) {
          conn.destroy();
        } else {
          conn.send(encode(KICK_COMMAND, 0, Buffer.from(error.codeName)));
          conn.close();
        }
      },
      onClose: () => {
        record.closes++;
      },
    };
  };

  /** The record of the connection after the first `seen` ones. */
  async after(seen: number): Promise<Record> {
    await waitFor(() => this.records.length > seen, 'a connection to be accepted');
    return this.records[seen]!;
  }
}

function encode(command: number, seq: number, body: Uint8Array, flags = 0): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE + body.length);
  writeHeader(out, 0, { command, seq, flags, length: body.length });
  out.set(body, HEADER_SIZE);
  return out;
}

async function waitFor(predicate: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------------------------
// A server: all three gateways on free ports of 127.0.0.1.

const dataDir = mkdtempSync(join(tmpdir(), 'parley-gateway-test-'));
after(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

interface Harness {
  recorder: Recorder;
  metrics: Metrics;
  gateways: Gateways;
  httpPort: number;
  port(transport: Wire): number;
  stop(): Promise<void>;
}

async function startHarness(
  options: {
    limits?: ConfigInput['limits'];
    closeTimeoutMs?: number;
    tlsHandshakeTimeoutMs?: number;
    accept?: AcceptConnection;
  } = {},
): Promise<Harness> {
  const recorder = new Recorder();
  const metrics = new Metrics({ processMetrics: false });
  const httpServer = createHttpServer();
  const config = parseConfig({ dataDir, tcpPort: 0, tlsPort: 0, httpPort: 0, limits: options.limits });
  const gateways = await startGateways({
    config,
    accept: options.accept ?? recorder.accept,
    metrics,
    logger,
    httpServer,
    closeTimeoutMs: options.closeTimeoutMs ?? 5_000,
    ...(options.tlsHandshakeTimeoutMs === undefined ? {} : { tlsHandshakeTimeoutMs: options.tlsHandshakeTimeoutMs }),
  });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const httpPort = (httpServer.address() as AddressInfo).port;
  return {
    recorder,
    metrics,
    gateways,
    httpPort,
    port(transport) {
      if (transport === 'ws') return httpPort;
      const address = gateways[transport];
      assert.ok(address);
      return address.port;
    },
    async stop() {
      await gateways.stopAccepting();
      for (const conn of gateways.connections()) conn.destroy();
      await closeHttp(httpServer);
    },
  };
}

function closeHttp(server: HttpServer): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => {
      resolve();
    });
    server.closeAllConnections();
  });
}

async function openGauge(metrics: Metrics, transport: Wire): Promise<number> {
  const { values } = await metrics.connections.get();
  return values.find((v) => v.labels.transport === transport && v.labels.state === 'open')?.value ?? 0;
}

// ---------------------------------------------------------------------------------------------
// Client side: one interface over a TCP, TLS or WebSocket client.

interface Client {
  readonly frames: Frame[];
  readonly closed: Promise<void>;
  isClosed(): boolean;
  write(bytes: Uint8Array): void;
  /** Graceful close from the client. */
  end(): void;
  /** Abrupt close from the client (TCP RST where the transport allows). */
  reset(): void;
  /** Stops reading, so the server's writes back up. */
  pause(): void;
}

/** Connects and waits for the server side of the connection. */
async function connectPair(h: Harness, transport: Wire): Promise<[Client, Record]> {
  const seen = h.recorder.records.length;
  const client = await connectClient(h, transport);
  return [client, await h.recorder.after(seen)];
}

function caCertificate(): Buffer {
  return readFileSync(join(dataDir, 'tls', 'dev-cert.pem'));
}

function connectClient(h: Harness, transport: Wire): Promise<Client> {
  if (transport === 'ws') return connectWs(h.httpPort);
  const tcp = netConnect(h.port(transport), '127.0.0.1');
  if (transport === 'tcp') return streamClient(tcp, tcp, 'connect');
  const socket = tlsConnect({ socket: tcp, servername: 'localhost', ca: caCertificate() });
  return streamClient(socket, tcp, 'secureConnect');
}

/** `tcp` is the TCP socket under `socket` (the same one for plain TCP), for resets. */
function streamClient(socket: Socket, tcp: Socket, ready: 'connect' | 'secureConnect'): Promise<Client> {
  const frames: Frame[] = [];
  const decoder = new FrameDecoder({ maxBodyBytes: 64 * 1024 * 1024 });
  let isClosed = false;
  socket.on('data', (chunk: Buffer) => {
    decoder.push(chunk, (f) => frames.push({ ...f, body: Uint8Array.from(f.body) }));
  });
  socket.on('error', () => undefined);
  const closed = closeOf(socket, () => {
    isClosed = true;
  });
  const client: Client = {
    frames,
    closed,
    isClosed: () => isClosed,
    write: (bytes) => socket.write(bytes),
    end: () => socket.end(),
    reset: () => tcp.resetAndDestroy(),
    pause: () => socket.pause(),
  };
  return new Promise((resolve, reject) => {
    socket.once(ready, () => {
      resolve(client);
    });
    socket.once('error', reject);
  });
}

function connectWs(port: number, path = '/ws'): Promise<Client & { ws: WebSocket }> {
  const ws = new WebSocket(`ws://127.0.0.1:${String(port)}${path}`);
  const frames: Frame[] = [];
  let isClosed = false;
  ws.on('message', (data: Buffer) => {
    frames.push(decodeWs(data));
  });
  ws.on('error', () => undefined);
  const closed = closeOf(ws, () => {
    isClosed = true;
  });
  const client = {
    ws,
    frames,
    closed,
    isClosed: () => isClosed,
    write: (bytes: Uint8Array) => {
      ws.send(bytes);
    },
    end: () => {
      ws.close(1000);
    },
    reset: () => {
      ws.terminate();
    },
    pause: () => {
      ws.pause();
    },
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      resolve(client);
    });
    ws.once('unexpected-response', (_req, res) => {
      // With this listener ws leaves the request to us: abort it (that also emits 'close').
      ws.terminate();
      reject(new Error(`unexpected response ${String(res.statusCode)}`));
    });
    ws.once('error', reject);
  });
}

function decodeWs(data: Buffer): Frame {
  const frames: Frame[] = [];
  new FrameDecoder({ maxBodyBytes: 64 * 1024 * 1024 }).push(data, (f) =>
    frames.push({ ...f, body: Uint8Array.from(f.body) }),
  );
  assert.equal(frames.length, 1);
  return frames[0]!;
}

/** Resolves on the emitter's 'close'; rejects if it does not come within 10 s. */
function closeOf(emitter: EventEmitter, onClose?: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error('timed out waiting for the connection to close'));
    }, 10_000);
    emitter.once('close', () => {
      clearTimeout(timer);
      onClose?.();
      resolve();
    });
  });
}

/** Lets late events land, to check something did not happen twice. */
const settle = (): Promise<void> => delay(50);

// ---------------------------------------------------------------------------------------------
// The same behaviour over every transport.

for (const transport of ['tcp', 'tls', 'ws'] as const) {
  describe(`${transport} gateway`, () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ limits: { sendBudgetBytes: 256 * 1024 } });
    });
    after(async () => {
      await h.stop();
    });

    test('echoes frames and counts them', async () => {
      const before = h.recorder.records.length;
      const client = await connectClient(h, transport);
      client.write(encode(7, 1, Buffer.from('hello')));
      client.write(encode(8, 2, new Uint8Array(0)));
      client.write(encode(9, 3, new Uint8Array(100_000).fill(0xab), Flags.COMPRESSED));
      await waitFor(() => client.frames.length === 3, 'three echoes');
      assert.deepEqual(
        client.frames.map((f) => [f.command, f.seq, f.flags, f.body.length]),
        [
          [7, 1, Flags.RESPONSE, 5],
          [8, 2, Flags.RESPONSE, 0],
          [9, 3, Flags.RESPONSE | Flags.COMPRESSED, 100_000],
        ],
      );
      assert.equal(Buffer.from(client.frames[0]!.body).toString(), 'hello');
      const record = h.recorder.records[before]!;
      assert.equal(record.conn.transport, transport);
      assert.match(record.conn.remote, /^127\.0\.0\.1:\d+$/);
      assert.equal(await openGauge(h.metrics, transport), 1);
      const framesIn = (await h.metrics.framesIn.get()).values.find((v) => v.labels.transport === transport);
      assert.ok(framesIn && framesIn.value >= 3);
      client.end();
      await waitFor(() => record.closes === 1, 'onClose');
      assert.equal(await openGauge(h.metrics, transport), 0);
      assert.equal([...h.gateways.connections()].includes(record.conn), false);
    });

    test('onClose runs once when the client closes', async () => {
      const [client, record] = await connectPair(h, transport);

      client.end();
      await client.closed;
      await waitFor(() => record.closes === 1, 'onClose');
      record.conn.close();
      record.conn.destroy();
      await settle();
      assert.equal(record.closes, 1);
      assert.equal(record.conn.send(encode(1, 0, new Uint8Array(0))), false);
    });

    test('onClose runs once when the client resets', async () => {
      const [client, record] = await connectPair(h, transport);

      client.reset();
      await waitFor(() => record.closes === 1, 'onClose');
      await settle();
      assert.equal(record.closes, 1);
    });

    test('onClose runs once when the server destroys, and never inside destroy()', async () => {
      const [client, record] = await connectPair(h, transport);

      record.conn.destroy();
      assert.equal(record.closes, 0);
      record.conn.destroy();
      record.conn.close();
      await client.closed;
      await waitFor(() => record.closes === 1, 'onClose');
      await settle();
      assert.equal(record.closes, 1);
    });

    test('close() flushes what was sent before it, then closes', async () => {
      const [client, record] = await connectPair(h, transport);

      const started = Date.now();
      record.conn.send(encode(KICK_COMMAND, 0, new Uint8Array(300_000)));
      record.conn.close();
      assert.equal(record.conn.send(encode(1, 0, new Uint8Array(0))), false, 'send after close() is refused');
      record.conn.close();
      await client.closed;
      await waitFor(() => record.closes === 1, 'onClose');
      assert.ok(Date.now() - started < 2_000, 'closed when the peer answered, not at the deadline');
      assert.equal(client.frames.length, 1);
      assert.equal(client.frames[0]!.body.length, 300_000);
      await settle();
      assert.equal(record.closes, 1);
    });

    test('send returns false once a peer that does not read fills the budget', async () => {
      const [client, record] = await connectPair(h, transport);
      client.pause();

      const frame = encode(1, 0, new Uint8Array(64 * 1024));
      assert.equal(record.conn.send(frame), true);
      let sent = 1;
      while (record.conn.send(frame)) {
        sent++;
        assert.ok(sent < 500, `send still true after ${String(sent)} frames`);
        // Give the kernel's buffers a chance to fill as they would over time.
        if (sent % 16 === 0) await delay(1);
      }
      assert.ok(record.conn.queuedBytes > 256 * 1024, `queued ${String(record.conn.queuedBytes)}`);
      client.reset();
      await waitFor(() => record.closes === 1, 'onClose');
      assert.equal(record.conn.send(frame), false);
    });

    test('a handler that throws loses its connection, not the process', async () => {
      h.recorder.throwOnFrame = true;
      try {
        const [client, record] = await connectPair(h, transport);

        client.write(encode(7, 1, Buffer.from('boom')));
        await client.closed;
        await waitFor(() => record.closes === 1, 'onClose');
      } finally {
        h.recorder.throwOnFrame = false;
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Byte streams: TCP and TLS.

for (const transport of ['tcp', 'tls'] as const) {
  describe(`${transport} framing`, () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ limits: { maxFrameBytes: 4096 } });
    });
    after(async () => {
      await h.stop();
    });

    test('sticky frames: many in one write', async () => {
      const client = await connectClient(h, transport);
      const frames = Array.from({ length: 50 }, (_, i) => encode(3, i + 1, Buffer.from(`m${String(i)}`)));
      client.write(Buffer.concat(frames));
      await waitFor(() => client.frames.length === 50, '50 echoes');
      assert.deepEqual(
        client.frames.map((f) => f.seq),
        frames.map((_, i) => i + 1),
      );
      client.end();
    });

    test('split frames: one byte per write', async () => {
      const [client, record] = await connectPair(h, transport);

      const bytes = Buffer.concat([encode(4, 1, Buffer.from('split body')), encode(4, 2, new Uint8Array(0))]);
      for (const byte of bytes) {
        client.write(Uint8Array.of(byte));
        await delay(1);
      }
      await waitFor(() => client.frames.length === 2, 'two echoes');
      assert.equal(Buffer.from(record.frames[0]!.body).toString(), 'split body');
      assert.equal(record.frames[1]!.seq, 2);
      client.end();
    });

    test('garbage bytes: BAD_MAGIC, connection dropped', async () => {
      const [client, record] = await connectPair(h, transport);

      client.write(Buffer.from([0x00, 0xff, 0x13, 0x37]));
      await client.closed;
      await waitFor(() => record.closes === 1, 'onClose');
      assert.equal(record.errors.length, 1);
      assert.equal(record.errors[0]!.code, ErrorCode.BAD_MAGIC);
      assert.equal(record.frames.length, 0);
    });

    test('a 2 GiB header: FRAME_TOO_LARGE at once, no body kept', async () => {
      const [client, record] = await connectPair(h, transport);

      const header = new Uint8Array(HEADER_SIZE);
      writeHeader(header, 0, { command: 5, seq: 1, flags: 0, length: 2 ** 31 });
      const arrayBuffers = process.memoryUsage().arrayBuffers;
      client.write(Buffer.concat([header, new Uint8Array(1024)]));
      await waitFor(() => record.errors.length === 1, 'the protocol error');
      assert.equal(record.errors[0]!.code, ErrorCode.FRAME_TOO_LARGE);
      assert.ok(process.memoryUsage().arrayBuffers - arrayBuffers < 64 * 1024 * 1024, 'no body buffer was allocated');
      // The handler sent a kick and closed: the client gets it, then the end.
      await client.closed;
      assert.equal(Buffer.from(client.frames.at(-1)!.body).toString(), 'FRAME_TOO_LARGE');
      await waitFor(() => record.closes === 1, 'onClose');
      assert.equal(record.frames.length, 0);
    });

    test('frames before bad bytes in the same chunk are delivered first', async () => {
      const [client, record] = await connectPair(h, transport);

      client.write(Buffer.concat([encode(3, 1, Buffer.from('ok')), Buffer.from('GET / HTTP/1.1\r\n\r\n')]));
      await waitFor(() => record.closes === 1, 'onClose');
      assert.equal(record.frames.length, 1);
      assert.equal(record.errors[0]!.code, ErrorCode.BAD_MAGIC);
    });
  });
}

describe('foreign protocols on the plain TCP port', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.stop();
  });

  test('an HTTP request: BAD_MAGIC naming HTTP', async () => {
    const [client, record] = await connectPair(h, 'tcp');
    client.write(Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'));
    await client.closed;
    await waitFor(() => record.closes === 1, 'onClose');
    assert.equal(record.errors[0]!.code, ErrorCode.BAD_MAGIC);
    assert.match(record.errors[0]!.message, /HTTP/);
  });

  test('a TLS ClientHello: BAD_MAGIC naming TLS', async () => {
    const seen = h.recorder.records.length;
    const socket = tlsConnect({ port: h.port('tcp'), host: '127.0.0.1', rejectUnauthorized: false });
    socket.on('error', () => undefined);
    await closeOf(socket);
    const record = await h.recorder.after(seen);
    await waitFor(() => record.closes === 1, 'onClose');
    assert.equal(record.errors[0]!.code, ErrorCode.BAD_MAGIC);
    assert.match(record.errors[0]!.message, /TLS/);
  });

  test('a peer that never answers our FIN is dropped at the close deadline', async () => {
    const quick = await startHarness({ closeTimeoutMs: 300 });
    try {
      const socket = netConnect({ port: quick.port('tcp'), host: '127.0.0.1', allowHalfOpen: true });
      socket.on('error', () => undefined);
      socket.resume();
      const record = await quick.recorder.after(0);
      const started = Date.now();
      record.conn.close();
      await waitFor(() => record.closes === 1, 'onClose');
      const ms = Date.now() - started;
      assert.ok(ms >= 250 && ms < 2_000, `closed after ${String(ms)} ms`);
      socket.destroy();
    } finally {
      await quick.stop();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// TLS specifics.

describe('tls gateway', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ tlsHandshakeTimeoutMs: 300 });
  });
  after(async () => {
    await h.stop();
  });

  test('negotiates TLS 1.3 with a certificate the dev CA file verifies', async () => {
    const socket = tlsConnect({ port: h.port('tls'), host: '127.0.0.1', servername: 'localhost', ca: caCertificate() });
    await new Promise((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    assert.equal(socket.authorized, true);
    assert.equal(socket.getProtocol(), 'TLSv1.3');
    socket.destroy();
  });

  test('refuses TLS 1.2', async () => {
    const socket = tlsConnect({
      port: h.port('tls'),
      host: '127.0.0.1',
      rejectUnauthorized: false,
      maxVersion: 'TLSv1.2',
    });
    const err = await new Promise<Error>((resolve) => socket.once('error', resolve));
    assert.match(err.message, /version|alert/i);
  });

  test('drops a peer that does not finish its handshake', async () => {
    const seen = h.recorder.records.length;
    const socket = netConnect(h.port('tls'), '127.0.0.1');
    socket.on('error', () => undefined);
    const started = Date.now();
    await closeOf(socket);
    const ms = Date.now() - started;
    assert.ok(ms >= 250 && ms < 3_000, `dropped after ${String(ms)} ms`);
    assert.equal(h.recorder.records.length, seen, 'never became a connection');
  });
});

describe('tls credentials', () => {
  test('a self-signed development certificate is made once and reused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-cert-test-'));
    try {
      const first = await loadTlsCredentials({ certFile: '', keyFile: '', dataDir: dir });
      assert.equal(first.created, true);
      assert.equal(first.devCertificate, join(dir, 'tls', 'dev-cert.pem'));
      assert.equal(statSync(join(dir, 'tls', 'dev-key.pem')).mode & 0o777, 0o600);
      const second = await loadTlsCredentials({ certFile: '', keyFile: '', dataDir: dir });
      assert.equal(second.created, false);
      assert.deepEqual(second.cert, first.cert);
      assert.deepEqual(second.key, first.key);
      // Configured files are used as they are.
      const configured = await loadTlsCredentials({
        certFile: join(dir, 'tls', 'dev-cert.pem'),
        keyFile: join(dir, 'tls', 'dev-key.pem'),
        dataDir: join(dir, 'elsewhere'),
      });
      assert.equal(configured.devCertificate, undefined);
      assert.equal(configured.created, false);
      await assert.rejects(
        loadTlsCredentials({
          certFile: join(dir, 'missing.pem'),
          keyFile: join(dir, 'tls', 'dev-key.pem'),
          dataDir: dir,
        }),
        /cannot read the TLS certificate file .*missing\.pem/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('startGateways reports whether it made the certificate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-cert-test-'));
    const start = () =>
      startGateways({
        config: parseConfig({ dataDir: dir, tcp: false, tcpPort: 0, tlsPort: 0 }),
        accept: new Recorder().accept,
        metrics: new Metrics({ processMetrics: false }),
        logger,
      });
    try {
      const first = await start();
      assert.equal(first.tcp, undefined);
      assert.ok(first.tls);
      assert.equal(first.devCertificateCreated, true);
      assert.equal(first.devCertificate, join(dir, 'tls', 'dev-cert.pem'));
      await first.stopAccepting();
      const second = await start();
      assert.equal(second.devCertificateCreated, false);
      assert.equal(second.devCertificate, first.devCertificate);
      await second.stopAccepting();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// WebSocket specifics.

describe('ws gateway', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ limits: { maxFrameBytes: 4096 } });
  });
  after(async () => {
    await h.stop();
  });

  async function errorFor(send: (ws: WebSocket) => void): Promise<Record> {
    const seen = h.recorder.records.length;
    const client = await connectWs(h.httpPort);
    const record = await h.recorder.after(seen);
    send(client.ws);
    await client.closed;
    await waitFor(() => record.closes === 1, 'onClose');
    assert.equal(record.errors.length, 1);
    return record;
  }

  test('a text message is a protocol error', async () => {
    const record = await errorFor((ws) => {
      ws.send('{"hello":1}');
    });
    assert.equal(record.errors[0]!.code, ErrorCode.BAD_MAGIC);
    assert.match(record.errors[0]!.message, /text/);
  });

  test('binary garbage is a protocol error', async () => {
    const record = await errorFor((ws) => {
      ws.send(Buffer.from('GET / HTTP/1.1'));
    });
    assert.equal(record.errors[0]!.code, ErrorCode.BAD_MAGIC);
  });

  test('a message longer than its header says is a protocol error, answered before closing', async () => {
    const seen = h.recorder.records.length;
    const client = await connectWs(h.httpPort);
    const record = await h.recorder.after(seen);
    const bytes = Buffer.concat([encode(3, 1, Buffer.from('abc')), Buffer.from('extra')]);
    client.ws.send(bytes);
    await client.closed;
    await waitFor(() => record.closes === 1, 'onClose');
    assert.equal(record.errors[0]!.code, ErrorCode.LENGTH_MISMATCH);
    assert.equal(Buffer.from(client.frames.at(-1)!.body).toString(), 'LENGTH_MISMATCH');
  });

  test('a message over maxPayload is FRAME_TOO_LARGE', async () => {
    const record = await errorFor((ws) => {
      ws.send(encode(3, 1, new Uint8Array(4097)));
    });
    assert.equal(record.errors[0]!.code, ErrorCode.FRAME_TOO_LARGE);
  });

  test('a header announcing more than the maximum is FRAME_TOO_LARGE', async () => {
    const record = await errorFor((ws) => {
      const header = new Uint8Array(HEADER_SIZE);
      writeHeader(header, 0, { command: 5, seq: 1, flags: 0, length: 2 ** 31 });
      ws.send(header);
    });
    assert.equal(record.errors[0]!.code, ErrorCode.FRAME_TOO_LARGE);
  });

  test('other paths get 404', async () => {
    const count = h.recorder.records.length;
    await assert.rejects(connectWs(h.httpPort, '/other'), /unexpected response 404/);
    await assert.rejects(connectWs(h.httpPort, '/ws/x'), /unexpected response 404/);
    const ok = await connectWs(h.httpPort, '/ws?v=1');
    ok.end();
    await ok.closed;
    assert.equal(h.recorder.records.length, count + 1);
  });
});

// ---------------------------------------------------------------------------------------------
// startGateways as a whole.

describe('startGateways', () => {
  test('a port in use fails with the port and the setting that changes it', async () => {
    const blocker = createNetServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const busy = (blocker.address() as AddressInfo).port;
    const start = (input: ConfigInput) =>
      startGateways({
        config: parseConfig({ dataDir, ...input }),
        accept: new Recorder().accept,
        metrics: new Metrics({ processMetrics: false }),
        logger,
      });
    try {
      await assert.rejects(start({ tcpPort: busy, tls: false }), (err: Error) => {
        assert.match(err.message, new RegExp(`TCP port ${String(busy)} on 127\\.0\\.0\\.1 is already in use`));
        assert.match(err.message, /--tcp-port or PARLEY_TCP_PORT/);
        return true;
      });
      await assert.rejects(start({ tcpPort: 0, tlsPort: busy }), /TLS port \d+ .*--tls-port or PARLEY_TLS_PORT/);
    } finally {
      blocker.close();
    }
  });

  test('stopAccepting refuses new connections and keeps live ones', async () => {
    const h = await startHarness();
    try {
      const clients = await Promise.all((['tcp', 'tls', 'ws'] as const).map((t) => connectClient(h, t)));
      await waitFor(() => h.recorder.records.length === 3, 'three connections');
      assert.deepEqual([...h.gateways.connections()].map((c) => c.transport).sort(), ['tcp', 'tls', 'ws']);
      await h.gateways.stopAccepting();
      await assert.rejects(connectClient(h, 'tcp'), /ECONNREFUSED/);
      await assert.rejects(connectClient(h, 'tls'), /ECONNREFUSED/);
      await assert.rejects(connectClient(h, 'ws'), /unexpected response 503/);
      for (const [i, client] of clients.entries()) {
        client.write(encode(3, i + 1, new Uint8Array(0)));
        await waitFor(() => client.frames.length === 1, 'an echo on a live connection');
        client.end();
      }
    } finally {
      await h.stop();
    }
  });

  test('a handler may close the connection from accept', async () => {
    let closes = 0;
    const h = await startHarness({
      closeTimeoutMs: 10_000,
      accept: (conn) => {
        conn.send(encode(KICK_COMMAND, 0, Buffer.from('go away')));
        conn.close();
        return {
          onFrame: () => undefined,
          onProtocolError: () => undefined,
          onClose: () => {
            closes++;
          },
        };
      },
    });
    try {
      for (const transport of ['tcp', 'tls', 'ws'] as const) {
        const before = closes;
        const started = Date.now();
        const client = await connectClient(h, transport);
        await client.closed;
        await waitFor(() => closes === before + 1, 'onClose');
        assert.ok(Date.now() - started < 2_000, `${transport} closed at once`);
        assert.equal(Buffer.from(client.frames[0]!.body).toString(), 'go away');
      }
    } finally {
      await h.stop();
    }
  });

  test('an accept that throws drops the socket and counts nothing', async () => {
    const h = await startHarness({
      accept: () => {
        throw new Error('no sessions today');
      },
    });
    try {
      for (const transport of ['tcp', 'tls', 'ws'] as const) {
        const client = await connectClient(h, transport).catch(() => undefined);
        if (client) await client.closed;
        assert.equal(await openGauge(h.metrics, transport), 0);
      }
      assert.equal([...h.gateways.connections()].length, 0);
    } finally {
      await h.stop();
    }
  });
});
