// Builds the SDK client of `parley chat`: the transport, the token provider and the state
// directory where the outbox, sync cursor and conversation list survive a restart.
import { randomBytes } from 'node:crypto';
import { mkdirSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { ParleyClient, SHORT_LINK_PATH, type Transport } from '@parley/client';
import { FileKeyValueStore, nodeWebSocketTransport, tcpTransport, tlsTransport } from '@parley/client/node';
import { type ChatOptions, ChatUsageError } from './options.js';
import { tokenClaims, tokenProvider } from './token.js';

const DEVICE_KEY = 'chat:device-id';

/** A person waits at the terminal: retry sooner than a phone in a pocket would. */
const RECONNECT_CAP_MS = 10_000;

export interface ChatConnection {
  client: ParleyClient;
  storage: FileKeyValueStore;
  deviceId: string;
  /** What the status line names: `tcp://host:port`. */
  endpoint: string;
  /** Gives the state directory up (the lock file goes). */
  release: () => void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One chat per state directory: two would overwrite each other's outbox file and, sharing a
 * device id, log each other out in turn. A lock file holds the owner's pid; a stale one (its
 * process is gone) is taken over.
 */
function lockStateDir(dir: string): () => void {
  const path = join(dir, 'lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        rmSync(path, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new ChatUsageError(`--state ${dir}: ${(err as Error).message}`);
      }
      const pid = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new ChatUsageError(
          `another parley chat (pid ${String(pid)}) uses ${dir}: quit it, or pass a different --state`,
        );
      }
      rmSync(path, { force: true });
    }
  }
  throw new ChatUsageError(`--state ${dir}: cannot take the lock file`);
}

function hostPart(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export function chatTransport(options: ChatOptions): Transport {
  const ca = options.ca.length === 0 ? undefined : [...rootCertificates, ...options.ca];
  const tls = { ...(ca ? { ca } : {}), ...(options.insecure ? { rejectUnauthorized: false } : {}) };
  switch (options.transport) {
    case 'tcp':
      return tcpTransport({ host: options.host, port: options.port });
    case 'tls':
      return tlsTransport({ host: options.host, port: options.port, ...tls });
    case 'ws': {
      const scheme = options.httpTls ? 'wss' : 'ws';
      const url = `${scheme}://${hostPart(options.host)}:${String(options.port)}${options.wsPath}`;
      return nodeWebSocketTransport({ url, ...(options.httpTls ? { tls } : {}) });
    }
  }
}

export function endpointOf(options: ChatOptions): string {
  const scheme = options.transport === 'ws' ? (options.httpTls ? 'wss' : 'ws') : options.transport;
  return `${scheme}://${hostPart(options.host)}:${String(options.port)}${options.transport === 'ws' ? options.wsPath : ''}`;
}

/** The device id: --device, the one a --token is pinned to, or one made once and kept in the state directory. */
async function deviceIdFor(options: ChatOptions, storage: FileKeyValueStore): Promise<string> {
  if (options.token.kind === 'flag') {
    const claims = tokenClaims(options.token.token);
    if (claims.userId !== undefined && claims.userId !== options.userId) {
      throw new ChatUsageError(`--token is for user ${claims.userId}, not ${options.userId}`);
    }
    if (claims.deviceId !== undefined) {
      if (options.deviceId !== undefined && options.deviceId !== claims.deviceId) {
        throw new ChatUsageError(`--token is pinned to device ${claims.deviceId}, not ${options.deviceId}`);
      }
      return claims.deviceId;
    }
  }
  if (options.deviceId !== undefined) return options.deviceId;
  const stored = await storage.get(DEVICE_KEY);
  if (stored !== undefined && stored !== '') return stored;
  const made = `chat-${randomBytes(6).toString('hex')}`;
  await storage.set(DEVICE_KEY, made);
  return made;
}

/** Opens the state directory and makes the client (not connected yet). */
export async function openChatConnection(options: ChatOptions): Promise<ChatConnection> {
  try {
    mkdirSync(options.stateDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new ChatUsageError(`--state ${options.stateDir}: ${(err as Error).message}`);
  }
  const release = lockStateDir(options.stateDir);
  const storage = new FileKeyValueStore(join(options.stateDir, 'state.json'));
  let deviceId: string;
  try {
    deviceId = await deviceIdFor(options, storage);
  } catch (err) {
    release();
    throw err;
  }
  const client = new ParleyClient({
    transport: chatTransport(options),
    token: tokenProvider(options, () => deviceId),
    deviceId,
    storage,
    connection: { backoff: { capMs: RECONNECT_CAP_MS } },
    // When the TCP/TLS/WebSocket link cannot be established, sends go over the HTTP API.
    shortLink: {
      url: `${options.httpTls ? 'https' : 'http'}://${hostPart(options.host)}:${String(options.httpPort)}${SHORT_LINK_PATH}`,
    },
  });
  return { client, storage, deviceId, endpoint: endpointOf(options), release };
}
