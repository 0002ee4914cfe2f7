import { Command, ErrorCode, Flags, type Frame, ProtocolError, errorCodeName, pb } from '@parley/protocol';
import type { ServerContext } from '../context.js';
import type { Connection, ConnectionHandler } from '../gateway/connection.js';
import { dispatch } from '../handlers/dispatch.js';
import type { TokenBucket } from './rate-limit.js';

export enum SessionState {
  /** Connected, not logged in. */
  Open = 0,
  /** LOGIN received, token being verified. */
  Authenticating = 1,
  Active = 2,
  Closed = 3,
}

/**
 * One connection's session: login state, liveness, limits and the frames in and out.
 * Kept small on purpose (an idle authenticated session must cost well under 5 KB): no
 * timers (the sweeper checks deadlines for all sessions at once; only a waiting PROBE holds
 * one), no closures, optional state allocated only when used.
 */
export class Session implements ConnectionHandler {
  id = '';
  userId = '';
  deviceId = '';
  platform: pb.Platform = pb.Platform.PLATFORM_UNSPECIFIED;
  appState: pb.AppState = pb.AppState.FOREGROUND;
  locale = '';
  state = SessionState.Open;
  heartbeatMs = 0;
  readonly openedAt: number;
  lastSeen: number;
  /** Frames received before login; past the limit the connection is closed. */
  preLoginFrames = 0;
  /** When the send queue first went over budget (0 = within budget). */
  overBudgetSince = 0;
  sendBucket: TokenBucket | undefined;
  requestBucket: TokenBucket | undefined;
  /**
   * Serialises this session's SENDs up to group commit so their seqs follow the order they
   * were sent in: resolves once the latest SEND has queued its append (or finished).
   */
  sendChain: Promise<void> | undefined;
  /** Set by dispatch as a SEND's handler starts: the handler calls it once its append is queued. */
  sendQueued: (() => void) | undefined;
  /** Chat rooms joined on this connection. */
  rooms: Set<string> | undefined;
  /** Users whose presence this session follows. */
  presenceSubscriptions: Set<string> | undefined;
  /** The pending PROBE's timer (one at a time), cleared if the connection closes first. */
  probeTimer: NodeJS.Timeout | undefined;
  /** When the pending (or last) PROBE answers: the heartbeat deadline counts from then, not from the last frame. */
  probeUntil = 0;
  #closeReason: ErrorCode = ErrorCode.OK;
  /** Set once a kick or goaway went out: later frames from the peer are ignored. */
  #closing = false;

  constructor(
    readonly ctx: ServerContext,
    readonly connection: Connection,
  ) {
    // The gateway counts open connections; the session counts the logged-in ones.
    this.openedAt = this.lastSeen = Date.now();
  }

  onFrame(frame: Frame): void {
    this.lastSeen = Date.now();
    if (this.#closing || this.state === SessionState.Closed) return;
    if (frame.command === Command.PING && (frame.flags & Flags.RESPONSE) === 0) {
      // Answered without decoding: the body is empty by definition.
      if (frame.seq !== 0) this.sendFrame(this.ctx.codec.response(Command.PING, frame.seq, {}));
      return;
    }
    dispatch(this, frame);
  }

  onProtocolError(error: ProtocolError): void {
    this.ctx.logger.debug(
      { remote: this.connection.remote, code: error.codeName, err: error.message },
      'protocol error',
    );
    this.ctx.metrics.errors.inc({ code: error.codeName });
    if (error.code === ErrorCode.BAD_MAGIC) {
      // The peer does not speak Parley: there is nobody to tell.
      this.#closing = true;
      this.#closeReason = error.code;
      this.connection.destroy();
      return;
    }
    this.kick(error.code, error.message);
  }

  onClose(): void {
    const wasActive = this.state === SessionState.Active;
    this.state = SessionState.Closed;
    if (this.probeTimer !== undefined) {
      clearTimeout(this.probeTimer);
      this.probeTimer = undefined;
    }
    const { metrics, logger } = this.ctx;
    const transport = this.connection.transport;
    if (wasActive) metrics.connections.dec({ transport, state: 'active' });
    const reason = this.#closeReason === ErrorCode.OK ? 'peer_closed' : errorCodeName(this.#closeReason);
    metrics.connectionsClosed.inc({ transport, reason });
    logger.debug({ remote: this.connection.remote, user: this.userId || undefined, reason }, 'connection closed');
    this.ctx.rooms.leaveAll(this);
    if (wasActive) {
      const last = this.ctx.registry.remove(this);
      this.ctx.presence.sessionEnded(this, last);
    }
  }

  /** Reads the state afresh (it may change while a handler awaits). */
  is(state: SessionState): boolean {
    return this.state === state;
  }

  /** Marks the session logged in (called by the LOGIN handler after the token checks out). */
  activate(): void {
    this.state = SessionState.Active;
    this.ctx.metrics.connections.inc({ transport: this.connection.transport, state: 'active' });
  }

  /**
   * Queues a frame. When the connection's queue goes over its send budget the session is
   * marked; the sweeper drops it if it stays over for the grace period, and a queue four
   * times the budget is dropped at once so memory stays bounded.
   */
  sendFrame(frame: Uint8Array): void {
    if (this.state === SessionState.Closed) return;
    if (this.connection.send(frame)) {
      if (this.overBudgetSince !== 0) this.overBudgetSince = 0;
      return;
    }
    if (this.overBudgetSince === 0) this.overBudgetSince = Date.now();
    if (this.connection.queuedBytes > 4 * this.ctx.config.limits.sendBudgetBytes) {
      this.kick(ErrorCode.SLOW_CONSUMER, 'the client is not reading fast enough', true);
    }
  }

  /** Tells the client why it is being disconnected, then closes. `hard` skips flushing. */
  kick(reason: ErrorCode, message: string, hard = false): void {
    if (this.state === SessionState.Closed) return;
    if (this.#closing && !hard) return;
    this.#closing = true;
    this.#closeReason = reason;
    if (hard) {
      this.connection.destroy();
      return;
    }
    this.connection.send(this.ctx.codec.push(Command.KICK, { reason, message }));
    this.connection.close();
  }

  /** Sends GOAWAY and closes after the client has had it (shutdown, drain). */
  goAway(reconnectDelayMs: number, message: string): void {
    if (this.#closing || this.state === SessionState.Closed) return;
    this.#closing = true;
    this.#closeReason = ErrorCode.SHUTTING_DOWN;
    this.connection.send(
      this.ctx.codec.push(Command.GOAWAY, { reason: ErrorCode.SHUTTING_DOWN, reconnectDelayMs, message }),
    );
    this.connection.close();
  }
}
