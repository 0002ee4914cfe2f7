import { DnsError, DnsErrorCode, abortReason, describeError } from './dns-errors.js';
import { ipLiteral } from './ip.js';
import { eitherSignal, timeoutSignal } from './resolve-util.js';

/**
 * The server's own address list, as served by `GET /v1/endpoints`: where its gateways
 * listen, for clients to connect to or to keep as their IP fallback list.
 */
export interface ServerEndpoints {
  /** "host:port" ("[v6]:port" for IPv6). */
  tcp: string[];
  tls: string[];
  /** WebSocket URLs. */
  ws: string[];
  /** How long the list may be kept before asking again. */
  ttlSeconds: number;
}

/** Checks the shape of a `/v1/endpoints` body; throws a BAD_RESPONSE `DnsError` on anything else. */
export function parseServerEndpoints(body: unknown, source = 'server endpoints'): ServerEndpoints {
  const bad = (what: string) => new DnsError(DnsErrorCode.BAD_RESPONSE, source, `${source}: ${what}`);
  if (typeof body !== 'object' || body === null) throw bad('not a JSON object');
  const o = body as Record<string, unknown>;
  const list = (key: string): string[] => {
    const v = o[key] ?? [];
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw bad(`${key} is not a list of strings`);
    return v;
  };
  const ttl = o.ttlSeconds;
  if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl < 0) throw bad('ttlSeconds is not a number');
  return { tcp: list('tcp'), tls: list('tls'), ws: list('ws'), ttlSeconds: ttl };
}

export interface FetchServerEndpointsOptions {
  signal?: AbortSignal;
  /** Default 5 s. */
  timeoutMs?: number;
  /** Default: the global `fetch`. */
  fetch?: typeof fetch;
}

/** GETs and checks the server's address list (`https://chat.example.com/v1/endpoints`). */
export async function fetchServerEndpoints(
  url: string,
  options: FetchServerEndpointsOptions = {},
): Promise<ServerEndpoints> {
  const { signal } = options;
  const timeout = timeoutSignal(options.timeoutMs ?? 5000);
  const combined = eitherSignal(signal, timeout);
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  let body: unknown;
  try {
    const response = await doFetch(url, { headers: { accept: 'application/json' }, signal: combined });
    if (!response.ok) {
      await response.body?.cancel();
      throw new DnsError(DnsErrorCode.LOOKUP_FAILED, url, `${url}: HTTP ${response.status}`);
    }
    body = await response.json();
  } catch (err) {
    if (signal?.aborted) throw abortReason(signal);
    if (err instanceof DnsError) throw err;
    const code = timeout.aborted ? DnsErrorCode.TIMEOUT : DnsErrorCode.LOOKUP_FAILED;
    throw new DnsError(code, url, `${url}: ${describeError(err)}`, { cause: err });
  }
  return parseServerEndpoints(body, url);
}

/** Splits "host:port" or "[v6]:port"; undefined when there is no valid port. */
export function splitHostPort(hostPort: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(hostPort);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (host === undefined || !(port > 0 && port < 65536)) return undefined;
  return { host, port };
}

/**
 * The IP literals the list names (across tcp, tls and ws), in order, each once: what to
 * `StaticResolver.set(hostname, ...)` as the IP fallback list. Entries that name hosts are skipped.
 */
export function endpointAddresses(endpoints: ServerEndpoints): string[] {
  const hosts = [...endpoints.tcp, ...endpoints.tls].map((e) => splitHostPort(e)?.host);
  for (const ws of endpoints.ws) {
    try {
      hosts.push(new URL(ws).hostname);
    } catch {
      // A malformed URL names no address.
    }
  }
  const out: string[] = [];
  for (const host of hosts) {
    const literal = host === undefined ? undefined : ipLiteral(host);
    if (literal && !out.includes(literal.address)) out.push(literal.address);
  }
  return out;
}
