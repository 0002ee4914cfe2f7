import { type AddressInfo, type Socket, createServer } from 'node:net';
import type { Connection } from './connection.js';
import { StreamConnection } from './stream-connection.js';
import { type GatewayBaseOptions, TransportContext, listen, stopListening } from './transport.js';

export interface TcpGatewayOptions extends GatewayBaseOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
}

/** A listening gateway. */
export interface Gateway {
  readonly address: AddressInfo;
  /** Its live connections. */
  readonly connections: ReadonlySet<Connection>;
  /** Stops accepting new connections; live ones are left to the caller. */
  stopAccepting(): void;
}

/**
 * The plain TCP gateway. Nagle is off (frames are written whole, latency matters) and TCP
 * keepalive is off (clients send application heartbeats; the sweeper enforces them).
 */
export async function startTcpGateway(options: TcpGatewayOptions): Promise<Gateway> {
  const ctx = new TransportContext('tcp', options);
  const server = createServer({ noDelay: true, keepAlive: false }, (socket: Socket) => {
    new StreamConnection(socket, ctx);
  });
  await listen(server, options.port, options.host, {
    name: 'TCP',
    flag: '--tcp-port',
    env: 'PARLEY_TCP_PORT',
    offFlag: '--no-tcp',
  });
  // Accept failures (EMFILE and the like) surface here once listening; they must not crash the process.
  server.on('error', (err) => {
    options.logger.error({ err }, 'TCP gateway error');
  });
  return {
    address: server.address() as AddressInfo,
    connections: ctx.live,
    stopAccepting() {
      stopListening(server);
    },
  };
}
