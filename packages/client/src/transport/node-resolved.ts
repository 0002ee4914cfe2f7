// Node only: dial a host name through our own resolvers (HTTPDNS, an IP list) and happy
// eyeballs, instead of the system's DNS.
import { connectRaced } from '../dns/happy-eyeballs.js';
import { ipFamily } from '../dns/ip.js';
import type { AddressReporter, ResolvedAddress, Resolver } from '../dns/types.js';
import type { Link } from './types.js';

/** How a stream transport finds and races addresses when it is given a resolver. */
export interface ResolvedDialOptions {
  /**
   * Resolves `host` (e.g. a `CachingResolver` over a `ChainResolver` of HTTPDNS and the
   * static IP list). Without it the system resolves the name inside `net.connect`.
   */
  resolver?: Resolver;
  /**
   * Told each address's outcome. Default: the resolver itself when it keeps scores (a
   * `ChainResolver`); pass the chain here when it sits behind a `CachingResolver`.
   */
  reporter?: AddressReporter;
  /** Delay before racing the next address (RFC 8305). Default 250 ms. */
  attemptDelayMs?: number;
  /** Time for the whole race. Default 10 s. */
  raceTimeoutMs?: number;
}

/**
 * Connects to `host`: at once when there is no resolver or `host` is an IP literal, else by
 * racing the resolved addresses with `dial(ip, signal)`. Each address's outcome goes to the
 * reporter, so a dead IP sinks in later answers.
 */
export async function dialResolved(
  host: string,
  options: ResolvedDialOptions,
  dial: (address: string, signal: AbortSignal) => Promise<Link>,
  signal: AbortSignal,
): Promise<Link> {
  const { resolver } = options;
  if (resolver === undefined || ipFamily(host) !== undefined) return dial(host, signal);
  const addresses: ResolvedAddress[] = await resolver.resolve(host, signal);
  const reporter = options.reporter ?? (isReporter(resolver) ? resolver : undefined);
  const winner = await connectRaced(addresses, {
    dial: (address, attemptSignal) => dial(address.address, attemptSignal),
    close: (link) => {
      link.close();
    },
    signal,
    ...(reporter !== undefined ? { reporter } : {}),
    ...(options.attemptDelayMs !== undefined ? { attemptDelayMs: options.attemptDelayMs } : {}),
    ...(options.raceTimeoutMs !== undefined ? { timeoutMs: options.raceTimeoutMs } : {}),
  });
  return winner.connection;
}

function isReporter(resolver: Resolver): resolver is Resolver & AddressReporter {
  return typeof (resolver as Partial<AddressReporter>).report === 'function';
}
