// The flags of `parley chat`, checked, with defaults filled in.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, ParleyError } from '@parley/protocol';
import { DEFAULT_PORTS, NetcheckUsageError, parseServer } from '../netcheck/options.js';

/** The flags of `parley chat`, as commander hands them over. */
export interface ChatFlags {
  server: string;
  user: string;
  transport?: string;
  tcpPort?: string;
  tlsPort?: string;
  httpPort?: string;
  wsPath?: string;
  https?: boolean;
  token?: string;
  tokenCommand?: string;
  data?: string;
  config?: string;
  device?: string;
  state?: string;
  ca?: string;
  insecure?: boolean;
  /** Non-TTY use: how long to wait at the end of input for queued messages (seconds). */
  wait?: string;
}

export type ChatTransport = 'tcp' | 'tls' | 'ws';

/** Where the token comes from: given, a command run on each refresh, minted from a data dir, or a dev server. */
export type TokenSource =
  | { kind: 'flag'; token: string }
  | { kind: 'command'; command: string }
  | { kind: 'data-dir'; dataDir: string; configFile: string | undefined }
  | { kind: 'dev-endpoint' };

export interface ChatOptions {
  userId: string;
  /** A host name, or an IP literal without brackets. */
  host: string;
  transport: ChatTransport;
  /** The port of the chosen transport. */
  port: number;
  /** The HTTP port (WebSocket, and the development token endpoint). */
  httpPort: number;
  httpTls: boolean;
  wsPath: string;
  token: TokenSource;
  /** undefined: a device id made once and kept in the state directory. */
  deviceId: string | undefined;
  /** Where the outbox, sync cursor and conversation list persist. */
  stateDir: string;
  /** Extra trusted CA certificates (PEM): --ca and the development certificate of --data. */
  ca: string[];
  insecure: boolean;
  /** Non-TTY use: how long to wait for queued messages when the input ends. */
  drainMs: number;
}

/** A bad flag value: printed as a usage error (exit code 2). */
export class ChatUsageError extends ParleyError {
  constructor(message: string) {
    super(ErrorCode.INVALID_ARGUMENT, message);
    this.name = 'ChatUsageError';
  }
}

const TRANSPORTS: readonly ChatTransport[] = ['tcp', 'tls', 'ws'];
const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|::1)$/i;

function port(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new ChatUsageError(`${name} must be a port, 1 to 65535`);
  return n;
}

/** A directory name that cannot escape its parent: letters, digits and `._-@` kept, the rest `_`. */
function safeName(text: string): string {
  return text.replace(/[^\w.@-]/g, '_').replace(/^\.+/, '_') || '_';
}

/** `$XDG_STATE_HOME/parley/chat/<server>/<user>`, else `~/.local/state/parley/chat/...`. */
function defaultStateDir(host: string, portNumber: number, userId: string): string {
  const base = process.env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state');
  return join(base, 'parley', 'chat', safeName(`${host}_${String(portNumber)}`), safeName(userId));
}

function readCa(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ChatUsageError(`--ca ${file}: ${(err as Error).message}`);
  }
}

function tokenSource(flags: ChatFlags): TokenSource {
  const given = [flags.token, flags.tokenCommand, flags.data].filter((v) => v !== undefined).length;
  if (given > 1) throw new ChatUsageError('give one of --token, --token-command and --data');
  if (flags.token !== undefined) {
    if (flags.token.trim() === '') throw new ChatUsageError('--token is empty');
    return { kind: 'flag', token: flags.token.trim() };
  }
  if (flags.tokenCommand !== undefined) {
    if (flags.tokenCommand.trim() === '') throw new ChatUsageError('--token-command is empty');
    return { kind: 'command', command: flags.tokenCommand };
  }
  if (flags.data !== undefined) return { kind: 'data-dir', dataDir: flags.data, configFile: flags.config };
  return { kind: 'dev-endpoint' };
}

/** Checks the flags and fills in defaults. Throws ChatUsageError on a bad value. */
export function chatOptions(flags: ChatFlags): ChatOptions {
  const userId = flags.user.trim();
  if (userId === '' || userId.length > 128) throw new ChatUsageError('--user must be 1 to 128 characters');
  let target: ReturnType<typeof parseServer>;
  try {
    target = parseServer(flags.server);
  } catch (err) {
    if (err instanceof NetcheckUsageError) throw new ChatUsageError(err.message);
    throw err;
  }
  const scheme = /^(\w+):\/\//.exec(flags.server.trim())?.[1]?.toLowerCase();
  const fromScheme: ChatTransport | undefined =
    scheme === 'tcp' ? 'tcp' : scheme === 'tls' ? 'tls' : scheme === undefined ? undefined : 'ws';
  let transport: ChatTransport;
  if (flags.transport !== undefined) {
    if (!TRANSPORTS.includes(flags.transport as ChatTransport)) {
      throw new ChatUsageError(`--transport must be tcp, tls or ws, not ${flags.transport}`);
    }
    transport = flags.transport as ChatTransport;
  } else {
    // Plain TCP only to this machine: anywhere else the default is encrypted.
    transport = fromScheme ?? (LOOPBACK.test(target.host) ? 'tcp' : 'tls');
  }
  const httpTls = flags.https === true || target.httpTls === true;
  const httpPort = port('--http-port', flags.httpPort) ?? target.httpPort ?? DEFAULT_PORTS.http;
  const tcpPort = port('--tcp-port', flags.tcpPort) ?? target.tcpPort ?? DEFAULT_PORTS.tcp;
  const tlsPort = port('--tls-port', flags.tlsPort) ?? target.tlsPort ?? DEFAULT_PORTS.tls;
  const chosenPort = transport === 'tcp' ? tcpPort : transport === 'tls' ? tlsPort : httpPort;
  const wsPath = flags.wsPath ?? target.wsPath ?? '/ws';
  if (!wsPath.startsWith('/')) throw new ChatUsageError('--ws-path must start with /');

  const ca: string[] = [];
  if (flags.ca !== undefined) ca.push(readCa(flags.ca));
  if (flags.data !== undefined) {
    try {
      ca.push(readFileSync(join(flags.data, 'tls', 'dev-cert.pem'), 'utf8'));
    } catch {
      // no development certificate there: the server has its own, or TLS is off
    }
  }

  let drainMs = 15_000;
  if (flags.wait !== undefined) {
    const seconds = Number(flags.wait);
    if (!Number.isFinite(seconds) || seconds < 0) throw new ChatUsageError('--wait must be a number of seconds');
    drainMs = Math.round(seconds * 1000);
  }
  const device = flags.device?.trim();
  if (device === '' || (device !== undefined && device.length > 128)) {
    throw new ChatUsageError('--device must be 1 to 128 characters');
  }

  return {
    userId,
    host: target.host,
    transport,
    port: chosenPort,
    httpPort,
    httpTls,
    wsPath,
    token: tokenSource(flags),
    deviceId: device,
    stateDir: flags.state ?? defaultStateDir(target.host, chosenPort, userId),
    ca,
    insecure: flags.insecure === true,
    drainMs,
  };
}
