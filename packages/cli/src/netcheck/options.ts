import { readFileSync } from 'node:fs';

/** The flags of `parley netcheck`, as commander hands them over. */
export interface NetcheckFlags {
  server: string;
  tcpPort?: string;
  tlsPort?: string;
  httpPort?: string;
  wsPath?: string;
  https?: boolean;
  /** `--no-tcp` and friends: commander sets these false. */
  tcp?: boolean;
  tls?: boolean;
  ws?: boolean;
  httpdns?: string;
  user?: string;
  token?: string;
  data?: string;
  config?: string;
  natProbe?: string;
  natTimeout?: string;
  pings?: string;
  timeout?: string;
  json?: boolean;
  insecure?: boolean;
  ca?: string;
}

/** What a netcheck run needs, checked and with defaults filled in. */
export interface NetcheckOptions {
  /** A host name, or an IP literal without brackets. */
  host: string;
  /** undefined: that check is off. */
  tcpPort: number | undefined;
  tlsPort: number | undefined;
  httpPort: number;
  /** HTTPS and wss:// on the HTTP port (a server behind a TLS-terminating proxy). */
  httpTls: boolean;
  /** The WebSocket path; undefined: the WebSocket check is off. */
  wsPath: string | undefined;
  httpDnsUrl: string | undefined;
  token: string | undefined;
  userId: string | undefined;
  dataDir: string | undefined;
  configFile: string | undefined;
  natDelaysMs: number[];
  natTimeoutMs: number;
  pings: number;
  /** Time limit of each network step (a lookup, a connect, a request). */
  timeoutMs: number;
  insecure: boolean;
  /** Extra trusted CA certificate (PEM) from --ca. */
  ca: string | undefined;
}

export const DEFAULT_PORTS = { tcp: 7100, tls: 7101, http: 7180 } as const;

/** A bad flag value: reported as a usage error. */
export class NetcheckUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NetcheckUsageError';
  }
}

/** The server as given by --server: a host name, an IP address or a URL. */
interface ServerTarget {
  host: string;
  tcpPort?: number;
  tlsPort?: number;
  httpPort?: number;
  httpTls?: boolean;
  wsPath?: string;
}

/**
 * Reads `--server`: `chat.example.com`, `10.0.0.5`, `[2001:db8::5]`, or a URL whose scheme
 * says which port it names: `http://` and `ws://` the HTTP port (and the WebSocket path),
 * `https://` and `wss://` the same behind TLS, `tcp://` and `tls://` the gateways. A URL
 * without a port means the scheme's default (80 or 443 for HTTP), as anywhere else.
 */
export function parseServer(server: string): ServerTarget {
  const text = server.trim();
  if (text === '') throw new NetcheckUsageError('--server is empty');
  if (!text.includes('://')) {
    const bare = /^\[([0-9a-fA-F:.]+)\]$/.exec(text)?.[1] ?? text;
    if (bare.includes('/') || (bare.includes(':') && !bare.includes('::') && bare.split(':').length === 2)) {
      throw new NetcheckUsageError(
        `--server ${text}: give a host name or address, or a URL such as http://${text} or tcp://${text}`,
      );
    }
    return { host: bare };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new NetcheckUsageError(`--server ${text} is not a valid URL`);
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new NetcheckUsageError(`--server ${text} names no host`);
  const port = url.port === '' ? undefined : Number(url.port);
  const scheme = url.protocol.slice(0, -1);
  const path = url.pathname === '/' || url.pathname === '' ? undefined : url.pathname;
  switch (scheme) {
    case 'http':
    case 'ws':
      return { host, httpPort: port ?? 80, httpTls: false, ...(scheme === 'ws' && path ? { wsPath: path } : {}) };
    case 'https':
    case 'wss':
      return { host, httpPort: port ?? 443, httpTls: true, ...(scheme === 'wss' && path ? { wsPath: path } : {}) };
    case 'tcp':
      return port === undefined ? { host } : { host, tcpPort: port };
    case 'tls':
      return port === undefined ? { host } : { host, tlsPort: port };
    default:
      throw new NetcheckUsageError(`--server ${text}: use http, https, ws, wss, tcp or tls URLs`);
  }
}

function port(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new NetcheckUsageError(`${name} must be a port, 1 to 65535`);
  return n;
}

function positive(name: string, value: string | undefined, fallback: number, integer = false): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new NetcheckUsageError(`${name} must be a positive ${integer ? 'whole ' : ''}number`);
  }
  return n;
}

/** "30,60,120" (seconds, fractions allowed) as ascending, distinct milliseconds. */
export function parseDelays(list: string | undefined): number[] {
  if (list === undefined) return [];
  const delays = list.split(',').map((part) => {
    const seconds = Number(part.trim());
    if (part.trim() === '' || !Number.isFinite(seconds) || seconds < 0) {
      throw new NetcheckUsageError(`--nat-probe: "${part}" is not a number of seconds`);
    }
    return Math.round(seconds * 1000);
  });
  return [...new Set(delays)].sort((a, b) => a - b);
}

/** Checks the flags and fills in defaults. Throws NetcheckUsageError on a bad value. */
export function netcheckOptions(flags: NetcheckFlags): NetcheckOptions {
  const target = parseServer(flags.server);
  if (flags.token !== undefined && flags.data !== undefined) {
    throw new NetcheckUsageError('give either --token or --data (to mint a development token), not both');
  }
  const httpTls = flags.https === true || target.httpTls === true;
  let ca: string | undefined;
  if (flags.ca !== undefined) {
    try {
      ca = readFileSync(flags.ca, 'utf8');
    } catch (err) {
      throw new NetcheckUsageError(`--ca ${flags.ca}: ${(err as Error).message}`);
    }
  }
  const on = (flag: boolean | undefined) => flag !== false;
  return {
    host: target.host,
    tcpPort: on(flags.tcp) ? (port('--tcp-port', flags.tcpPort) ?? target.tcpPort ?? DEFAULT_PORTS.tcp) : undefined,
    tlsPort: on(flags.tls) ? (port('--tls-port', flags.tlsPort) ?? target.tlsPort ?? DEFAULT_PORTS.tls) : undefined,
    httpPort: port('--http-port', flags.httpPort) ?? target.httpPort ?? DEFAULT_PORTS.http,
    httpTls,
    wsPath: on(flags.ws) ? (flags.wsPath ?? target.wsPath ?? '/ws') : undefined,
    httpDnsUrl: flags.httpdns,
    token: flags.token,
    userId: flags.user,
    dataDir: flags.data,
    configFile: flags.config,
    natDelaysMs: parseDelays(flags.natProbe),
    natTimeoutMs: positive('--nat-timeout', flags.natTimeout, 10) * 1000,
    pings: positive('--pings', flags.pings, 5, true),
    timeoutMs: positive('--timeout', flags.timeout, 5) * 1000,
    insecure: flags.insecure === true,
    ca,
  };
}
