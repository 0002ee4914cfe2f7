import type { AddressInfo } from 'node:net';
import { type TLSSocket, createServer } from 'node:tls';
import { StreamConnection } from './stream-connection.js';
import type { Gateway } from './tcp-gateway.js';
import { type GatewayBaseOptions, TransportContext, formatRemote, listen, stopListening } from './transport.js';

/** A peer that has not finished its TLS handshake by then is dropped. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

export interface TlsGatewayOptions extends GatewayBaseOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** PEM certificate chain and private key (see `loadTlsCredentials`). */
  cert: Buffer | string;
  key: Buffer | string;
  /** Default 10 s. */
  handshakeTimeoutMs?: number;
}

/**
 * The TLS gateway: TLS 1.3 only, then the same stream connection as plain TCP. Nagle and TCP
 * keepalive are off on the underlying socket, as on the TCP gateway.
 */
export async function startTlsGateway(options: TlsGatewayOptions): Promise<Gateway> {
  const ctx = new TransportContext('tls', options);
  const server = createServer(
    {
      cert: options.cert,
      key: options.key,
      minVersion: 'TLSv1.3',
      handshakeTimeout: options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
      noDelay: true,
      keepAlive: false,
    },
    (socket: TLSSocket) => {
      new StreamConnection(socket, ctx);
    },
  );
  // Node leaves a timed-out handshake's socket open; every failed handshake ends here.
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
    options.logger.debug(
      { remote: formatRemote(socket.remoteAddress, socket.remotePort), code: err.code, err: err.message },
      'TLS handshake failed',
    );
    socket.destroy();
  });
  await listen(server, options.port, options.host, {
    name: 'TLS',
    flag: '--tls-port',
    env: 'PARLEY_TLS_PORT',
    offFlag: '--no-tls',
  });
  server.on('error', (err) => {
    options.logger.error({ err }, 'TLS gateway error');
  });
  return {
    address: server.address() as AddressInfo,
    connections: ctx.live,
    stopAccepting() {
      stopListening(server);
    },
  };
}
