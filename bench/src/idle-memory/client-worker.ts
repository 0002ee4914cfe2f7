// One client process of the idle-memory bench. `prepare` signs a token and encodes a LOGIN
// frame per connection ahead of time (so the timed part is connect and login only); `connect`
// opens them all from the given loopback source addresses, logs each in and keeps it idle;
// `status` says how many are still up; `close` destroys them.
import { type Socket, connect as netConnect } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import { Command, ErrorCode, type Frame, FrameCodec, FrameDecoder, decodeMessageFrame, pb } from '@parley/protocol';
import WebSocket from 'ws';
import { issueToken } from '@parley/server';
import { serveParent } from '../ipc.js';
import { HEARTBEAT_MS, type Target } from './memory.js';

const LOGIN_TIMEOUT_MS = 60_000;

/** A connection kept open after its login. */
interface Held {
  destroy(): void;
}

export interface ConnectResult {
  ok: number;
  failed: number;
  firstError: string | undefined;
  ms: number;
}

/** How one server's connections fared since the last `close`. */
export interface TargetStatus {
  /** Logged in and still open. */
  up: number;
  /** Logged in, then closed by the server. */
  dropped: number;
  /** Frames the server sent after the login response (an idle connection should get none). */
  strayFrames: number;
}

/** By target port. */
export type WorkerStatus = Record<string, TargetStatus>;

const codec = new FrameCodec();
let logins: Uint8Array[] = [];
let held: Held[] = [];
/** Set by `close`: closes from then on are ours, not drops. */
let closing = false;
let statuses: WorkerStatus = {};

function statusOf(target: Target): TargetStatus {
  return (statuses[String(target.port)] ??= { up: 0, dropped: 0, strayFrames: 0 });
}

async function prepare(count: number, secret: string, prefix: string): Promise<null> {
  logins = [];
  for (let i = 0; i < count; i++) {
    const userId = `${prefix}-u${String(i)}`;
    const deviceId = `${prefix}-d${String(i)}`;
    const token = await issueToken({ secret, userId, deviceId, ttlSeconds: 3600 });
    logins.push(
      codec.request(Command.LOGIN, 1, {
        token,
        deviceId,
        platform: pb.Platform.DESKTOP,
        heartbeatIntervalMs: HEARTBEAT_MS,
      }),
    );
  }
  return null;
}

/** Settles a pending login from the first frame the server sends. */
function loginAnswer(frame: Frame): Error | undefined {
  if (frame.command !== Command.LOGIN || frame.seq !== 1) {
    return new Error(`unexpected frame 0x${frame.command.toString(16)} before the login response`);
  }
  const { code, message } = codec.responseStatus(frame);
  return code === ErrorCode.OK ? undefined : new Error(`login refused: ${String(code)} ${message}`);
}

function openStream(target: Target, localAddress: string, login: Uint8Array): Promise<Held> {
  const status = statusOf(target);
  return new Promise((resolve, reject) => {
    let loggedIn = false;
    const { host, port } = target;
    // Certificate checks cost client CPU and change nothing on the server.
    const tls: ConnectionOptions & { localAddress: string } = { host, port, localAddress, rejectUnauthorized: false };
    const socket: Socket =
      target.transport === 'tls' ? tlsConnect(tls) : netConnect({ host, port, localAddress, noDelay: true });
    const timer = setTimeout(() => socket.destroy(new Error('login timed out')), LOGIN_TIMEOUT_MS);
    const decoder = new FrameDecoder();
    const onFrame = (frame: Frame): void => {
      if (loggedIn) {
        status.strayFrames++;
        return;
      }
      const err = loginAnswer(frame);
      if (err) {
        socket.destroy(err);
        return;
      }
      loggedIn = true;
      clearTimeout(timer);
      status.up++;
      resolve(socket);
    };
    socket.write(login);
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk, onFrame);
      } catch (err) {
        socket.destroy(err as Error);
      }
    });
    socket.on('error', (err) => {
      if (!loggedIn) reject(err);
    });
    socket.on('close', () => {
      closed(status, timer, loggedIn, reject);
    });
  });
}

function openWebSocket(target: Target, localAddress: string, login: Uint8Array): Promise<Held> {
  const status = statusOf(target);
  return new Promise((resolve, reject) => {
    let loggedIn = false;
    const ws = new WebSocket(`ws://${target.host}:${String(target.port)}${target.path}`, {
      localAddress,
      perMessageDeflate: false,
    });
    const timer = setTimeout(() => {
      ws.terminate();
    }, LOGIN_TIMEOUT_MS);
    const held: Held = {
      destroy: () => {
        ws.terminate();
      },
    };
    ws.on('open', () => {
      ws.send(login);
    });
    ws.on('message', (data: Buffer) => {
      if (loggedIn) {
        status.strayFrames++;
        return;
      }
      let err: Error | undefined;
      try {
        err = loginAnswer(decodeMessageFrame(data));
      } catch (thrown) {
        err = thrown as Error;
      }
      if (err) {
        reject(err);
        ws.terminate();
        return;
      }
      loggedIn = true;
      clearTimeout(timer);
      status.up++;
      resolve(held);
    });
    ws.on('error', (err) => {
      if (!loggedIn) reject(err);
    });
    ws.on('close', () => {
      closed(status, timer, loggedIn, reject);
    });
  });
}

/** A connection closed: before its login answer it failed; after, it counts as down (dropped unless we closed it). */
function closed(
  status: ReturnType<typeof statusOf>,
  timer: NodeJS.Timeout,
  loggedIn: boolean,
  reject: (err: Error) => void,
): void {
  clearTimeout(timer);
  if (!loggedIn) {
    reject(new Error('closed before the login response'));
    return;
  }
  status.up--;
  if (!closing) status.dropped++;
}

async function connectAll(target: Target, sources: string[], concurrency: number): Promise<ConnectResult> {
  closing = false;
  const open = target.transport === 'ws' ? openWebSocket : openStream;
  const result: ConnectResult = { ok: 0, failed: 0, firstError: undefined, ms: 0 };
  const started = performance.now();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < logins.length) {
      const i = next++;
      const login = logins[i]!;
      try {
        held.push(await open(target, sources[i % sources.length]!, login));
        result.ok++;
      } catch (err) {
        result.failed++;
        result.firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, logins.length) }, lane));
  result.ms = performance.now() - started;
  return result;
}

function closeAll(): null {
  closing = true;
  for (const connection of held) connection.destroy();
  held = [];
  statuses = {};
  return null;
}

serveParent({}, (request) => {
  switch (request.type) {
    case 'prepare':
      return prepare(request.count as number, request.secret as string, request.prefix as string);
    case 'connect':
      return connectAll(request.target as Target, request.sources as string[], request.concurrency as number);
    case 'status':
      return statuses;
    case 'close':
      return closeAll();
    default:
      throw new Error(`unknown request ${request.type}`);
  }
});
