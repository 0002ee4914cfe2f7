// Shared helpers for the connection, task and transport tests: a real server on free ports
// that can be stopped and restarted on the same ports, transports for it, a transport wrapper
// that counts live sockets, a frame-aware TCP proxy that can drop frames or go silent, and a
// recording heartbeat policy.
import { rmSync } from 'node:fs';
import { type AddressInfo, type Server, type Socket, createServer, connect as netConnect } from 'node:net';
import { FrameCodec, FrameDecoder, Flags, type Frame, pb } from '@parley/protocol';
import { TestServer } from '../../server/test/helpers/server.js';
import type { ConfigInput } from '../../server/src/index.js';
import {
  Connection,
  type ConnectionEvents,
  type ConnectionOptions,
  FixedHeartbeat,
  type HeartbeatFailure,
  type HeartbeatPolicy,
  type Link,
  type Transport,
} from '../src/index.js';
import { nodeWebSocketTransport, tcpTransport, tlsTransport } from '../src/node.js';

export type Kind = 'tcp' | 'tls' | 'ws';
export const KINDS: Kind[] = ['tcp', 'tls', 'ws'];

/** Small timings for every test: fast backoff, generous server heartbeat grace. */
export const FAST_BACKOFF = { baseMs: 20, capMs: 200, resetAfterMs: 60_000, goawayJitterMs: 20 };

/** A real server that can be stopped and started again on the same ports and data dir. */
export class Harness {
  private constructor(
    public ts: TestServer,
    private readonly ports: { tcp: number; tls: number; http: number },
  ) {}

  static async start(overrides: Partial<ConfigInput> = {}): Promise<Harness> {
    const ts = await TestServer.start({
      ...overrides,
      limits: { heartbeatMinMs: 10, heartbeatGraceMs: 5_000, ...overrides.limits },
    });
    return new Harness(ts, { tcp: ts.port('tcp'), tls: ts.port('tls'), http: ts.port('ws') });
  }

  get server(): TestServer['server'] {
    return this.ts.server;
  }

  /** Stops the server (it sends GOAWAY to every client first). */
  async stop(): Promise<void> {
    await this.ts.server.stop();
  }

  /** Starts a server again on the same ports and data dir. */
  async restart(): Promise<void> {
    const { input, dataDir } = this.ts;
    this.ts = await TestServer.start(
      { ...input, tcpPort: this.ports.tcp, tlsPort: this.ports.tls, httpPort: this.ports.http },
      {},
      dataDir,
    );
  }

  async close(): Promise<void> {
    await this.ts.server.stop();
    rmSync(this.ts.dataDir, { recursive: true, force: true });
  }

  port(kind: Kind): number {
    return kind === 'tcp' ? this.ports.tcp : kind === 'tls' ? this.ports.tls : this.ports.http;
  }

  transport(kind: Kind, port = this.port(kind)): Transport {
    if (kind === 'tcp') return tcpTransport({ host: '127.0.0.1', port });
    if (kind === 'tls') {
      return tlsTransport({ host: '127.0.0.1', port, servername: 'localhost', ca: this.ts.caCertificate() });
    }
    return nodeWebSocketTransport({ url: `ws://127.0.0.1:${String(port)}/ws` });
  }

  token(userId: string, options: { deviceId?: string; ttlSeconds?: number } = {}): Promise<string> {
    return this.ts.token(userId, options);
  }

  /** Sessions the server holds that are not closed (logged in or not). */
  liveSessions(): number {
    let n = 0;
    for (const s of this.server.sweeper.sessions()) if ((s.state as number) !== 3) n++; // SessionState.Closed
    return n;
  }

  sessionsOf(userId: string): ReturnType<TestServer['server']['ctx']['registry']['sessionsOf']> {
    return this.server.ctx.registry.sessionsOf(userId);
  }
}

/** Wraps a transport and counts its sockets: dialing or open, and the most ever alive at once. */
export class CountingTransport implements Transport {
  live = 0;
  maxLive = 0;
  dials = 0;
  readonly name: string;

  constructor(public inner: Transport) {
    this.name = inner.name;
  }

  async connect(handlers: Parameters<Transport['connect']>[0], signal: AbortSignal): Promise<Link> {
    this.dials++;
    this.#up();
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      this.live--;
    };
    let link: Link;
    try {
      link = await this.inner.connect(
        {
          onFrame: (f) => {
            handlers.onFrame(f);
          },
          onClose: (e) => {
            end();
            handlers.onClose(e);
          },
        },
        signal,
      );
    } catch (err) {
      end();
      throw err;
    }
    return {
      send: (f) => link.send(f),
      close: () => {
        end();
        link.close();
      },
      get bufferedAmount() {
        return link.bufferedAmount;
      },
      remote: link.remote,
    };
  }

  #up(): void {
    this.live++;
    this.maxLive = Math.max(this.maxLive, this.live);
  }
}

/** A frame seen by the proxy, with its direction and arrival time. */
export interface SeenFrame {
  dir: 'up' | 'down';
  command: number;
  seq: number;
  response: boolean;
  at: number;
  frame: Frame;
}

interface Pair {
  client: Socket;
  server: Socket;
  silent: boolean;
}

/**
 * A TCP proxy in front of the server's plain TCP port that decodes the frames passing through.
 * It can drop chosen client frames, go silent on the current connections (no FIN, no RST,
 * bytes dropped both ways, as a NAT that forgot the mapping), or cut them.
 */
export class FrameProxy {
  readonly frames: SeenFrame[] = [];
  readonly pairs = new Set<Pair>();
  connections = 0;
  /** Returns true to drop a client-to-server frame. */
  dropUp: ((frame: Frame) => boolean) | undefined;
  /** Returns a delay in ms to hold a client-to-server frame back (0: forward at once). */
  delayUp: ((frame: Frame) => number) | undefined;
  readonly #server: Server;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(targetPort: number, listenPort = 0): Promise<FrameProxy> {
    const server = createServer();
    const proxy = new FrameProxy(server);
    server.on('connection', (client) => {
      proxy.#accept(client, targetPort);
    });
    await new Promise<void>((resolve) => server.listen(listenPort, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** Existing connections go silent (new ones are forwarded normally). */
  blackhole(): void {
    for (const pair of this.pairs) pair.silent = true;
  }

  /** Destroys every current connection. */
  cut(): void {
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.server.destroy();
    }
  }

  seen(dir: 'up' | 'down', command?: number): SeenFrame[] {
    return this.frames.filter((f) => f.dir === dir && (command === undefined || f.command === command));
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) =>
      this.#server.close(() => {
        resolve();
      }),
    );
  }

  #accept(client: Socket, targetPort: number): void {
    this.connections++;
    const server = netConnect({ host: '127.0.0.1', port: targetPort });
    const pair: Pair = { client, server, silent: false };
    this.pairs.add(pair);
    const up = new FrameDecoder();
    const down = new FrameDecoder();
    client.on('data', (chunk: Buffer) => {
      // Frames are still decoded and recorded while silent (to see the unanswered PING).
      up.push(chunk, (frame) => {
        const copy = { ...frame, body: frame.body.slice() };
        this.#record('up', copy);
        if (pair.silent || this.dropUp?.(copy)) return;
        const delay = this.delayUp?.(copy) ?? 0;
        if (delay > 0) setTimeout(() => pair.silent || server.destroyed || server.write(encodeFrame(copy)), delay);
        else server.write(encodeFrame(copy));
      });
    });
    server.on('data', (chunk: Buffer) => {
      if (pair.silent) return;
      down.push(chunk, (frame) => {
        this.#record('down', { ...frame, body: frame.body.slice() });
      });
      client.write(chunk);
    });
    const close = (): void => {
      this.pairs.delete(pair);
      client.destroy();
      server.destroy();
    };
    client.on('close', () => {
      if (!pair.silent) close();
    });
    server.on('close', () => {
      if (!pair.silent) close();
    });
    client.on('error', () => undefined);
    server.on('error', () => undefined);
  }

  #record(dir: 'up' | 'down', frame: Frame): void {
    this.frames.push({
      dir,
      command: frame.command,
      seq: frame.seq,
      response: (frame.flags & Flags.RESPONSE) !== 0,
      at: Date.now(),
      frame,
    });
  }
}

function encodeFrame(frame: Frame): Uint8Array {
  const out = new Uint8Array(14 + frame.body.length);
  const view = new DataView(out.buffer);
  out[0] = 0x50;
  out[1] = 0x4c;
  out[2] = 1;
  out[3] = frame.flags;
  view.setUint16(4, frame.command);
  view.setUint32(6, frame.seq);
  view.setUint32(10, frame.body.length);
  out.set(frame.body, 14);
  return out;
}

export const codec = new FrameCodec();

/** A fixed-interval policy that records what the connection tells it. */
export class RecordingPolicy implements HeartbeatPolicy {
  readonly calls: string[] = [];
  readonly successes: number[] = [];
  readonly failures: { cause: HeartbeatFailure; idleMs: number }[] = [];

  constructor(
    public interval: number,
    readonly pingTimeoutMs: number,
  ) {}

  intervalFor(): number {
    return this.interval;
  }
  onLinkUp(): void {
    this.calls.push('up');
  }
  onHeartbeatSucceeded(_now: number, idleMs: number): void {
    this.calls.push('ok');
    this.successes.push(idleMs);
  }
  onHeartbeatFailed(_now: number, cause: HeartbeatFailure, idleMs: number): void {
    this.calls.push(`fail:${cause}`);
    this.failures.push({ cause, idleMs });
  }
  onNetworkChanged(networkId: string): void {
    this.calls.push(`net:${networkId}`);
  }
  onAppState(state: 'foreground' | 'background'): void {
    this.calls.push(`app:${state}`);
  }
}

let devices = 0;

/** A connection with test-friendly defaults; closed by `closeAll`. */
export function makeConnection(
  h: Harness,
  userId: string,
  transport: Transport,
  options: Partial<ConnectionOptions> = {},
): Connection {
  const conn = new Connection({
    transport,
    token: () => h.token(userId),
    deviceId: `dev-${userId}-${String(++devices)}`,
    platform: pb.Platform.DESKTOP,
    backoff: FAST_BACKOFF,
    heartbeat: new FixedHeartbeat({ intervalMs: 10_000, pingTimeoutMs: 1_000 }),
    ...options,
  });
  opened.add(conn);
  return conn;
}

const opened = new Set<Connection>();

export function closeAll(): void {
  for (const conn of opened) conn.close();
  opened.clear();
}

/** Resolves with the arguments of the next `event` (that passes `where`). */
export function next<K extends keyof ConnectionEvents>(
  conn: Connection,
  event: K,
  where: (...args: Parameters<ConnectionEvents[K]>) => boolean = () => true,
  timeoutMs = 5_000,
): Promise<Parameters<ConnectionEvents[K]>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${event} event within ${String(timeoutMs)} ms`));
    }, timeoutMs);
    const listener = ((...args: Parameters<ConnectionEvents[K]>) => {
      if (!where(...args)) return;
      clearTimeout(timer);
      off();
      resolve(args);
    }) as ConnectionEvents[K];
    const off = conn.on(event, listener);
  });
}

/** Polls until `check` is true. */
export async function waitFor(check: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A port nothing listens on (for a while). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  return port;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Samples `value` every few ms until stopped; returns the largest value seen. */
export function sampleMax(value: () => number): () => number {
  let max = value();
  const timer = setInterval(() => {
    max = Math.max(max, value());
  }, 2).unref(); // a failed assertion before the stop call must not keep the test process alive
  return () => {
    clearInterval(timer);
    return Math.max(max, value());
  };
}
