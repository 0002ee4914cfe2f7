import { literalAnswer, normalizeHost, untilAborted } from './resolve-util.js';
import type { ResolvedAddress, Resolver } from './types.js';

export interface CachingResolverOptions {
  /**
   * How long past its expiry an answer may still be served (marked `stale`) when the
   * upstream fails or answers empty. A slightly old address beats no address on a network
   * whose DNS is down. Default 24 h; 0 turns stale answers off.
   */
  maxStaleMs?: number;
  /** Hosts kept; the least recently used goes first. Default 256. */
  maxEntries?: number;
  /** Clock in ms since the epoch. Default `Date.now`. */
  now?: () => number;
}

interface Entry {
  addresses: ResolvedAddress[];
  /** The earliest expiry among the addresses: the answer is refreshed as a whole. */
  expiresAt: number;
}

/**
 * Caches any resolver's answers per host until the earliest TTL among them runs out.
 * Concurrent lookups of one host share one upstream lookup. Call `clear()` when the network
 * changes: answers (and their plausibility) depend on the network they came from.
 */
export class CachingResolver implements Resolver {
  readonly #upstream: Resolver;
  readonly #maxStaleMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  readonly #inflight = new Map<string, Promise<ResolvedAddress[]>>();

  constructor(upstream: Resolver, options: CachingResolverOptions = {}) {
    this.#upstream = upstream;
    this.#maxStaleMs = options.maxStaleMs ?? 24 * 3600 * 1000;
    this.#maxEntries = options.maxEntries ?? 256;
    this.#now = options.now ?? Date.now;
  }

  resolve(host: string, signal?: AbortSignal): Promise<ResolvedAddress[]> {
    const literal = literalAnswer(host);
    if (literal) return Promise.resolve(literal);
    const key = normalizeHost(host);
    const entry = this.#entries.get(key);
    if (entry && this.#now() < entry.expiresAt) {
      this.#touch(key, entry);
      return Promise.resolve(entry.addresses.slice());
    }
    const lookup = this.#inflight.get(key) ?? this.#lookup(key);
    // The shared lookup runs without any one caller's signal; each caller can stop waiting.
    return untilAborted(lookup, signal).then((addresses) => addresses.slice());
  }

  /** Forgets one host's answer. */
  invalidate(host: string): void {
    const key = normalizeHost(host);
    this.#entries.delete(key);
    this.#inflight.delete(key);
  }

  /** Forgets every answer (network change). */
  clear(): void {
    this.#entries.clear();
    this.#inflight.clear();
  }

  /**
   * Starts the shared upstream lookup of `key`. Its answer is stored only if it is still the
   * current lookup when it ends: `invalidate` or `clear` in between drop it.
   */
  #lookup(key: string): Promise<ResolvedAddress[]> {
    // Called from a then(), so a resolver that throws synchronously still rejects the promise.
    const lookup: Promise<ResolvedAddress[]> = Promise.resolve(key)
      .then((k) => this.#upstream.resolve(k))
      .then(
        (addresses) => {
          const current = this.#settle(key, lookup);
          if (addresses.length === 0) return this.#staleOr(key, () => addresses);
          if (current) this.#store(key, addresses);
          return addresses;
        },
        (err: unknown) => {
          this.#settle(key, lookup);
          return this.#staleOr(key, () => {
            throw err;
          });
        },
      );
    this.#inflight.set(key, lookup);
    return lookup;
  }

  /** Removes a finished lookup from the in-flight table; false when it was already replaced or dropped. */
  #settle(key: string, lookup: Promise<ResolvedAddress[]>): boolean {
    if (this.#inflight.get(key) !== lookup) return false;
    this.#inflight.delete(key);
    return true;
  }

  /** The stale answer when it is within `maxStaleMs`, else `fallback()`. */
  #staleOr(key: string, fallback: () => ResolvedAddress[]): ResolvedAddress[] {
    const entry = this.#entries.get(key);
    if (entry && this.#now() < entry.expiresAt + this.#maxStaleMs) {
      return entry.addresses.map((a) => ({ ...a, stale: true as const }));
    }
    return fallback();
  }

  #store(key: string, addresses: ResolvedAddress[]): void {
    const expiresAt = Math.min(...addresses.map((a) => a.expiresAt));
    this.#touch(key, { addresses: addresses.map(fresh), expiresAt });
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }

  /** Re-inserts the entry so the map's order is least recently used first. */
  #touch(key: string, entry: Entry): void {
    this.#entries.delete(key);
    this.#entries.set(key, entry);
  }
}

/** A copy without the `stale` mark (a nested cache may pass stale answers up). */
function fresh(address: ResolvedAddress): ResolvedAddress {
  const copy = { ...address };
  delete copy.stale;
  return copy;
}
