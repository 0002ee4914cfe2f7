/**
 * Why a heartbeat failed: `timeout` when no frame at all came back within the ping timeout
 * (what a NAT that silently forgot the mapping looks like), `link-dead-after-idle` when the
 * link ended while the heartbeat was pending, `other` for failures that say nothing about the
 * path's idle timeout (the connection does not report those).
 */
export type HeartbeatFailure = 'timeout' | 'link-dead-after-idle' | 'other';

/** Foreground: the user is looking at the app. */
export type AppVisibility = 'foreground' | 'background';

/**
 * Decides how long the link may stay idle before a PING, and learns from the outcomes. The
 * connection asks `intervalFor` whenever it schedules the next heartbeat, and reports only
 * heartbeats it sent because the link was idle for that interval (not extra liveness probes),
 * so an adaptive policy can trust every report. Times are `Date.now()` milliseconds.
 *
 * The connection clamps the interval to the server's bounds from the login response and
 * declares it to the server (LOGIN, then SESSION_UPDATE before using a longer one).
 */
export interface HeartbeatPolicy {
  /** Idle time before a PING for a link that is up at `now`. */
  intervalFor(now: number): number;
  /** How long to wait for any frame after a PING before the link counts as dead. */
  readonly pingTimeoutMs: number;
  /** A link logged in. */
  onLinkUp(now: number): void;
  /**
   * A heartbeat PING got an answer. `idleMs` is how long the link had been silent in both
   * directions when the PING went out: the silence the path just proved it survives (at most
   * the interval; less when the server pushed something meanwhile).
   */
  onHeartbeatSucceeded(now: number, idleMs: number): void;
  /** A heartbeat PING sent after `idleMs` of silence got no answer, or its link ended first. */
  onHeartbeatFailed(now: number, cause: HeartbeatFailure, idleMs: number): void;
  /** Optional: the app said the network changed (`networkId` e.g. "wifi:home", "cell:46000"). */
  onNetworkChanged?(networkId: string, now: number): void;
  /** Optional: the app moved to the foreground or background. */
  onAppState?(state: AppVisibility, now: number): void;
}

export interface FixedHeartbeatOptions {
  /** Idle time before a PING. Default 210 s (WeChat's minimum; below common NAT timeouts of 5 min). */
  intervalMs?: number;
  /** Default 15 s. */
  pingTimeoutMs?: number;
}

/** The default policy: the same interval on every network, nothing learned. */
export class FixedHeartbeat implements HeartbeatPolicy {
  readonly intervalMs: number;
  readonly pingTimeoutMs: number;

  constructor(options: FixedHeartbeatOptions = {}) {
    this.intervalMs = options.intervalMs ?? 210_000;
    this.pingTimeoutMs = options.pingTimeoutMs ?? 15_000;
  }

  intervalFor(): number {
    return this.intervalMs;
  }

  onLinkUp(): void {
    // nothing to learn
  }

  onHeartbeatSucceeded(): void {
    // nothing to learn
  }

  onHeartbeatFailed(): void {
    // nothing to learn
  }
}
