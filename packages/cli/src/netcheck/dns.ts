// DNS checks: the system resolver against HTTPDNS.
import { HttpDnsResolver, type ResolvedAddress, addressScope, canonicalIp, ipFamily } from '@parley/client/dns';
import { SystemResolver } from '@parley/client/node';
import {
  type AddressOrigin,
  type AnswerAddress,
  type DnsComparison,
  type DnsLookup,
  type DnsReport,
  type TcpAttempt,
  describe,
  roundMs,
} from './report.js';

/** An address to try, and which lookups gave it. */
export interface Candidate {
  address: string;
  family: 4 | 6;
  from: AddressOrigin[];
}

function answer(a: { address: string; family: 4 | 6 }): AnswerAddress {
  return { address: a.address, family: a.family, scope: addressScope(a.address) ?? 'reserved' };
}

async function lookup(run: () => Promise<ResolvedAddress[]>): Promise<DnsLookup> {
  const started = performance.now();
  try {
    const found = await run();
    const ms = roundMs(performance.now() - started);
    const addresses = found.map(answer);
    if (addresses.length === 0)
      return { status: 'fail', ms, addresses, error: 'no address (NXDOMAIN or empty answer)' };
    const reserved = addresses.filter((a) => a.scope === 'reserved').map((a) => a.address);
    if (reserved.length > 0) {
      return {
        status: 'warn',
        ms,
        addresses,
        note: `${reserved.join(', ')} is no address a server has: a hijacked or blocked answer`,
      };
    }
    return { status: 'ok', ms, addresses };
  } catch (err) {
    return { status: 'fail', ms: roundMs(performance.now() - started), addresses: [], error: describe(err) };
  }
}

/**
 * Looks the host up with the system resolver and, when a DoH JSON URL is given, with
 * HTTPDNS, and compares the answers. HTTPDNS answers are taken as they come (no filtering
 * of private addresses) so the comparison sees what each resolver said.
 */
export async function checkDns(host: string, httpDnsUrl: string | undefined, timeoutMs: number): Promise<DnsReport> {
  const family = ipFamily(host);
  if (family !== undefined) {
    const note = 'the server was given as an IP address: nothing to resolve';
    return {
      system: { status: 'skip', addresses: [answer({ address: canonicalIp(host), family })], note },
      httpdns: { status: 'skip', addresses: [], note },
      comparison: { status: 'skip', verdict: 'literal', onlySystem: [], onlyHttpdns: [] },
    };
  }
  const system = new SystemResolver({ timeoutMs });
  let httpdns: HttpDnsResolver | undefined;
  let badUrl: string | undefined;
  if (httpDnsUrl !== undefined) {
    try {
      httpdns = new HttpDnsResolver({ url: httpDnsUrl, timeoutMs, rejectPrivate: false });
    } catch (err) {
      badUrl = describe(err);
    }
  }
  const [sys, doh] = await Promise.all([
    lookup(() => system.resolve(host)),
    httpdns
      ? lookup(() => httpdns.resolve(host))
      : Promise.resolve<DnsLookup>(
          badUrl === undefined
            ? { status: 'skip', addresses: [], note: 'pass --httpdns <DoH JSON URL> to compare with HTTPDNS' }
            : { status: 'fail', addresses: [], error: `--httpdns: ${badUrl}` },
        ),
  ]);
  return {
    system: sys,
    httpdns: httpDnsUrl === undefined ? doh : { ...doh, url: httpDnsUrl },
    comparison: compare(sys, doh),
  };
}

function compare(system: DnsLookup, httpdns: DnsLookup): DnsComparison {
  const a = new Set(system.addresses.map((x) => x.address));
  const b = new Set(httpdns.addresses.map((x) => x.address));
  const onlySystem = [...a].filter((x) => !b.has(x));
  const onlyHttpdns = [...b].filter((x) => !a.has(x));
  if (a.size === 0 || b.size === 0) {
    return { status: 'skip', verdict: 'n/a', onlySystem, onlyHttpdns };
  }
  if (onlySystem.length === 0 && onlyHttpdns.length === 0) {
    return { status: 'ok', verdict: 'match', onlySystem, onlyHttpdns, note: 'system DNS and HTTPDNS agree' };
  }
  if (onlySystem.length < a.size) {
    return {
      status: 'ok',
      verdict: 'overlap',
      onlySystem,
      onlyHttpdns,
      note: 'the answers share addresses (normal for a server behind several addresses or a CDN)',
    };
  }
  return {
    status: 'warn',
    verdict: 'mismatch',
    onlySystem,
    onlyHttpdns,
    error: 'possible DNS pollution: system DNS and HTTPDNS share no address',
    note: 'a CDN or geo-DNS can also answer differently; the TCP results per address tell which answer works',
  };
}

/** The addresses to connect to: the system's answer first, then HTTPDNS-only ones. */
export function candidates(dns: DnsReport): Candidate[] {
  const out: Candidate[] = [];
  const add = (a: AnswerAddress, origin: AddressOrigin) => {
    const known = out.find((c) => c.address === a.address);
    if (known) known.from.push(origin);
    else out.push({ address: a.address, family: a.family, from: [origin] });
  };
  const literal = dns.comparison.verdict === 'literal';
  for (const a of dns.system.addresses) add(a, literal ? 'literal' : 'system');
  for (const a of dns.httpdns.addresses) add(a, 'httpdns');
  return out;
}

/**
 * After the TCP checks: when the answers differ and only one resolver's addresses connect,
 * says which one looks polluted.
 */
export function judgeMismatch(comparison: DnsComparison, attempts: TcpAttempt[]): void {
  if (comparison.verdict !== 'mismatch') return;
  const works = (list: string[]) =>
    list.some((address) => attempts.find((t) => t.address === address)?.status === 'ok');
  const systemWorks = works(comparison.onlySystem);
  const httpdnsWorks = works(comparison.onlyHttpdns);
  if (httpdnsWorks && !systemWorks) {
    comparison.note = 'the HTTPDNS addresses connect and the system DNS ones do not: system DNS is likely polluted';
  } else if (systemWorks && !httpdnsWorks) {
    comparison.note = 'the system DNS addresses connect and the HTTPDNS ones do not: check the HTTPDNS service';
  } else if (systemWorks && httpdnsWorks) {
    comparison.note = 'both answers connect: probably a CDN or geo-DNS rather than pollution';
  }
}
