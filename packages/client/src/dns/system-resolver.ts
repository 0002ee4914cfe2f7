// Node only: browsers resolve names themselves and give pages no DNS API.
import { lookup as dnsLookup } from 'node:dns/promises';
import { DnsError, DnsErrorCode, abortReason, describeError } from './dns-errors.js';
import { canonicalIp } from './ip.js';
import {
  eitherSignal,
  literalAnswer,
  normalizeHost,
  timeoutSignal,
  uniqueAddresses,
  untilAborted,
} from './resolve-util.js';
import type { ResolvedAddress, Resolver } from './types.js';

/** The shape of `dns.promises.lookup(host, { all: true })`, injectable for tests. */
export type LookupAll = (host: string, options: { all: true }) => Promise<{ address: string; family: number }[]>;

export interface SystemResolverOptions {
  /**
   * getaddrinfo reports no TTL; answers count as fresh this long. Default 60 s (short:
   * this is the resolver carriers poison, and the OS caches anyway).
   */
  ttlSeconds?: number;
  /** getaddrinfo cannot be cancelled; after this long the lookup is abandoned. Default 5 s. */
  timeoutMs?: number;
  /** Default `dns.promises.lookup`. */
  lookup?: LookupAll;
  /** Clock in ms since the epoch. Default `Date.now`. */
  now?: () => number;
}

const NOT_FOUND_CODES = new Set(['ENOTFOUND', 'ENODATA', 'EAI_NONAME', 'EAI_NODATA']);

/**
 * The operating system's resolver (`dns.lookup`, i.e. getaddrinfo with the hosts file and
 * the network's DNS servers), in the order the system returns. A name the system does not
 * know resolves to an empty answer; other failures reject with LOOKUP_FAILED.
 */
export class SystemResolver implements Resolver {
  readonly #ttlMs: number;
  readonly #timeoutMs: number;
  readonly #lookup: LookupAll;
  readonly #now: () => number;

  constructor(options: SystemResolverOptions = {}) {
    this.#ttlMs = (options.ttlSeconds ?? 60) * 1000;
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#lookup = options.lookup ?? ((host, opts) => dnsLookup(host, opts));
    this.#now = options.now ?? Date.now;
  }

  async resolve(host: string, signal?: AbortSignal): Promise<ResolvedAddress[]> {
    const literal = literalAnswer(host);
    if (literal) return literal;
    const name = normalizeHost(host);
    const timeout = timeoutSignal(this.#timeoutMs);
    const combined = eitherSignal(signal, timeout);
    let found: { address: string; family: number }[];
    try {
      found = await untilAborted(this.#lookup(name, { all: true }), combined);
    } catch (err) {
      if (signal?.aborted) throw abortReason(signal);
      if (timeout.aborted) {
        throw new DnsError(
          DnsErrorCode.TIMEOUT,
          name,
          `system DNS: no answer for ${name} within ${this.#timeoutMs} ms`,
        );
      }
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && NOT_FOUND_CODES.has(code)) return [];
      throw new DnsError(
        DnsErrorCode.LOOKUP_FAILED,
        name,
        `system DNS lookup of ${name} failed: ${describeError(err)}`,
        {
          cause: err,
        },
      );
    }
    const expiresAt = this.#now() + this.#ttlMs;
    return uniqueAddresses(
      found
        .filter((a) => a.family === 4 || a.family === 6)
        .map((a) => ({ address: canonicalIp(a.address), family: a.family as 4 | 6, source: 'system', expiresAt })),
    );
  }
}
