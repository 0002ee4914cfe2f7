/** Where an address came from. `literal`: the host was already an IP address and was not looked up. */
export type AddressSource = 'system' | 'httpdns' | 'static' | 'literal';

/** One address a host resolved to. */
export interface ResolvedAddress {
  /** An IPv4 or IPv6 literal, without brackets or zone. */
  address: string;
  family: 4 | 6;
  source: AddressSource;
  /** When the answer stops being fresh, in ms since the epoch (the resolver's clock). */
  expiresAt: number;
  /**
   * Set by `CachingResolver` on an answer served past its expiry because the upstream failed.
   * A stale address is still worth a try: a server rarely moves, a resolver often fails.
   */
  stale?: true;
}

/**
 * Turns a host name into addresses. Every resolver answers an IP literal with itself
 * (source `literal`) without a lookup. It resolves with the addresses it found, best first
 * (an empty list means "no answer", which `ChainResolver` treats like a failure), and rejects
 * with a `DnsError` when the lookup failed, or with the signal's reason when `signal` aborted.
 */
export interface Resolver {
  resolve(host: string, signal?: AbortSignal): Promise<ResolvedAddress[]>;
}

/** Receives the outcome of each connection attempt to an address (see `AddressScores`). */
export interface AddressReporter {
  report(address: string, ok: boolean): void;
}
