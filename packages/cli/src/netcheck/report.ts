// The shape of a `parley netcheck` report: what `--json` prints and the text report renders.

/**
 * Outcome of one check. `warn`: it worked, with something worth a look (an address that
 * does not connect while another does, a DNS mismatch, a certificate close to expiry).
 * `skip`: not run (turned off, or nothing to run it with).
 */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

/** Fields every check has. Times are milliseconds, to a tenth. */
export interface Check {
  status: CheckStatus;
  /** How long the check took (its main phase: the lookup, the connect, the handshake). */
  ms?: number;
  /** Why it failed (or warned): an error code and message. */
  error?: string;
  /** A hint for a human: what the result suggests. */
  note?: string;
}

/** One address a resolver gave. `scope` is where it points (a public server should be `public`). */
export interface AnswerAddress {
  address: string;
  family: 4 | 6;
  scope: 'public' | 'loopback' | 'private' | 'reserved';
}

export interface DnsLookup extends Check {
  addresses: AnswerAddress[];
}

/** System DNS against HTTPDNS. */
export interface DnsComparison extends Check {
  /** `literal`: the server was given as an IP address; `n/a`: one of the lookups gave nothing to compare. */
  verdict: 'match' | 'overlap' | 'mismatch' | 'literal' | 'n/a';
  onlySystem: string[];
  onlyHttpdns: string[];
}

export interface DnsReport {
  system: DnsLookup;
  httpdns: DnsLookup & { url?: string };
  comparison: DnsComparison;
}

/** Which lookups an address came from. */
export type AddressOrigin = 'system' | 'httpdns' | 'literal';

export interface TcpAttempt extends Check {
  address: string;
  family: 4 | 6;
  from: AddressOrigin[];
}

/** Login and ping round trips over one transport's connection. */
export interface SessionCheck extends Check {
  login: Check & {
    userId?: string;
    heartbeatIntervalMs?: number;
    /** Server clock minus local clock, estimated at the login round trip's midpoint. */
    clockSkewMs?: number;
  };
  ping: Check & { sent: number; lost: number; minMs?: number; avgMs?: number; maxMs?: number };
}

export interface TcpReport extends Check {
  port?: number;
  addresses: TcpAttempt[];
  /** The address the session, TLS, WebSocket and HTTP checks use: the first that connected. */
  chosen?: string;
  session: SessionCheck;
}

export interface CertificateInfo {
  subject: string;
  issuer: string;
  altNames: string;
  validFrom: string;
  validTo: string;
  daysLeft: number;
  fingerprint256: string;
}

export interface TlsReport extends Check {
  port?: number;
  address?: string;
  /** TCP connect time before the handshake. `ms` is the handshake alone. */
  connectMs?: number;
  protocol?: string;
  cipher?: string;
  certificate?: CertificateInfo;
  /** The chain leads to a trusted root (Node's roots, plus --ca or the data dir's development certificate). */
  chainVerified?: boolean;
  chainError?: string;
  /** The certificate is valid for the server's name. */
  hostnameVerified?: boolean;
  hostnameError?: string;
  session: SessionCheck;
}

export interface WsReport extends Check {
  url?: string;
  address?: string;
  session: SessionCheck;
}

export interface EndpointsReport extends Check {
  url?: string;
  endpoints?: { tcp: string[]; tls: string[]; ws: string[]; ttlSeconds: number };
}

/**
 * One NAT probe: a fresh connection, login, PROBE(delay), then silence until the answer.
 * `answered`: the answer came through; `dropped`: nothing within delay + timeout (the path
 * forgot the connection); `closed`: the connection ended first (a reset from a middlebox,
 * or the server); `disturbed`: answered, but the server pushed something meanwhile, which
 * broke the silence (use a user nobody messages); `error`: the probe could not run.
 */
export interface NatProbe {
  delayMs: number;
  outcome: 'answered' | 'dropped' | 'closed' | 'disturbed' | 'error';
  /** From sending PROBE to its answer. */
  elapsedMs?: number;
  error?: string;
}

export interface NatReport extends Check {
  transport?: 'tcp' | 'tls' | 'ws';
  address?: string;
  /** How long past each delay an answer is waited for. */
  timeoutMs?: number;
  probes: NatProbe[];
  /** The largest delay answered: the path keeps an idle connection at least this long. */
  estimateMs?: number;
  /** The smallest larger delay that was dropped: the idle timeout is below it. */
  upperBoundMs?: number;
}

export interface AuthReport extends Check {
  /** Where the token came from. */
  source: 'flag' | 'data-dir' | 'dev-endpoint' | 'none';
  userId?: string;
}

export interface NetcheckReport {
  tool: 'parley netcheck';
  version: 1;
  startedAt: string;
  durationMs: number;
  target: {
    host: string;
    tcpPort?: number;
    tlsPort?: number;
    httpPort?: number;
    httpTls: boolean;
    wsPath: string;
  };
  /** True when every essential check (below) passed or warned. */
  ok: boolean;
  /** Essential checks that failed, by path ("tcp", "tls.session"). */
  failed: string[];
  dns: DnsReport;
  auth: AuthReport;
  tcp: TcpReport;
  tls: TlsReport;
  ws: WsReport;
  endpoints: EndpointsReport;
  nat: NatReport;
}

/** Rounds a duration in ms to a tenth. */
export function roundMs(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/**
 * A short description of an error for a report: its most specific code (a DNS code,
 * a wire code name, a Node code) and message, plus the code of its root cause when
 * the message hides it ("fetch failed" says nothing; ECONNREFUSED does).
 */
export function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const e = error as Error & { dnsCode?: unknown; codeName?: unknown; code?: unknown };
  const code = [e.dnsCode, e.codeName, e.code].find((c): c is string => typeof c === 'string');
  const message = error.message || error.name;
  let text = code !== undefined && !message.includes(code) ? `${code} ${message}` : message;
  const root = rootCode(error.cause);
  // Only the deepest cause is added: the ones between repeat what the message says.
  if (root !== undefined && !text.includes(root)) text += ` (${root})`;
  return text;
}

/** The deepest error in a cause chain (an AggregateError's first error): its code, else its message. */
function rootCode(cause: unknown, depth = 0): string | undefined {
  if (!(cause instanceof Error) || depth > 8) return undefined;
  const next = cause instanceof AggregateError ? (cause.errors[0] as unknown) : cause.cause;
  const deeper = rootCode(next, depth + 1);
  if (deeper !== undefined) return deeper;
  const code = (cause as { code?: unknown }).code;
  return typeof code === 'string' ? code : next === undefined && cause.message !== '' ? cause.message : undefined;
}

/** A skipped session check. */
export function skippedSession(note: string): SessionCheck {
  return {
    status: 'skip',
    note,
    login: { status: 'skip' },
    ping: { status: 'skip', sent: 0, lost: 0 },
  };
}
