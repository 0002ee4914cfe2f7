import { ErrorCode } from '@parley/protocol';
import { ClientError, ClientErrorCode } from '../errors.js';
import type { HeartbeatPolicy } from './heartbeat-policy.js';
import type { Deadlines } from './timers.js';

/** One heartbeat or probe outcome, for the `heartbeat` event. */
export interface HeartbeatInfo {
  /** true: a frame came back in time. */
  ok: boolean;
  /** `heartbeat`: sent because nothing was sent for the interval; `probe`: an extra liveness check. */
  kind: 'heartbeat' | 'probe';
  /** Time since the last frame in either direction when the PING went out. */
  idleMs: number;
  /** The idle interval in force when the PING went out. */
  intervalMs: number;
  /** Time from the PING to the first frame after it (ok only). */
  rttMs?: number;
}

/** What liveness needs from the connection. */
export interface LivenessIo {
  /** Sends a PING request; false when the link could not take it. */
  sendPing(): boolean;
  /** Declares a longer heartbeat interval to the server (SESSION_UPDATE); answer via `accepted`. */
  declare(intervalMs: number): void;
  /** No frame came back within the ping timeout: the link is dead. */
  dead(error: ClientError): void;
  report(info: HeartbeatInfo): void;
}

interface PendingPing {
  sentAt: number;
  heartbeat: boolean;
  idleMs: number;
  intervalMs: number;
}

const KEY = 'liveness';
const U32_MAX = 0xffffffff;

/**
 * Heartbeats on a logged-in link: a PING only after nothing was sent for the interval (every
 * outgoing frame pushes the next one back), any incoming frame answers a pending PING, and no
 * frame within the ping timeout means the link is dead. Rescheduling after a send is lazy:
 * the timer fires at the old due time and moves itself, so a send costs one assignment.
 */
export class Liveness {
  readonly #deadlines: Deadlines;
  readonly #io: LivenessIo;
  #policy: HeartbeatPolicy;
  #up = false;
  #lastSentAt = 0;
  #lastReceivedAt = 0;
  #ping: PendingPing | undefined;
  #minMs = 1;
  #maxMs = U32_MAX;
  /** The interval the server accepted: never stay silent longer than this. */
  #declaredMs = 0;
  #declaring = false;

  constructor(policy: HeartbeatPolicy, deadlines: Deadlines, io: LivenessIo) {
    this.#policy = policy;
    this.#deadlines = deadlines;
    this.#io = io;
  }

  get policy(): HeartbeatPolicy {
    return this.#policy;
  }

  /** The interval in force: what the policy wants, within the server's bounds and what it accepted. */
  get intervalMs(): number {
    return Math.min(this.wanted(Date.now()), this.#declaredMs || U32_MAX);
  }

  /** The policy's interval for `now`, clamped to the server's bounds (known after login). */
  wanted(now: number): number {
    const ms = Math.round(this.#policy.intervalFor(now));
    return Math.min(Math.max(ms, this.#minMs), this.#maxMs);
  }

  /** A link logged in; the server accepted `acceptedMs` and allows [minMs, maxMs] (0 = no bound). */
  start(now: number, acceptedMs: number, minMs: number, maxMs: number): void {
    this.#up = true;
    this.#lastSentAt = this.#lastReceivedAt = now;
    this.#ping = undefined;
    this.#declaring = false;
    this.#minMs = Math.max(1, minMs);
    this.#maxMs = maxMs > 0 ? maxMs : U32_MAX;
    this.#declaredMs = acceptedMs;
    this.#policy.onLinkUp(now);
    this.#schedule(now);
  }

  /** The link ended (a heartbeat pending then counts as failed), or has not logged in yet. */
  stop(now: number): void {
    this.#deadlines.delete(KEY);
    if (!this.#up) return;
    this.#up = false;
    this.#declaring = false;
    const ping = this.#ping;
    this.#ping = undefined;
    if (ping?.heartbeat) this.#policy.onHeartbeatFailed(now, 'link-dead-after-idle', ping.idleMs);
  }

  sent(now: number): void {
    this.#lastSentAt = now;
  }

  received(now: number): void {
    this.#lastReceivedAt = now;
    // Frames are handled one at a time, so any frame seen after the PING went out came after it.
    if (this.#ping) this.#answered(now);
  }

  /** Checks the link now with a PING, unless one is pending (network change, a request timed out). */
  probe(now: number): void {
    if (!this.#up || this.#ping) return;
    this.#sendPing(now, false, this.intervalMs);
  }

  /** The server answered a SESSION_UPDATE with the interval it accepted (undefined: it failed). */
  accepted(now: number, intervalMs: number | undefined): void {
    this.#declaring = false;
    if (intervalMs !== undefined) this.#declaredMs = intervalMs;
    this.#schedule(now);
  }

  /** Swaps the policy (the link keeps going; the next schedule asks the new one). */
  setPolicy(policy: HeartbeatPolicy, now: number): void {
    this.#policy = policy;
    if (this.#up) {
      policy.onLinkUp(now);
      this.#schedule(now);
    }
  }

  /** Re-reads the policy's interval (app state or network changed). */
  reschedule(now: number): void {
    this.#schedule(now);
  }

  #schedule(now: number): void {
    if (!this.#up) return;
    const ping = this.#ping;
    if (ping) {
      this.#deadlines.set(KEY, ping.sentAt + this.#policy.pingTimeoutMs, this.#onPingTimeout);
      return;
    }
    const want = this.wanted(now);
    if (want > this.#declaredMs && !this.#declaring) {
      // The server drops a client silent for longer than it was told: tell it first.
      this.#declaring = true;
      this.#io.declare(want);
    }
    const interval = Math.min(want, this.#declaredMs);
    this.#deadlines.set(KEY, this.#lastSentAt + interval, this.#onDue);
  }

  readonly #onDue = (): void => {
    if (!this.#up || this.#ping) return;
    const now = Date.now();
    const interval = Math.min(this.wanted(now), this.#declaredMs);
    if (now < this.#lastSentAt + interval) {
      this.#schedule(now); // something was sent meanwhile
      return;
    }
    this.#sendPing(now, true, interval);
  };

  #sendPing(now: number, heartbeat: boolean, intervalMs: number): void {
    const idleMs = now - Math.max(this.#lastSentAt, this.#lastReceivedAt);
    this.#ping = { sentAt: now, heartbeat, idleMs, intervalMs };
    if (!this.#io.sendPing()) {
      this.#ping = undefined;
      return;
    }
    this.#lastSentAt = now; // the PING itself is traffic, whether or not the caller reports it
    this.#schedule(now);
  }

  #answered(now: number): void {
    const ping = this.#ping as PendingPing;
    this.#ping = undefined;
    if (ping.heartbeat) this.#policy.onHeartbeatSucceeded(now, ping.idleMs);
    this.#io.report({
      ok: true,
      kind: ping.heartbeat ? 'heartbeat' : 'probe',
      idleMs: ping.idleMs,
      intervalMs: ping.intervalMs,
      rttMs: now - ping.sentAt,
    });
    this.#schedule(now);
  }

  readonly #onPingTimeout = (): void => {
    const ping = this.#ping;
    if (!this.#up || !ping) return;
    const now = Date.now();
    const timeout = this.#policy.pingTimeoutMs;
    if (now < ping.sentAt + timeout) {
      this.#schedule(now);
      return;
    }
    this.#ping = undefined;
    this.#up = false;
    if (ping.heartbeat) this.#policy.onHeartbeatFailed(now, 'timeout', ping.idleMs);
    const kind = ping.heartbeat ? 'heartbeat' : 'probe';
    this.#io.report({ ok: false, kind, idleMs: ping.idleMs, intervalMs: ping.intervalMs });
    this.#io.dead(
      new ClientError(
        ClientErrorCode.PING_TIMEOUT,
        ErrorCode.TIMEOUT,
        `no frame within ${String(timeout)} ms of a PING: the link is dead`,
      ),
    );
  };
}
