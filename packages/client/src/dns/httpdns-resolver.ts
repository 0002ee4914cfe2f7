import { DnsError, DnsErrorCode, abortReason, describeError } from './dns-errors.js';
import { addressScope, canonicalIp, ipFamily } from './ip.js';
import { eitherSignal, literalAnswer, normalizeHost, timeoutSignal, uniqueAddresses } from './resolve-util.js';
import type { ResolvedAddress, Resolver } from './types.js';

export interface HttpDnsResolverOptions {
  /**
   * The DNS-over-HTTPS JSON endpoint (Google and Cloudflare's `application/dns-json` format).
   * `{name}` and `{type}` are replaced by the URL-encoded host name and the record type
   * (`A`, `AAAA`): `https://dns.example/resolve?name={name}&type={type}`. Without `{name}`
   * the two are added as `name` and `type` query parameters, so
   * `https://cloudflare-dns.com/dns-query` works as is.
   */
  url: string;
  /** Families to query (A for 4, AAAA for 6), in order of preference. Default `[4, 6]`. */
  families?: readonly (4 | 6)[];
  /** Time for the whole lookup, both queries in parallel. Default 3 s. */
  timeoutMs?: number;
  /** Answer TTLs are clamped to [minTtlSeconds, maxTtlSeconds]. Defaults 60 and 3600. */
  minTtlSeconds?: number;
  maxTtlSeconds?: number;
  /**
   * Drop answers that are not public unicast addresses (private, loopback, link-local,
   * CGNAT, unspecified, documentation, multicast): a hijacked or poisoned answer often
   * points at one. When every answer is dropped the lookup fails with SUSPICIOUS_ANSWER
   * and a `ChainResolver` moves on. Default true.
   */
  rejectPrivate?: boolean;
  /** Keep loopback answers even with `rejectPrivate` (tests, local development). Default false. */
  allowLoopback?: boolean;
  /** Called with the addresses dropped from an answer (by `rejectPrivate` or as malformed). */
  onReject?: (host: string, addresses: string[]) => void;
  /** Extra request headers (an API key). `accept: application/dns-json` is always sent. */
  headers?: Readonly<Record<string, string>>;
  /** Default: the global `fetch`. */
  fetch?: typeof fetch;
  /** Clock in ms since the epoch, for `expiresAt`. Default `Date.now`. */
  now?: () => number;
}

/** One query's usable addresses and the ones it dropped. */
interface QueryResult {
  accepted: ResolvedAddress[];
  rejected: string[];
}

/** DNS status codes (RCODEs) worth naming in messages. */
const RCODES: Record<number, string> = { 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED' };
const RECORD_TYPE = { 4: { name: 'A', code: 1 }, 6: { name: 'AAAA', code: 28 } } as const;

/**
 * HTTPDNS: resolves over a DNS-over-HTTPS JSON endpoint with `fetch`, bypassing the local
 * (carrier) resolver that pollution and hijacking happen in. Isomorphic. Queries A and AAAA
 * in parallel; one family failing is fine as long as the other answers.
 */
export class HttpDnsResolver implements Resolver {
  readonly #url: string;
  readonly #families: readonly (4 | 6)[];
  readonly #timeoutMs: number;
  readonly #minTtl: number;
  readonly #maxTtl: number;
  readonly #rejectPrivate: boolean;
  readonly #allowLoopback: boolean;
  readonly #onReject: ((host: string, addresses: string[]) => void) | undefined;
  readonly #headers: Record<string, string>;
  readonly #fetch: typeof fetch;
  readonly #now: () => number;

  constructor(options: HttpDnsResolverOptions) {
    new URL(options.url.replace('{name}', 'x').replace('{type}', 'A')); // throws on a bad template now, not per lookup
    this.#url = options.url;
    this.#families = options.families ?? [4, 6];
    this.#timeoutMs = options.timeoutMs ?? 3000;
    this.#minTtl = options.minTtlSeconds ?? 60;
    this.#maxTtl = Math.max(this.#minTtl, options.maxTtlSeconds ?? 3600);
    this.#rejectPrivate = options.rejectPrivate ?? true;
    this.#allowLoopback = options.allowLoopback ?? false;
    this.#onReject = options.onReject;
    this.#headers = { ...options.headers, accept: 'application/dns-json' };
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#now = options.now ?? Date.now;
  }

  async resolve(host: string, signal?: AbortSignal): Promise<ResolvedAddress[]> {
    const literal = literalAnswer(host);
    if (literal) return literal;
    const name = normalizeHost(host);
    if (signal?.aborted) throw abortReason(signal);
    const timeout = timeoutSignal(this.#timeoutMs);
    const combined = eitherSignal(signal, timeout);
    const settled = await Promise.allSettled(this.#families.map((f) => this.#query(name, f, combined, timeout)));
    if (signal?.aborted) throw abortReason(signal);

    const accepted: ResolvedAddress[] = [];
    const rejected: string[] = [];
    const errors: unknown[] = [];
    for (const s of settled) {
      if (s.status === 'rejected') errors.push(s.reason);
      else {
        accepted.push(...s.value.accepted);
        rejected.push(...s.value.rejected);
      }
    }
    if (rejected.length > 0) this.#onReject?.(name, rejected);
    if (accepted.length > 0) return uniqueAddresses(accepted);
    if (errors.length === 1) throw errors[0] as Error;
    if (errors.length > 1) {
      // Both families failed: keep the code when they failed the same way.
      const codes = new Set(errors.map((e) => (e instanceof DnsError ? e.dnsCode : DnsErrorCode.LOOKUP_FAILED)));
      const code = codes.size === 1 ? ([...codes][0] as DnsErrorCode) : DnsErrorCode.LOOKUP_FAILED;
      const message = `HTTPDNS lookup of ${name} failed: ${errors.map(describeError).join('; ')}`;
      throw new DnsError(code, name, message, { cause: new AggregateError(errors, message) });
    }
    if (rejected.length > 0) {
      throw new DnsError(
        DnsErrorCode.SUSPICIOUS_ANSWER,
        name,
        `HTTPDNS answered ${name} with only implausible addresses (${rejected.join(', ')}): possibly hijacked`,
      );
    }
    return [];
  }

  async #query(name: string, family: 4 | 6, signal: AbortSignal, timeout: AbortSignal): Promise<QueryResult> {
    const type = RECORD_TYPE[family];
    let body: unknown;
    try {
      const response = await this.#fetch(this.#queryUrl(name, type.name), { headers: this.#headers, signal });
      if (!response.ok) {
        await response.body?.cancel();
        throw new DnsError(DnsErrorCode.LOOKUP_FAILED, name, `HTTPDNS ${type.name} ${name}: HTTP ${response.status}`);
      }
      const text = await response.text();
      try {
        body = JSON.parse(text);
      } catch (err) {
        throw new DnsError(DnsErrorCode.BAD_RESPONSE, name, `HTTPDNS ${type.name} ${name}: response is not JSON`, {
          cause: err,
        });
      }
    } catch (err) {
      if (err instanceof DnsError) throw err;
      // `signal` combines the caller's signal and our timeout; its reason says which fired first.
      if (timeout.aborted && signal.reason === timeout.reason) {
        const message = `HTTPDNS ${type.name} ${name}: no answer within ${this.#timeoutMs} ms`;
        throw new DnsError(DnsErrorCode.TIMEOUT, name, message, { cause: err });
      }
      if (signal.aborted) throw abortReason(signal);
      throw new DnsError(DnsErrorCode.LOOKUP_FAILED, name, `HTTPDNS ${type.name} ${name}: ${describeError(err)}`, {
        cause: err,
      });
    }
    return this.#parse(name, family, body);
  }

  #queryUrl(name: string, type: string): string {
    if (this.#url.includes('{name}')) {
      return this.#url.replaceAll('{name}', encodeURIComponent(name)).replaceAll('{type}', type);
    }
    const url = new URL(this.#url);
    url.searchParams.set('name', name);
    url.searchParams.set('type', type);
    return url.toString();
  }

  /** Reads `{ Status, Answer: [{ name, type, TTL, data }] }`; CNAME and other records are skipped. */
  #parse(name: string, family: 4 | 6, body: unknown): QueryResult {
    const type = RECORD_TYPE[family];
    if (typeof body !== 'object' || body === null || typeof (body as { Status?: unknown }).Status !== 'number') {
      throw new DnsError(
        DnsErrorCode.BAD_RESPONSE,
        name,
        `HTTPDNS ${type.name} ${name}: no numeric Status in the response`,
      );
    }
    const { Status: status, Answer: answer } = body as { Status: number; Answer?: unknown };
    if (status === 3) return { accepted: [], rejected: [] }; // NXDOMAIN: an answer, just an empty one
    if (status !== 0) {
      const rcode = RCODES[status] ?? 'error';
      throw new DnsError(
        DnsErrorCode.LOOKUP_FAILED,
        name,
        `HTTPDNS ${type.name} ${name}: DNS status ${status} (${rcode})`,
      );
    }
    if (answer !== undefined && !Array.isArray(answer)) {
      throw new DnsError(DnsErrorCode.BAD_RESPONSE, name, `HTTPDNS ${type.name} ${name}: Answer is not an array`);
    }
    const now = this.#now();
    const result: QueryResult = { accepted: [], rejected: [] };
    for (const record of (answer ?? []) as unknown[]) {
      if (typeof record !== 'object' || record === null) continue;
      const { type: rrType, data, TTL: ttl } = record as { type?: unknown; data?: unknown; TTL?: unknown };
      if (rrType !== type.code) continue;
      if (typeof data !== 'string' || ipFamily(data) !== family) {
        result.rejected.push(String(data));
        continue;
      }
      const address = canonicalIp(data);
      if (!this.#plausible(address)) {
        result.rejected.push(address);
        continue;
      }
      const seconds = typeof ttl === 'number' && Number.isFinite(ttl) ? ttl : this.#minTtl;
      const clamped = Math.min(this.#maxTtl, Math.max(this.#minTtl, seconds));
      result.accepted.push({ address, family, source: 'httpdns', expiresAt: now + clamped * 1000 });
    }
    return result;
  }

  #plausible(address: string): boolean {
    if (!this.#rejectPrivate) return true;
    const scope = addressScope(address);
    return scope === 'public' || (scope === 'loopback' && this.#allowLoopback);
  }
}
