// A Parley client for the server's integration tests: typed requests matched by seq, a queue
// of pushes to await, and raw access for hostile-input tests. One class over TCP, TLS and
// WebSocket; the transports are thin adapters that hand it bytes.
import { randomUUID } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import {
  Command,
  type CommandWith,
  ErrorCode,
  type Frame,
  FrameCodec,
  FrameDecoder,
  MAX_SEQ,
  ParleyError,
  ProtocolError,
  type PushOf,
  type RequestInput,
  type ResponseOf,
  commandName,
  decodeMessageFrame,
  errorCodeName,
  pb,
  roleOf,
} from '@parley/protocol';
import WebSocket from 'ws';

export interface TestClientOptions {
  transport: 'tcp' | 'tls' | 'ws';
  host: string;
  port: number;
  /** WebSocket path. Default `/ws`. */
  path?: string;
  /** TLS settings: for `tls`, or for `ws` to connect with `wss://`. TLS 1.3 minimum. */
  tls?: { ca?: string | Buffer; rejectUnauthorized?: boolean };
  localAddress?: string;
  /** Largest body accepted from the server and sent to it. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Seq of the first request, to test wrap-around. Default 1. */
  firstSeq?: number;
}

/** Login defaults: a random `test-<uuid>` device id, no platform, a 30 s heartbeat, no resume version. */
export interface LoginOptions {
  deviceId?: string;
  platform?: pb.Platform;
  heartbeatIntervalMs?: number;
  conversationVersion?: number;
}

/** How the connection ended: the last KICK and GOAWAY the server sent before closing, if any. */
export interface CloseInfo {
  kick?: pb.Kick;
  goaway?: pb.GoAway;
}

/** A decoded push, its body typed by its command. */
export type ReceivedPush = { [C in CommandWith<'push'>]: { command: C; body: PushOf<C> } }[CommandWith<'push'>];

/** A response as received: its status, and the frame to decode or inspect. */
export interface RawResponse {
  status: pb.Status;
  frame: Frame;
}

/** The transport as the client sees it: a net/tls socket as is, or an adapter over a WebSocket. */
interface Link {
  write(bytes: Uint8Array): unknown;
  sendText?(text: string): unknown;
  end(): unknown;
  destroy(): unknown;
  pause(): unknown;
  resume(): unknown;
}

/** What a transport reports: bytes (or a whole message, or a text message), errors, the close. */
interface LinkEvents {
  data: (data: Uint8Array | string) => void;
  error: (err: Error) => void;
  close: () => void;
}

/** Settles a request awaiting its response: with the response frame, or with an error. */
type Pending = (answer: Frame | Error) => void;

/**
 * A caller awaiting pushes. Called with nothing after each push, it takes what it waits for
 * from the queue if it is there and returns true once settled; called with an error, it fails.
 */
type PushWaiter = (err?: Error) => boolean;

const DEFAULT_TIMEOUT_MS = 5_000;
/** While paused, a one-way PING this often makes a server that hung up show as a write error. */
const PROBE_INTERVAL_MS = 200;

export class TestClient {
  /** Resolves once the connection is closed, whoever closed it; never rejects. */
  readonly closed: Promise<CloseInfo>;
  readonly #codec: FrameCodec;
  readonly #decoder: FrameDecoder;
  readonly #wholeMessages: boolean;
  readonly #pending = new Map<number, Pending>();
  readonly #queue: ReceivedPush[] = [];
  readonly #waiters = new Set<PushWaiter>();
  readonly #info: CloseInfo = {};
  #link: Link | undefined;
  #nextSeq: number;
  #resolveClosed: (info: CloseInfo) => void = () => undefined;
  #isClosed = false;
  #failure: ProtocolError | undefined;
  #linkError: Error | undefined;
  #loggedIn = false;
  #probe: NodeJS.Timeout | undefined;

  private constructor(opts: TestClientOptions) {
    this.#codec = new FrameCodec({ maxBodyBytes: opts.maxBodyBytes });
    this.#decoder = new FrameDecoder({ maxBodyBytes: opts.maxBodyBytes });
    this.#wholeMessages = opts.transport === 'ws';
    this.#nextSeq = opts.firstSeq ?? 1;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  /** Opens a connection; resolves once it is up (TLS handshake or WebSocket upgrade done). */
  static async connect(opts: TestClientOptions): Promise<TestClient> {
    const client = new TestClient(opts);
    client.#link = await (opts.transport === 'ws' ? openWebSocket : openSocket)(opts, {
      data: client.#onData.bind(client),
      error: (err) => (client.#linkError ??= err),
      close: client.#onClose.bind(client),
    });
    return client;
  }

  /** Sends a request and resolves with its decoded response; rejects with a ParleyError on an error status. */
  async request<C extends CommandWith<'request'>>(
    command: C,
    body: RequestInput<C>,
    opts: { timeoutMs?: number } = {},
  ): Promise<ResponseOf<C>> {
    const { status, frame } = await this.requestRaw(command, body, opts);
    if (status.code !== ErrorCode.OK) {
      const what = `${describe(command)} failed: ${errorCodeName(status.code)} ${status.message}`.trimEnd();
      throw new ParleyError(status.code, what, { cause: status });
    }
    return this.#codec.decodeResponse(command, frame);
  }

  /** Sends a request and resolves with the response's status and frame, whatever the status. */
  async requestRaw<C extends CommandWith<'request'>>(
    command: C,
    body: RequestInput<C>,
    opts: { timeoutMs?: number } = {},
  ): Promise<RawResponse> {
    const link = this.#live();
    const seq = this.#nextSeq;
    this.#nextSeq = seq >= MAX_SEQ ? 1 : seq + 1;
    const bytes = this.#codec.request(command, seq, body);
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const frame = await new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.get(seq)?.(new Error(`no response to ${describe(command)} seq ${seq} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(seq, (answer) => {
        clearTimeout(timer);
        this.#pending.delete(seq);
        if (answer instanceof Error) reject(answer);
        else resolve(answer);
      });
      link.write(bytes);
    });
    return { status: this.#codec.responseStatus(frame), frame };
  }

  /** Sends a request with seq 0: the server answers nothing, not even an error. */
  oneWay<C extends CommandWith<'request'>>(command: C, body: RequestInput<C>): void {
    this.#live().write(this.#codec.request(command, 0, body));
  }

  /** Logs in and resolves with the LoginResponse; rejects with a ParleyError if refused. */
  async login(token: string, opts: LoginOptions = {}): Promise<ResponseOf<typeof Command.LOGIN>> {
    const version = opts.conversationVersion;
    const response = await this.request(Command.LOGIN, {
      token,
      deviceId: opts.deviceId ?? `test-${randomUUID()}`,
      platform: opts.platform,
      heartbeatIntervalMs: opts.heartbeatIntervalMs ?? 30_000,
      resume: version === undefined ? undefined : { conversationVersion: version },
    });
    this.#loggedIn = true;
    return response;
  }

  /** Writes arbitrary bytes (one binary message on WebSocket). */
  sendRaw(bytes: Uint8Array): void {
    this.#live().write(bytes);
  }

  /** Sends a text WebSocket message (a protocol error for the server). WebSocket only. */
  sendText(text: string): void {
    const link = this.#live();
    if (!link.sendText) throw new Error('sendText needs a WebSocket connection');
    link.sendText(text);
  }

  /** Resolves with the first unconsumed push of `command` that matches `where`, waiting for it if needed. */
  nextPush<C extends CommandWith<'push'>>(
    command: C,
    opts: { timeoutMs?: number; where?: (body: PushOf<C>) => boolean } = {},
  ): Promise<PushOf<C>> {
    const { where } = opts;
    return this.#wait(`${describe(command)} push`, opts.timeoutMs, () => {
      const i = this.#queue.findIndex((p) => p.command === command && (!where || where(p.body as PushOf<C>)));
      return i < 0 ? undefined : (this.#queue.splice(i, 1)[0]?.body as PushOf<C>);
    });
  }

  /** Unconsumed pushes of `command`, oldest first; they stay queued. */
  pushes<C extends CommandWith<'push'>>(command: C): PushOf<C>[] {
    return this.#queue.filter((p) => p.command === command).map((p) => p.body as PushOf<C>);
  }

  /** Waits until `count` pushes of `command` are queued, then consumes and returns them, oldest first. */
  waitForPushes<C extends CommandWith<'push'>>(command: C, count: number, timeoutMs?: number): Promise<PushOf<C>[]> {
    return this.#wait(`${count} ${describe(command)} pushes`, timeoutMs, () => {
      const picked = this.#queue.filter((p) => p.command === command).slice(0, count);
      if (picked.length < count) return undefined;
      for (const p of picked) this.#queue.splice(this.#queue.indexOf(p), 1);
      return picked.map((p) => p.body as PushOf<C>);
    });
  }

  /** Ends the connection gracefully; resolves once it is closed (destroying it if that takes over 2 s). */
  async close(): Promise<CloseInfo> {
    if (!this.#isClosed) this.#link?.end();
    const timer = setTimeout(this.destroy.bind(this), 2_000);
    const info = await this.closed;
    clearTimeout(timer);
    return info;
  }

  /** Closes the connection at once. */
  destroy(): void {
    this.#link?.destroy();
  }

  /**
   * Stops reading, so the server's send buffer fills (slow-consumer tests). Once logged in it
   * writes a one-way PING every 200 ms meanwhile: a paused socket would not notice a server
   * that hangs up, but a write to it fails, so `closed` still resolves.
   */
  pause(): void {
    if (this.#isClosed) return;
    this.#link?.pause();
    if (this.#loggedIn && !this.#probe) {
      const ping = this.#codec.request(Command.PING, 0, {});
      this.#probe = setInterval(() => this.#isClosed || this.#link?.write(ping), PROBE_INTERVAL_MS).unref();
    }
  }

  /** Starts reading again. */
  resume(): void {
    clearInterval(this.#probe);
    this.#probe = undefined;
    if (!this.#isClosed) this.#link?.resume();
  }

  #live(): Link {
    if (this.#failure) throw this.#failure;
    if (this.#isClosed || !this.#link) throw this.#closedError('this write');
    return this.#link;
  }

  /** Resolves with what `take` returns once it returns something; `take` runs on every push. */
  #wait<T>(what: string, timeoutMs = DEFAULT_TIMEOUT_MS, take: () => T | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => waiter(new Error(`no ${what} in ${timeoutMs} ms`)), timeoutMs);
      const waiter: PushWaiter = (err) => {
        let value: T | undefined;
        try {
          if (!err) value = take();
        } catch (thrown) {
          err = thrown instanceof Error ? thrown : new Error(String(thrown)); // a `where` that threw
        }
        if (!err && value === undefined) return false;
        clearTimeout(timer);
        this.#waiters.delete(waiter);
        if (err) reject(err);
        else resolve(value as T);
        return true;
      };
      this.#waiters.add(waiter);
      if (!waiter() && this.#isClosed) waiter(this.#closedError(what));
    });
  }

  #closedError(what: string): Error {
    if (this.#failure) return this.#failure;
    const { kick, goaway } = this.#info;
    const end: { reason: ErrorCode } | undefined = kick ?? goaway;
    const cause = this.#linkError;
    if (!end) return new Error(`connection closed before ${what}`, { cause });
    const by = `${kick ? 'KICK' : 'GOAWAY'} ${errorCodeName(end.reason)}`;
    return new ParleyError(end.reason, `connection closed by ${by} before ${what}`, { cause });
  }

  #onData(data: Uint8Array | string): void {
    if (this.#failure) return;
    try {
      if (typeof data === 'string') throw new ProtocolError(ErrorCode.BAD_BODY, 'the server sent a text message');
      if (this.#wholeMessages) this.#onFrame(decodeMessageFrame(data, this.#decoder.maxBodyBytes));
      else this.#decoder.push(data, this.#onFrame.bind(this));
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      this.#fail(err);
    }
  }

  #onFrame(frame: Frame): void {
    if (roleOf(frame, 'server') === 'response') {
      this.#pending.get(frame.seq)?.(frame); // a late answer to a timed-out request is dropped
      return;
    }
    const push = { command: frame.command, body: this.#codec.decode(frame, 'push') } as ReceivedPush;
    if (push.command === Command.KICK) this.#info.kick = pb.Kick.create(push.body);
    if (push.command === Command.GOAWAY) this.#info.goaway = pb.GoAway.create(push.body);
    this.#queue.push(push);
    for (const waiter of this.#waiters) waiter();
  }

  /** The server broke the wire format: reject everything waiting with the error and hang up. */
  #fail(err: ProtocolError): void {
    this.#failure ??= err;
    for (const settle of [...this.#pending.values()]) settle(err);
    for (const waiter of [...this.#waiters]) waiter(err);
    this.#link?.destroy();
  }

  #onClose(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    clearInterval(this.#probe);
    for (const [seq, settle] of [...this.#pending]) settle(this.#closedError(`the response to seq ${seq}`));
    for (const waiter of [...this.#waiters]) waiter(this.#closedError('the push awaited'));
    this.#resolveClosed({ ...this.#info });
  }
}

function describe(command: number): string {
  return commandName(command) ?? `0x${command.toString(16).padStart(4, '0')}`;
}

function openSocket(opts: TestClientOptions, on: LinkEvents): Promise<Link> {
  const { host, port, localAddress } = opts;
  const tls: ConnectionOptions & { localAddress?: string } = { host, port, localAddress, minVersion: 'TLSv1.3' };
  return new Promise((resolve, reject) => {
    const ready = (): void => {
      resolve(socket);
    };
    const socket =
      opts.transport === 'tls'
        ? tlsConnect({ ...tls, ...opts.tls }, ready)
        : netConnect({ host, port, localAddress }, ready);
    socket.setNoDelay(true);
    socket.on('data', on.data);
    socket.on('error', (err: Error) => {
      on.error(err);
      reject(err);
    });
    socket.on('close', on.close);
  });
}

function openWebSocket(opts: TestClientOptions, on: LinkEvents): Promise<Link> {
  const url = `${opts.tls ? 'wss' : 'ws'}://${opts.host}:${opts.port}${opts.path ?? '/ws'}`;
  const { localAddress } = opts;
  const ws = new WebSocket(url, { ...opts.tls, minVersion: 'TLSv1.3', localAddress, perMessageDeflate: false });
  ws.binaryType = 'nodebuffer';
  ws.on('message', (data, isBinary) => {
    const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    on.data(isBinary ? bytes : bytes.toString());
  });
  ws.on('close', on.close);
  return new Promise((resolve, reject) => {
    ws.on('error', (err: Error) => {
      on.error(err);
      reject(err);
    });
    ws.on('open', () => {
      const send = ws.send.bind(ws);
      const [end, destroy] = [ws.close.bind(ws, 1000), ws.terminate.bind(ws)];
      resolve({ write: send, sendText: send, end, destroy, pause: ws.pause.bind(ws), resume: ws.resume.bind(ws) });
    });
  });
}
