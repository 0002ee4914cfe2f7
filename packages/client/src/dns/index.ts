// @parley/client/dns: name resolution for the TCP and TLS transports (HTTPDNS, static IP lists,
// caching by TTL, happy eyeballs). Isomorphic, but only Node transports can dial by IP, so the
// browser core ('@parley/client') leaves it out; '@parley/client/node' re-exports it.
export type { AddressReporter, AddressSource, ResolvedAddress, Resolver } from './types.js';
export { AddressScores, type AddressScoresOptions } from './address-scores.js';
export { CachingResolver, type CachingResolverOptions } from './caching-resolver.js';
export { ChainResolver, type ChainResolverOptions } from './chain-resolver.js';
export { HttpDnsResolver, type HttpDnsResolverOptions } from './httpdns-resolver.js';
export { StaticResolver, type StaticResolverOptions } from './static-resolver.js';
export { type ConnectRacedOptions, type RaceWinner, connectRaced, interleaveFamilies } from './happy-eyeballs.js';
export { type AttemptFailure, ConnectRaceError, DnsError, DnsErrorCode } from './dns-errors.js';
export { type AddressScope, addressScope, canonicalIp, ipFamily } from './ip.js';
export {
  type FetchServerEndpointsOptions,
  type ServerEndpoints,
  endpointAddresses,
  fetchServerEndpoints,
  parseServerEndpoints,
} from './server-endpoints.js';
