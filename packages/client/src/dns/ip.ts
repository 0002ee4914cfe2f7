// IP literal parsing and classification without node:net, so the core stays isomorphic.

/**
 * What kind of address an IP literal is, for deciding whether a DNS answer is plausible
 * for a public server:
 * - `public`: globally routable unicast.
 * - `loopback`: 127.0.0.0/8, ::1.
 * - `private`: RFC 1918, carrier-grade NAT (100.64.0.0/10), link-local, unique-local (fc00::/7).
 * - `reserved`: unspecified (0.0.0.0/8, ::), documentation and benchmark ranges, multicast,
 *   broadcast and other space that never holds a public server. Hijacked answers love these.
 */
export type AddressScope = 'public' | 'loopback' | 'private' | 'reserved';

/** The family of an IP literal (dotted-quad IPv4 or RFC 4291 IPv6, no zone), or undefined. */
export function ipFamily(text: string): 4 | 6 | undefined {
  if (parseIpv4(text)) return 4;
  if (parseIpv6(text)) return 6;
  return undefined;
}

/**
 * The host as an IP literal when it is one: "[::1]" loses its brackets. Undefined for a
 * name. Used to let literals bypass resolution.
 */
export function ipLiteral(host: string): { address: string; family: 4 | 6 } | undefined {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const family = ipFamily(bare);
  return family === undefined ? undefined : { address: canonicalIp(bare), family };
}

/**
 * One spelling per address, so answers from different resolvers compare equal: IPv6 in the
 * RFC 5952 form (lower case, longest zero run as "::", IPv4-mapped as "::ffff:1.2.3.4");
 * IPv4 and non-literals as given.
 */
export function canonicalIp(address: string): string {
  const g = parseIpv6(address);
  if (!g) return address;
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g;
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0xffff) {
    return `::ffff:${g6 >> 8}.${g6 & 0xff}.${g7 >> 8}.${g7 & 0xff}`;
  }
  // The longest run of two or more zero groups (the first one on a tie) becomes "::".
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = g.map((n) => n.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** The scope of an IP literal, or undefined when `address` is not one. */
export function addressScope(address: string): AddressScope | undefined {
  const v4 = parseIpv4(address);
  if (v4) return ipv4Scope(v4);
  const v6 = parseIpv6(address);
  if (v6) return ipv6Scope(v6);
  return undefined;
}

/** Four bytes, or undefined. Leading zeros are refused: "010" means 8 to some parsers and 10 to others. */
function parseIpv4(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const bytes: number[] = [];
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    bytes.push(n);
  }
  return bytes;
}

/** Eight 16-bit groups, or undefined. Zone ids ("%eth0") are refused: they mean nothing off the host. */
function parseIpv6(text: string): number[] | undefined {
  if (!text.includes(':') || text.includes('%')) return undefined;
  let body = text;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    const v4 = parseIpv4(last);
    if (!v4) return undefined;
    tail.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
    body = text.slice(0, lastColon + 1);
    if (!body.endsWith('::')) body = body.slice(0, -1);
  }
  const halves = body.split('::');
  if (halves.length > 2) return undefined;
  const room = 8 - tail.length;
  const head = groups(halves[0] ?? '');
  if (!head) return undefined;
  if (halves.length === 1) return head.length === room ? [...head, ...tail] : undefined;
  const rest = groups(halves[1] ?? '');
  if (!rest || head.length + rest.length > room - 1) return undefined;
  const zeros = new Array<number>(room - head.length - rest.length).fill(0);
  return [...head, ...zeros, ...rest, ...tail];
}

function groups(text: string): number[] | undefined {
  if (text === '') return [];
  const out: number[] = [];
  for (const g of text.split(':')) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    out.push(parseInt(g, 16));
  }
  return out;
}

function ipv4Scope(b: number[]): AddressScope {
  const [a = 0, c = 0, d = 0] = b;
  if (a === 127) return 'loopback';
  if (a === 10 || (a === 172 && c >= 16 && c <= 31) || (a === 192 && c === 168)) return 'private';
  if (a === 100 && c >= 64 && c <= 127) return 'private';
  if (a === 169 && c === 254) return 'private';
  if (a === 0 || a >= 224) return 'reserved';
  if (a === 192 && c === 0 && (d === 0 || d === 2)) return 'reserved';
  if (a === 198 && (c === 18 || c === 19)) return 'reserved';
  if ((a === 198 && c === 51 && d === 100) || (a === 203 && c === 0 && d === 113)) return 'reserved';
  return 'public';
}

function ipv6Scope(g: number[]): AddressScope {
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g;
  const embedded = [g6 >> 8, g6 & 0xff, g7 >> 8, g7 & 0xff];
  const upperZero = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0;
  if (upperZero && g5 === 0 && g6 === 0 && g7 === 1) return 'loopback';
  // IPv4-mapped (::ffff:0:0/96) and the NAT64 well-known prefix (64:ff9b::/96) carry an IPv4 address.
  if (upperZero && g5 === 0xffff) return ipv4Scope(embedded);
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return ipv4Scope(embedded);
  if ((g0 & 0xfe00) === 0xfc00 || (g0 & 0xffc0) === 0xfe80) return 'private';
  if (g0 === 0x2001 && g1 === 0x0db8) return 'reserved';
  // Everything outside 2000::/3 (global unicast) is unspecified, multicast or unallocated.
  if ((g0 & 0xe000) !== 0x2000) return 'reserved';
  return 'public';
}
