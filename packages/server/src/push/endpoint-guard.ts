import { type LookupAddress, type LookupOptions, lookup as dnsLookup } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { ErrorCode, ParleyError } from '@parley/protocol';

/**
 * Web Push subscription endpoints come from clients, and the server POSTs to them: without a
 * rule, any user could make the server reach its own network (SSRF: metadata services, admin
 * ports, databases). An endpoint must be `https://` on a host that is, and resolves to, a public
 * address. The rule is checked when a device registers and again when each notification is
 * sent, on the address actually connected to (a name may resolve differently later: DNS
 * rebinding). `push.webPushAllowPrivateEndpoints` turns it off for tests and private networks.
 */

/** Addresses no public push service has: loopback, private, link-local, unique-local, and the like. */
const PRIVATE = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata services
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  PRIVATE.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  ['::', 128], // unspecified
  ['::1', 128],
  ['fc00::', 7], // unique-local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const) {
  PRIVATE.addSubnet(net, bits, 'ipv6');
}

/** Whether an IP address (v4 or v6, brackets allowed) is one a public endpoint must not have. */
export function isPrivateAddress(address: string): boolean {
  const ip = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const family = isIP(ip);
  if (family === 4) return PRIVATE.check(ip, 'ipv4');
  if (family !== 6) return true;
  const embedded = embeddedIpv4(ip);
  if (embedded !== undefined) return PRIVATE.check(embedded, 'ipv4');
  return PRIVATE.check(ip, 'ipv6');
}

/** The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d), -compatible or NAT64 (64:ff9b::) IPv6 address. */
function embeddedIpv4(ip: string): string | undefined {
  const words = expandIpv6(ip);
  if (!words) return undefined;
  const zeros = (from: number, to: number) => words.slice(from, to).every((w) => w === 0);
  const mapped = zeros(0, 5) && words[5] === 0xffff;
  const compatible = zeros(0, 6) && (words[6] !== 0 || (words[7] ?? 0) > 1);
  const nat64 = words[0] === 0x64 && words[1] === 0xff9b && zeros(2, 6);
  if (!mapped && !compatible && !nat64) return undefined;
  const [hi = 0, lo = 0] = [words[6], words[7]];
  return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join('.');
}

/** Eight 16-bit words of an IPv6 address (with a dotted IPv4 tail allowed), or undefined. */
function expandIpv6(ip: string): number[] | undefined {
  let text = ip.split('%')[0] ?? '';
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((w) => parseInt(w, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const fill = 8 - left.length - right.length;
  if (fill < 0 || (tail === undefined && fill !== 0)) return undefined;
  return [...left, ...Array<number>(fill).fill(0), ...right];
}

/** The code on errors for endpoints refused by this rule, at send time. */
export const PRIVATE_ENDPOINT = 'PARLEY_ERR_PRIVATE_ENDPOINT';

/** A name's addresses, as `dns.lookup(name, {all: true})` gives them. */
export type Resolve = (hostname: string) => Promise<string[]>;

const systemResolve: Resolve = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true }, (err, addresses) => {
      if (err) reject(err);
      else resolve(addresses.map((a) => a.address));
    });
  });

/**
 * Checks a subscription endpoint at registration: INVALID_ARGUMENT when its host is, or
 * resolves to, a private address, or does not resolve at all; UNAVAILABLE when the resolver
 * could not answer now (the client may register again later).
 */
export async function assertPublicEndpoint(endpoint: string, resolve: Resolve = systemResolve): Promise<void> {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw invalid('web_push_subscription.endpoint must be a URL');
  }
  const host = url.hostname;
  if (isIP(host.replace(/^\[|\]$/g, '')) !== 0) {
    if (isPrivateAddress(host)) throw invalid(`web_push_subscription.endpoint ${host} is not a public address`);
    return;
  }
  const name = host.toLowerCase().replace(/\.$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) {
    throw invalid('web_push_subscription.endpoint must not be localhost');
  }
  let addresses: string[];
  try {
    addresses = await resolve(name);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTFOUND' || code === 'ENODATA') {
      throw invalid(`web_push_subscription.endpoint host ${name} does not resolve`);
    }
    throw new ParleyError(ErrorCode.UNAVAILABLE, `resolving web_push_subscription.endpoint host ${name} failed`, {
      cause: err,
    });
  }
  if (addresses.length === 0) throw invalid(`web_push_subscription.endpoint host ${name} does not resolve`);
  const bad = addresses.find(isPrivateAddress);
  if (bad !== undefined) {
    throw invalid(`web_push_subscription.endpoint host ${name} resolves to ${bad}, not a public address`);
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for http(s).request that refuses names resolving to private addresses: the check
 * applies to the very addresses the socket connects to. (IP literals skip `lookup`; see
 * `refuseLiteral`.)
 */
export function publicOnlyLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) {
      callback(err, '');
      return;
    }
    const bad = addresses.find((a) => isPrivateAddress(a.address));
    if (bad) {
      callback(privateEndpointError(`${hostname} resolves to ${bad.address}, not a public address`), '');
      return;
    }
    if (options.all === true) callback(null, addresses);
    else {
      const first = addresses[0];
      if (first) callback(null, first.address, first.family);
      else callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '');
    }
  });
}

/** Throws (PRIVATE_ENDPOINT) when the URL's host is a private IP literal. */
export function refuseLiteral(url: URL): void {
  const host = url.hostname;
  if (isIP(host.replace(/^\[|\]$/g, '')) !== 0 && isPrivateAddress(host)) {
    throw privateEndpointError(`${host} is not a public address`);
  }
}

export function isPrivateEndpointError(err: unknown): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === PRIVATE_ENDPOINT;
}

function privateEndpointError(message: string): Error {
  return Object.assign(new Error(`refused Web Push endpoint: ${message}`), { code: PRIVATE_ENDPOINT });
}

function invalid(message: string): ParleyError {
  return new ParleyError(ErrorCode.INVALID_ARGUMENT, message);
}
