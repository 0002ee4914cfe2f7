import {
  Command,
  type CommandWith,
  ErrorCode,
  Flags,
  type Frame,
  FrameCodec,
  MAX_SEQ,
  ProtocolError,
  type PushOf,
  type RequestInput,
  type ResponseOf,
  errorCodeName,
  pb,
} from '@parley/protocol';
import { ClientError, ClientErrorCode, TERMINAL_KICKS } from '../errors.js';
import { Emitter } from '../events.js';
import { TaskQueue } from '../tasks/task-queue.js';
import type { FallbackChannel, FallbackPort } from '../tasks/task-queue.js';
import type { RequestOptions, TaskCommand } from '../tasks/types.js';
import type { Link, LinkHandlers, Transport } from '../transport/types.js';
import { Backoff } from './backoff.js';
import { FixedHeartbeat, type HeartbeatPolicy } from './heartbeat-policy.js';
import { Liveness } from './liveness.js';
import { type LoginAnswer, fetchToken, limitsOf, readLoginAnswer } from './login.js';
import { watchOnline } from './online.js';
import { PushRouter } from './pushes.js';
import { type ReadyOptions, nextSession } from './ready.js';
import { Deadlines } from './timers.js';
import type { ConnectionEvents, ConnectionOptions, ConnectionState, Push, SessionInfo } from './types.js';

export const CLIENT_VERSION = 'parley-js/0.1.0';

type Waiter = (frame: Frame) => void;
const ignore: Waiter = () => undefined;

/**
 * The long link: one logged-in connection to a Parley server, kept alive across failures.
 *
 * It dials with its transport, logs in, runs heartbeats, carries request tasks and delivers
 * pushes; when the link dies it reconnects with exponential backoff and full jitter, at once
 * when told the network changed, after the server's delay on GOAWAY, and not at all after a
 * KICK that forbids it. It never holds two sockets: every attempt first closes and detaches
 * the previous link or attempt, and callbacks from a detached one are ignored.
 */
export class Connection {
  readonly #events = new Emitter<ConnectionEvents>();
  readonly #pushes = new PushRouter();
  readonly #options: ConnectionOptions;
  readonly #transport: Transport;
  /** The transport for the next attempt only: an alternative endpoint named by GOAWAY. */
  #redirect: Transport | undefined;
  /** The transport of the current link (the main one, or a GOAWAY alternative). */
  #linkTransport: Transport | undefined;
  readonly #codec: FrameCodec;
  readonly #deadlines = new Deadlines();
  readonly #backoff: Backoff;
  readonly #liveness: Liveness;
  readonly #tasks: TaskQueue;
  #state: ConnectionState = 'idle';
  /** Bumped whenever a link or attempt is dropped: callbacks carrying an older value are stale. */
  #generation = 0;
  #link: Link | undefined;
  #dialing: AbortController | undefined;
  #seq = 0;
  #pending = new Map<number, Waiter>();
  #token: string | undefined;
  #session: SessionInfo | undefined;
  #connectedAt = 0;
  #logins = 0;
  #appState: pb.AppState;
  #closeError: Error | undefined;
  #unwatchOnline: (() => void) | undefined;

  constructor(options: ConnectionOptions) {
    this.#options = options;
    this.#transport = options.transport;
    this.#codec = new FrameCodec(options.codec);
    this.#backoff = new Backoff(options.backoff);
    this.#appState = options.appState ?? pb.AppState.FOREGROUND;
    this.#backoff.background = this.#appState === pb.AppState.BACKGROUND;
    const policy: HeartbeatPolicy = options.heartbeat ?? new FixedHeartbeat();
    policy.onAppState?.(this.#appState === pb.AppState.BACKGROUND ? 'background' : 'foreground', Date.now());
    this.#liveness = new Liveness(policy, this.#deadlines, {
      sendPing: () => this.#call(Command.PING, {}, ignore),
      declare: (intervalMs) => {
        const sent = this.#call(Command.SESSION_UPDATE, { heartbeatIntervalMs: intervalMs }, (frame) => {
          const accepted = this.#decodeOk(Command.SESSION_UPDATE, frame)?.heartbeatIntervalMs;
          this.#liveness.accepted(Date.now(), accepted);
        });
        if (!sent) this.#liveness.accepted(Date.now(), undefined);
      },
      dead: (error) => {
        this.#lost(error);
      },
      report: (info) => this.#events.emit('heartbeat', info),
    });
    this.#tasks = new TaskQueue(
      this.#codec,
      {
        ready: () => this.#state === 'connected',
        nextSeq: () => this.#nextSeq(),
        write: (frame) => this.#write(frame),
        suspect: () => {
          this.#liveness.probe(Date.now());
        },
      },
      this.#deadlines,
      options.tasks,
    );
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** The current session while connected. */
  get session(): SessionInfo | undefined {
    return this.#state === 'connected' ? this.#session : undefined;
  }

  /** Why the connection is closed, when it is. */
  get closeError(): Error | undefined {
    return this.#closeError;
  }

  /** Tasks waiting to be sent (offline, behind the in-flight cap, or between retries). */
  get queuedTasks(): number {
    return this.#tasks.queued;
  }

  /** Tasks sent and not yet answered. */
  get inFlightTasks(): number {
    return this.#tasks.inFlight;
  }

  /** The heartbeat policy in use. */
  get heartbeat(): HeartbeatPolicy {
    return this.#liveness.policy;
  }

  on<K extends keyof ConnectionEvents>(event: K, listener: ConnectionEvents[K]): () => void {
    return this.#events.on(event, listener);
  }

  once<K extends keyof ConnectionEvents>(event: K, listener: ConnectionEvents[K]): () => void {
    return this.#events.once(event, listener);
  }

  off<K extends keyof ConnectionEvents>(event: K, listener: ConnectionEvents[K]): void {
    this.#events.off(event, listener);
  }

  /** Listens to the pushes of one command; returns a function that stops listening. */
  onPush<C extends CommandWith<'push'>>(command: C, listener: (body: PushOf<C>) => void): () => void {
    return this.#pushes.on(command, listener);
  }

  /** Starts connecting (from idle or closed), or retries at once while backing off. */
  connect(): void {
    if (this.#state === 'idle' || this.#state === 'closed') {
      this.#closeError = undefined;
      this.#watchOnline();
      this.#dial();
    } else if (this.#state === 'backing-off') {
      this.#dial();
    }
  }

  /**
   * Resolves with the session once connected (at once if connected now); rejects if the
   * connection closes first, on `timeoutMs`, or when `signal` aborts.
   */
  ready(options: ReadyOptions = {}): Promise<SessionInfo> {
    const session = this.session;
    if (session) return Promise.resolve(session);
    if (this.#state === 'closed') return Promise.reject(this.#closedError());
    return nextSession(this, () => this.#closedError(), options);
  }

  /**
   * Sends a request as a task and resolves with its decoded response. Waits while offline;
   * see `RequestOptions` for timeouts, retries, priority, cancellation and expiry. Rejects
   * with a `ClientError` (wire `code`, `clientCode`) or, when aborted, the signal's reason.
   */
  request<C extends TaskCommand>(
    command: C,
    body: RequestInput<C>,
    options: RequestOptions = {},
  ): Promise<ResponseOf<C>> {
    if (this.#state === 'closed') return Promise.reject(this.#closedError());
    return this.#tasks.request(command, body, options);
  }

  /**
   * Lets a second channel carry queued requests while the long link is not logged in (the
   * short link over HTTP: `ShortLink`). The long link always wins when it is up.
   */
  attachFallback(channel: FallbackChannel): FallbackPort {
    return this.#tasks.attachFallback(channel);
  }

  /** Sends a one-way request (seq 0, no answer, e.g. TYPING) if connected; returns whether it went out. */
  notify<C extends TaskCommand>(command: C, body: RequestInput<C>): boolean {
    if (this.#state !== 'connected') return false;
    return this.#write(this.#codec.request(command, 0, body));
  }

  /**
   * The network changed (the app knows: Wi-Fi to cellular, a new carrier; browsers' `online`
   * event calls this too). Backing off: retry now with a fresh backoff. Connected: check the
   * link with a PING, so a link that died with the old network is replaced within one ping timeout.
   */
  networkChanged(networkId?: string): void {
    const now = Date.now();
    if (networkId !== undefined) this.#liveness.policy.onNetworkChanged?.(networkId, now);
    if (this.#state === 'backing-off') {
      this.#backoff.reset();
      this.#dial();
    } else if (this.#state === 'connected') {
      this.#liveness.reschedule(now);
      this.#liveness.probe(now);
    }
  }

  /** The app moved to the foreground or background: tells the server, the heartbeat policy and the backoff caps. */
  setAppState(state: pb.AppState): void {
    if (state === this.#appState) return;
    this.#appState = state;
    const now = Date.now();
    this.#backoff.background = state === pb.AppState.BACKGROUND;
    this.#liveness.policy.onAppState?.(state === pb.AppState.BACKGROUND ? 'background' : 'foreground', now);
    if (this.#state === 'connected') {
      this.#call(Command.SESSION_UPDATE, { appState: state }, ignore);
      this.#liveness.reschedule(now);
    } else if (this.#state === 'backing-off' && state === pb.AppState.FOREGROUND) {
      this.#dial(); // back in front of the user: do not make them wait out a background delay
    }
  }

  /** Swaps the heartbeat policy, e.g. for a smart one once its storage has loaded. */
  setHeartbeatPolicy(policy: HeartbeatPolicy): void {
    const now = Date.now();
    policy.onAppState?.(this.#appState === pb.AppState.BACKGROUND ? 'background' : 'foreground', now);
    this.#liveness.setPolicy(policy, now);
  }

  /**
   * Ends the session on the server (LOGOUT), then closes. The cached token is dropped, so a
   * later `connect()` asks the provider again.
   */
  async logout(options: RequestOptions = {}): Promise<void> {
    try {
      await this.request(Command.LOGOUT, {}, { retries: 0, ...options });
    } finally {
      this.#token = undefined;
      this.close();
    }
  }

  /** Closes the link and stops reconnecting; pending tasks fail with PARLEY_ERR_CLOSED. */
  close(): void {
    if (this.#state === 'closed') return;
    this.#shutdown(new ClientError(ClientErrorCode.CLOSED, ErrorCode.UNAVAILABLE, 'the connection was closed'));
  }

  // ---- attempts ---------------------------------------------------------------------------

  #dial(): void {
    this.#drop();
    const generation = ++this.#generation;
    const dialing = new AbortController();
    this.#dialing = dialing;
    this.#setState('connecting');
    const timeoutMs = this.#options.connectTimeoutMs ?? 10_000;
    this.#deadlines.set('connect', Date.now() + timeoutMs, () => {
      dialing.abort(
        new ClientError(
          ClientErrorCode.CONNECT_FAILED,
          ErrorCode.TIMEOUT,
          `connect timed out after ${String(timeoutMs)} ms`,
        ),
      );
    });
    const handlers: LinkHandlers = {
      onFrame: (frame) => {
        if (generation === this.#generation) this.#onFrame(frame);
      },
      onClose: (error) => {
        if (generation !== this.#generation) return;
        const message = `the link to ${this.#link?.remote ?? this.#transport.name} closed`;
        this.#lost(new ClientError(ClientErrorCode.LINK_LOST, ErrorCode.UNAVAILABLE, message, { cause: error }), {
          report: error instanceof ProtocolError,
        });
      },
    };
    const transport = this.#redirect ?? this.#transport;
    this.#redirect = undefined;
    let attempt: Promise<Link>;
    try {
      attempt = transport.connect(handlers, dialing.signal);
    } catch (err) {
      attempt = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    attempt.then(
      (link) => {
        if (generation !== this.#generation) {
          link.close(); // this attempt was abandoned while it finished
          return;
        }
        this.#deadlines.delete('connect');
        this.#dialing = undefined;
        this.#link = link;
        this.#linkTransport = transport;
        this.#seq = 0;
        this.#setState('authenticating');
        void this.#login(generation, false);
      },
      (err: unknown) => {
        if (generation !== this.#generation) return;
        const error =
          err instanceof ClientError
            ? err
            : new ClientError(
                ClientErrorCode.CONNECT_FAILED,
                ErrorCode.UNAVAILABLE,
                `cannot connect over ${transport.name}: ${err instanceof Error ? err.message : String(err)}`,
                { cause: err },
              );
        this.#lost(error);
      },
    );
  }

  async #login(generation: number, refreshed: boolean): Promise<void> {
    let token = this.#token;
    if (token === undefined) {
      try {
        token = await fetchToken(this.#options.token);
      } catch (err) {
        if (generation === this.#generation) this.#lost(err as ClientError, { report: true });
        return;
      }
      if (generation !== this.#generation) return;
      this.#token = token;
    }
    const now = Date.now();
    const version = this.#options.conversationVersion?.();
    const timeoutMs = this.#options.loginTimeoutMs ?? 15_000;
    this.#deadlines.set('login', now + timeoutMs, () => {
      const message = `no answer to LOGIN within ${String(timeoutMs)} ms`;
      this.#lost(new ClientError(ClientErrorCode.LOGIN_FAILED, ErrorCode.TIMEOUT, message));
    });
    const request = {
      token,
      deviceId: this.#options.deviceId,
      platform: this.#options.platform,
      clientVersion: this.#options.clientVersion ?? CLIENT_VERSION,
      heartbeatIntervalMs: this.#liveness.wanted(now),
      appState: this.#appState,
      locale: this.#options.locale,
      resume: version === undefined ? undefined : { conversationVersion: version },
    };
    const sent = this.#call(Command.LOGIN, request, (frame) => {
      this.#onLoginAnswer(generation, refreshed, frame);
    });
    if (!sent)
      this.#lost(new ClientError(ClientErrorCode.LINK_LOST, ErrorCode.UNAVAILABLE, 'the link closed at LOGIN'));
  }

  #onLoginAnswer(generation: number, refreshed: boolean, frame: Frame): void {
    this.#deadlines.delete('login');
    let answer: LoginAnswer;
    try {
      answer = readLoginAnswer(this.#codec, frame, refreshed);
    } catch (err) {
      this.#lost(err as Error, { report: true });
      return;
    }
    if (!answer.ok) {
      const { error, then } = answer;
      if (error.code === ErrorCode.TOKEN_EXPIRED || error.code === ErrorCode.TOKEN_INVALID) this.#token = undefined;
      if (then === 'refresh') {
        void this.#login(generation, true); // renew and retry on the same link, unseen by the app
      } else if (then === 'stop') {
        this.#events.emit('error', error);
        this.#shutdown(error);
      } else {
        const delayMs = error.retryAfterMs > 0 ? Math.max(error.retryAfterMs, this.#backoff.next()) : undefined;
        this.#lost(error, { report: then === 'retry', delayMs });
      }
      return;
    }
    const { body } = answer;
    const now = Date.now();
    const limits = limitsOf(body);
    this.#session = {
      userId: body.userId,
      sessionId: body.sessionId,
      serverTime: body.serverTime,
      clockOffsetMs: body.serverTime - now,
      conversationVersion: body.conversationVersion,
      heartbeatIntervalMs: body.heartbeatIntervalMs,
      limits,
      reconnected: this.#logins++ > 0,
      transport: (this.#linkTransport ?? this.#transport).name,
      remote: this.#link?.remote ?? '',
    };
    this.#connectedAt = now;
    this.#setState('connected');
    if (this.#state !== 'connected') return; // a state listener closed it
    this.#liveness.start(now, body.heartbeatIntervalMs, limits.minHeartbeatIntervalMs, limits.maxHeartbeatIntervalMs);
    // Listeners run before the queue flushes, so requests they make (sync) can take priority.
    this.#events.emit('connected', this.#session);
    this.#tasks.flush();
  }

  // ---- frames -----------------------------------------------------------------------------

  #onFrame(frame: Frame): void {
    this.#liveness.received(Date.now());
    if ((frame.flags & Flags.RESPONSE) !== 0) {
      const waiter = this.#pending.get(frame.seq);
      if (waiter) {
        this.#pending.delete(frame.seq);
        waiter(frame);
      } else {
        this.#tasks.onResponse(frame); // false: a late answer to a task that timed out
      }
      return;
    }
    let push: Push | undefined;
    try {
      push = this.#pushes.decode(this.#codec, frame);
    } catch (err) {
      this.#events.emit('error', err as Error);
      return;
    }
    if (!push) return;
    this.#events.emit('push', push);
    this.#pushes.deliver(push);
    if (push.command === Command.KICK) this.#onKick(push.body);
    else if (push.command === Command.GOAWAY) this.#onGoaway(push.body);
  }

  #onKick(kick: pb.Kick): void {
    this.#events.emit('kicked', kick);
    const message = `kicked by the server: ${errorCodeName(kick.reason)} ${kick.message}`.trimEnd();
    const error = new ClientError(ClientErrorCode.KICKED, kick.reason, message);
    if (TERMINAL_KICKS.has(kick.reason)) this.#shutdown(error);
    else this.#lost(error);
  }

  #onGoaway(goaway: pb.GoAway): void {
    this.#events.emit('goaway', goaway);
    const reason = goaway.reason || ErrorCode.SHUTTING_DOWN;
    const message = `the server is going away: ${goaway.message || errorCodeName(reason)}`;
    const error = new ClientError(ClientErrorCode.GOAWAY, reason, message);
    this.#redirect = this.#alternative(goaway.endpoints);
    this.#lost(error, { delayMs: this.#backoff.goaway(goaway.reconnectDelayMs) });
  }

  /** The first GOAWAY endpoint the app can build a transport for; a bad one is skipped, not fatal. */
  #alternative(endpoints: readonly string[]): Transport | undefined {
    const build = this.#options.endpointTransport;
    if (build === undefined) return undefined;
    for (const endpoint of endpoints) {
      try {
        const transport = build(endpoint);
        if (transport) return transport;
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        const message = `ignoring GOAWAY endpoint ${JSON.stringify(endpoint)}: ${reason}`;
        this.#events.emit(
          'error',
          new ClientError(ClientErrorCode.GOAWAY, ErrorCode.INVALID_ARGUMENT, message, { cause: err }),
        );
      }
    }
    return undefined;
  }

  /** Sends an internal request whose answer goes to `waiter`; false if the link could not take it. */
  #call<C extends CommandWith<'request'>>(command: C, body: RequestInput<C>, waiter: Waiter): boolean {
    const seq = this.#nextSeq();
    this.#pending.set(seq, waiter);
    if (this.#write(this.#codec.request(command, seq, body))) return true;
    this.#pending.delete(seq);
    return false;
  }

  #decodeOk<C extends CommandWith<'response'>>(command: C, frame: Frame): ResponseOf<C> | undefined {
    try {
      if (this.#codec.responseStatus(frame).code !== ErrorCode.OK) return undefined;
      return this.#codec.decodeResponse(command, frame);
    } catch {
      return undefined;
    }
  }

  #write(frame: Uint8Array): boolean {
    const link = this.#link;
    if (!link?.send(frame)) return false;
    this.#liveness.sent(Date.now());
    return true;
  }

  #nextSeq(): number {
    this.#seq = this.#seq >= MAX_SEQ ? 1 : this.#seq + 1;
    return this.#seq;
  }

  // ---- endings ----------------------------------------------------------------------------

  /** The link or attempt failed: drop it and schedule the next attempt. */
  #lost(error: Error, options: { delayMs?: number; report?: boolean } = {}): void {
    if (this.#state === 'closed' || this.#state === 'idle' || this.#state === 'backing-off') return;
    const now = Date.now();
    const wasConnected = this.#state === 'connected';
    if (wasConnected) this.#backoff.linkEnded(now - this.#connectedAt);
    this.#drop(error);
    const delay = options.delayMs ?? this.#backoff.next();
    this.#deadlines.set('reconnect', now + delay, () => {
      this.#dial();
    });
    this.#setState('backing-off');
    if (options.report) this.#events.emit('error', error);
    this.#events.emit('disconnected', { error, wasConnected, reconnectInMs: delay });
  }

  /** Stops for good (until `connect()`): no link, no timers, every task failed with `error`. */
  #shutdown(error: Error): void {
    const wasConnected = this.#state === 'connected';
    this.#drop(error);
    this.#deadlines.clear();
    this.#tasks.failAll(error);
    this.#unwatchOnline?.();
    this.#unwatchOnline = undefined;
    this.#closeError = error;
    this.#setState('closed');
    this.#events.emit('disconnected', { error, wasConnected, reconnectInMs: undefined });
  }

  /** Closes and detaches the link or the attempt in progress, and whatever depended on it. */
  #drop(cause?: Error): void {
    this.#generation++;
    const link = this.#link;
    this.#link = undefined;
    link?.close();
    const dialing = this.#dialing;
    this.#dialing = undefined;
    dialing?.abort(cause ?? new Error('attempt abandoned'));
    for (const key of ['connect', 'login', 'reconnect']) this.#deadlines.delete(key);
    this.#liveness.stop(Date.now());
    this.#pending = new Map();
    this.#tasks.linkLost(cause);
  }

  #setState(state: ConnectionState): void {
    const previous = this.#state;
    if (previous === state) return;
    this.#state = state;
    this.#events.emit('state', state, previous);
  }

  #closedError(): Error {
    return (
      this.#closeError ?? new ClientError(ClientErrorCode.CLOSED, ErrorCode.UNAVAILABLE, 'the connection is closed')
    );
  }

  #watchOnline(): void {
    if (this.#unwatchOnline || this.#options.watchOnline === false) return;
    this.#unwatchOnline = watchOnline(() => {
      this.networkChanged();
    });
  }
}
