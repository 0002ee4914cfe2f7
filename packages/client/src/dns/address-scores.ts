import { canonicalIp } from './ip.js';
import type { AddressReporter } from './types.js';

export interface AddressScoresOptions {
  /** Scores stay within [min, max], so an address that failed for a while can win back its place. Defaults -5 and 5. */
  min?: number;
  max?: number;
}

/**
 * Per-address health from connection outcomes: +1 for each successful connect, -1 for each
 * failure (the IP-list scoring of the field notes). `sort` puts the best addresses first.
 * Clear it when the network changes: an address bad on one network may be fine on another.
 */
export class AddressScores implements AddressReporter {
  readonly #scores = new Map<string, number>();
  readonly #min: number;
  readonly #max: number;

  constructor(options: AddressScoresOptions = {}) {
    this.#min = options.min ?? -5;
    this.#max = options.max ?? 5;
  }

  report(address: string, ok: boolean): void {
    const key = canonicalIp(address);
    const next = this.score(key) + (ok ? 1 : -1);
    this.#scores.set(key, Math.min(this.#max, Math.max(this.#min, next)));
  }

  /** The address's score; 0 when never reported. */
  score(address: string): number {
    return this.#scores.get(canonicalIp(address)) ?? 0;
  }

  /** A copy ordered by score, highest first; equal scores keep their order. */
  sort<T extends { address: string }>(addresses: readonly T[]): T[] {
    return addresses
      .map((a, i) => ({ a, i, s: this.score(a.address) }))
      .sort((x, y) => y.s - x.s || x.i - y.i)
      .map((x) => x.a);
  }

  clear(): void {
    this.#scores.clear();
  }
}
