import type { Server } from 'node:net';
import type { Counter, Gauge } from 'prom-client';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { AcceptConnection, Connection, ConnectionHandler, TransportKind } from './connection.js';

/** How long `close()` waits for queued bytes to flush and the peer to finish before destroying. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 2_000;

/** Options every gateway takes. */
export interface GatewayBaseOptions {
  /** Makes the handler of each new connection (the session layer). */
  accept: AcceptConnection;
  metrics: Metrics;
  logger: Logger;
  /** Largest frame body accepted (`config.limits.maxFrameBytes`); a larger header fails the connection. */
  maxBodyBytes: number;
  /** Queued outgoing bytes above which `send` returns false (`config.limits.sendBudgetBytes`). */
  sendBudgetBytes: number;
  /** How long `close()` waits for the flush and the peer's goodbye before it destroys. Default 2 s. */
  closeTimeoutMs?: number;
}

/**
 * What all connections of one transport share: limits, logger, metric children and the set of
 * live connections. A connection points at this instead of copying fields, so each stays small.
 */
export class TransportContext {
  readonly live = new Set<Connection>();
  readonly logger: Logger;
  readonly maxBodyBytes: number;
  readonly sendBudgetBytes: number;
  readonly closeTimeoutMs: number;
  readonly framesIn: Counter.Internal;
  readonly framesOut: Counter.Internal;
  readonly bytesIn: Counter.Internal;
  readonly bytesOut: Counter.Internal;
  readonly #open: Gauge.Internal<'transport' | 'state'>;
  readonly #accept: AcceptConnection;

  constructor(
    readonly transport: TransportKind,
    options: GatewayBaseOptions,
  ) {
    const { metrics } = options;
    this.#accept = options.accept;
    this.logger = options.logger;
    this.maxBodyBytes = options.maxBodyBytes;
    this.sendBudgetBytes = options.sendBudgetBytes;
    this.closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    this.framesIn = metrics.framesIn.labels({ transport });
    this.framesOut = metrics.framesOut.labels({ transport });
    this.bytesIn = metrics.bytesIn.labels({ transport });
    this.bytesOut = metrics.bytesOut.labels({ transport });
    this.#open = metrics.connections.labels({ transport, state: 'open' });
  }

  /**
   * Asks the session layer for the handler of a new connection and counts the connection.
   * Returns undefined when `accept` threw; the caller then destroys the transport.
   */
  opened(connection: Connection): ConnectionHandler | undefined {
    let handler: ConnectionHandler;
    try {
      handler = this.#accept(connection);
    } catch (err) {
      this.logger.error({ err, transport: this.transport, remote: connection.remote }, 'accepting a connection failed');
      return undefined;
    }
    this.live.add(connection);
    this.#open.inc();
    return handler;
  }

  /** Uncounts a connection and tells its handler. Called once per connection `opened` accepted. */
  closed(connection: Connection, handler: ConnectionHandler): void {
    this.live.delete(connection);
    this.#open.dec();
    try {
      handler.onClose();
    } catch (err) {
      this.logger.error(
        { err, transport: this.transport, remote: connection.remote },
        'connection handler failed in onClose',
      );
    }
  }

  /** A handler threw where it must not: log it and drop the connection rather than the process. */
  fault(connection: Connection, err: unknown, where: string): void {
    this.logger.error(
      { err, transport: this.transport, remote: connection.remote },
      `connection handler failed in ${where}`,
    );
    connection.destroy();
  }
}

/** "ip:port" of a peer; IPv6 in brackets, IPv4-mapped IPv6 shown as plain IPv4. */
export function formatRemote(address: string | undefined, port: number | undefined): string {
  if (address === undefined) return 'unknown';
  const ip = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
  return ip.includes(':') ? `[${ip}]:${String(port)}` : `${ip}:${String(port)}`;
}

/** How to name a listener in a listen error: what it is and how the user changes its port. */
export interface ListenTarget {
  /** "TCP", "TLS". */
  name: string;
  /** "--tcp-port". */
  flag: string;
  /** "PARLEY_TCP_PORT". */
  env: string;
  /** "--no-tcp", to turn the gateway off. */
  offFlag: string;
}

/** A gateway could not bind its port. `code` is the system error code (EADDRINUSE, EACCES, ...). */
export class ListenError extends Error {
  readonly code: string | undefined;

  constructor(message: string, code: string | undefined, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ListenError';
    this.code = code;
  }
}

/** Binds `server` and resolves once it listens; rejects with a ListenError a person can act on. */
export function listen(server: Server, port: number, host: string, target: ListenTarget): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(new ListenError(listenMessage(err, port, host, target), err.code, { cause: err }));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function listenMessage(err: NodeJS.ErrnoException, port: number, host: string, t: ListenTarget): string {
  const change = `choose another with ${t.flag} or ${t.env} (0 picks a free port), or turn the gateway off with ${t.offFlag}`;
  switch (err.code) {
    case 'EADDRINUSE':
      return `${t.name} port ${String(port)} on ${host} is already in use; ${change}`;
    case 'EACCES':
      return `not allowed to listen on ${t.name} port ${String(port)} on ${host} (ports below 1024 need privileges); ${change}`;
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return `cannot listen on host ${host} for the ${t.name} gateway: no such local address; set --host or PARLEY_HOST`;
    default:
      return `the ${t.name} gateway could not listen on ${host}:${String(port)}: ${err.message}`;
  }
}

/** Stops a server accepting; connections it already has stay open. */
export function stopListening(server: Server): void {
  if (server.listening) server.close();
}
