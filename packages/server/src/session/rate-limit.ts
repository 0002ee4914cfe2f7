/**
 * Token bucket: `rate` tokens per second up to `burst`. State is two numbers so that one
 * per connection stays cheap; it refills lazily when asked, with no timer.
 */
export class TokenBucket {
  #tokens: number;
  #stamp: number;

  constructor(
    readonly rate: number,
    readonly burst: number,
    now: number,
  ) {
    this.#tokens = burst;
    this.#stamp = now;
  }

  /** Takes one token; returns 0 on success, else the ms until one is available. */
  take(now: number): number {
    const elapsed = now - this.#stamp;
    if (elapsed > 0) {
      this.#tokens = Math.min(this.burst, this.#tokens + (elapsed * this.rate) / 1000);
      this.#stamp = now;
    }
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.#tokens) * 1000) / this.rate);
  }
}
