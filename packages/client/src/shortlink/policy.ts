/** Which link carries the client's requests: the long link (connected or being retried), or the short link (HTTP). */
export type LinkKind = 'long' | 'short';

export interface ShortLinkPolicyOptions {
  /** Consecutive failed long-link attempts (dial or login) before going short. Default 3. */
  afterFailures?: number;
  /** Time without a logged-in long link before going short, counted from the first attempt or the loss of the link. Default 15 s. */
  afterMs?: number;
}

export const DEFAULT_SHORT_LINK_POLICY = { afterFailures: 3, afterMs: 15_000 } as const;

/**
 * Decides when the client goes short and when it comes back (Mars's long/short channel
 * choice, simplified): short after `afterFailures` failed attempts in a row or `afterMs`
 * without a long link, whichever comes first; long again the moment a login succeeds. It only
 * reads the connection's lifecycle; it owns one timer, for `afterMs`.
 */
export class ShortLinkPolicy {
  readonly afterFailures: number;
  readonly afterMs: number;
  readonly #onSwitch: (link: LinkKind) => void;
  #link: LinkKind = 'long';
  #failures = 0;
  #downSince: number | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: ShortLinkPolicyOptions, onSwitch: (link: LinkKind) => void) {
    this.afterFailures = Math.max(1, options.afterFailures ?? DEFAULT_SHORT_LINK_POLICY.afterFailures);
    this.afterMs = Math.max(0, options.afterMs ?? DEFAULT_SHORT_LINK_POLICY.afterMs);
    this.#onSwitch = onSwitch;
  }

  get link(): LinkKind {
    return this.#link;
  }

  /** Consecutive failed attempts since the last login. */
  get failures(): number {
    return this.#failures;
  }

  /** The long link is not up from `now` on: the first attempt started, or a logged-in link ended. Starts the clock once. */
  down(now: number): void {
    if (this.#downSince !== undefined) return;
    this.#downSince = now;
    if (this.#link === 'short') return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#set('short');
    }, this.afterMs);
  }

  /** An attempt ended without a login. */
  attemptFailed(now: number): void {
    this.down(now);
    this.#failures++;
    if (this.#failures >= this.afterFailures) this.#set('short');
  }

  /** A login succeeded: back to the long link. */
  connected(): void {
    this.#reset();
    this.#set('long');
  }

  /** The connection closed (the app, or a kick that forbids reconnecting): nothing goes short. */
  closed(): void {
    this.#reset();
    this.#set('long');
  }

  #reset(): void {
    this.#failures = 0;
    this.#downSince = undefined;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #set(link: LinkKind): void {
    if (link === this.#link) return;
    this.#link = link;
    if (link === 'short' && this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#onSwitch(link);
  }
}
