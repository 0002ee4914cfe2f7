/**
 * Reconnect delays: exponential backoff with full jitter (a uniformly random delay between 0
 * and min(cap, base * 2^attempt)), so a server restart is not met by every client at once.
 */
export interface BackoffOptions {
  /** First ceiling; doubled per failed attempt. Default 1 s. */
  baseMs?: number;
  /** Largest ceiling while the app is in the foreground. Default 60 s. */
  capMs?: number;
  /** Largest ceiling while the app is in the background. Default 300 s (Mars: 240-600 s). */
  backgroundCapMs?: number;
  /**
   * The attempt count resets only after a link stayed logged in this long, so a server that
   * accepts logins and drops them at once is not hammered. Default 30 s.
   */
  resetAfterMs?: number;
  /** Random extra wait, up to this, after a GOAWAY's reconnect delay. Default 3 s. */
  goawayJitterMs?: number;
  /** Random source in [0, 1); tests may pin it. Default Math.random. */
  random?: () => number;
}

export class Backoff {
  readonly baseMs: number;
  readonly capMs: number;
  readonly backgroundCapMs: number;
  readonly resetAfterMs: number;
  readonly goawayJitterMs: number;
  readonly random: () => number;
  /** Consecutive failed attempts since the last stable link. */
  attempt = 0;
  background = false;

  constructor(options: BackoffOptions = {}) {
    this.baseMs = options.baseMs ?? 1_000;
    this.capMs = options.capMs ?? 60_000;
    this.backgroundCapMs = options.backgroundCapMs ?? 300_000;
    this.resetAfterMs = options.resetAfterMs ?? 30_000;
    this.goawayJitterMs = options.goawayJitterMs ?? 3_000;
    this.random = options.random ?? Math.random;
  }

  /** The delay before the next attempt; counts the attempt. */
  next(): number {
    const cap = this.background ? this.backgroundCapMs : this.capMs;
    const ceiling = Math.min(cap, this.baseMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.floor(this.random() * ceiling);
  }

  /** A link that was logged in for `upMs` ended: reset the count if it was stable. */
  linkEnded(upMs: number): void {
    if (upMs >= this.resetAfterMs) this.attempt = 0;
  }

  reset(): void {
    this.attempt = 0;
  }

  /** The wait after a GOAWAY: the server's delay plus jitter. */
  goaway(delayMs: number): number {
    return delayMs + Math.floor(this.random() * this.goawayJitterMs);
  }
}
