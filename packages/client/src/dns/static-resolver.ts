import { ipLiteral } from './ip.js';
import { literalAnswer, normalizeHost } from './resolve-util.js';
import type { ResolvedAddress, Resolver } from './types.js';

export interface StaticResolverOptions {
  /**
   * How long an answer from the list counts as fresh. Short on purpose: behind a
   * `CachingResolver`, a fallback answer should not hide a recovered HTTPDNS or system DNS
   * for long. Default 60 s.
   */
  ttlSeconds?: number;
  /** Clock in ms since the epoch. Default `Date.now`. */
  now?: () => number;
}

/**
 * The IP fallback list: fixed addresses per host, shipped with the app or fetched from the
 * server (`GET /v1/endpoints`, see `fetchServerEndpoints`) and swapped in with `set`.
 * Answers in list order; a host not in the list gets an empty answer.
 */
export class StaticResolver implements Resolver {
  readonly #table = new Map<string, { address: string; family: 4 | 6 }[]>();
  readonly #ttlMs: number;
  readonly #now: () => number;

  /** `table` maps host names to IP literals; entries that are not IP literals throw. */
  constructor(table: Readonly<Record<string, readonly string[]>> = {}, options: StaticResolverOptions = {}) {
    this.#ttlMs = (options.ttlSeconds ?? 60) * 1000;
    this.#now = options.now ?? Date.now;
    for (const [host, addresses] of Object.entries(table)) this.set(host, addresses);
  }

  /** Replaces the list of one host (an empty list removes it). Throws on a non-literal. */
  set(host: string, addresses: readonly string[]): void {
    const parsed = addresses.map((a) => {
      const literal = ipLiteral(a.trim());
      if (!literal) throw new TypeError(`static address for ${host} is not an IP address: ${JSON.stringify(a)}`);
      return literal;
    });
    if (parsed.length === 0) this.#table.delete(normalizeHost(host));
    else this.#table.set(normalizeHost(host), parsed);
  }

  /** The listed addresses of a host (for diagnostics). */
  get(host: string): string[] {
    return (this.#table.get(normalizeHost(host)) ?? []).map((a) => a.address);
  }

  resolve(host: string): Promise<ResolvedAddress[]> {
    const literal = literalAnswer(host);
    if (literal) return Promise.resolve(literal);
    const expiresAt = this.#now() + this.#ttlMs;
    const list = this.#table.get(normalizeHost(host)) ?? [];
    return Promise.resolve(list.map((a) => ({ ...a, source: 'static' as const, expiresAt })));
  }
}
