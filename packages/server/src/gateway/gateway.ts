import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { AcceptConnection, Connection } from './connection.js';
import { type Gateway, startTcpGateway } from './tcp-gateway.js';
import { loadTlsCredentials } from './tls-credentials.js';
import { startTlsGateway } from './tls-gateway.js';
import type { GatewayBaseOptions } from './transport.js';
import { type WsGateway, attachWsGateway } from './ws-gateway.js';

export interface StartGatewaysOptions {
  config: Config;
  /** Makes the handler of each new connection. */
  accept: AcceptConnection;
  metrics: Metrics;
  logger: Logger;
  /** WebSocket connections are served on its `/ws` path; none without it. The caller makes it listen. */
  httpServer?: HttpServer;
  /** How long `close()` waits before destroying. Default 2 s. */
  closeTimeoutMs?: number;
  /** How long a TLS peer has to finish its handshake. Default 10 s. */
  tlsHandshakeTimeoutMs?: number;
}

/** The running gateways. */
export interface Gateways {
  /** Where the TCP gateway listens; undefined when it is off. */
  readonly tcp: AddressInfo | undefined;
  /** Where the TLS gateway listens; undefined when it is off. */
  readonly tls: AddressInfo | undefined;
  /** The WebSocket path on the HTTP server; undefined without an HTTP server. */
  readonly wsPath: string | undefined;
  /** The PEM file of the self-signed development certificate TLS uses, if it uses one. */
  readonly devCertificate: string | undefined;
  /** True when this start made that certificate (it is reused on later starts). */
  readonly devCertificateCreated: boolean;
  /** Stops accepting new connections on every gateway; live connections stay open. */
  stopAccepting(): Promise<void>;
  /** Every live connection, all transports. */
  connections(): Iterable<Connection>;
}

/**
 * Starts the enabled gateways on `config.host`: TCP on `config.tcpPort`, TLS on
 * `config.tlsPort` (port 0 picks a free one), and WebSocket on the given HTTP server.
 * Rejects with a message naming the port and the setting that changes it when a port is
 * taken; gateways already started are stopped again then.
 */
export async function startGateways(options: StartGatewaysOptions): Promise<Gateways> {
  const { config, logger } = options;
  const base: GatewayBaseOptions = {
    accept: options.accept,
    metrics: options.metrics,
    logger,
    maxBodyBytes: config.limits.maxFrameBytes,
    sendBudgetBytes: config.limits.sendBudgetBytes,
    ...(options.closeTimeoutMs === undefined ? {} : { closeTimeoutMs: options.closeTimeoutMs }),
  };
  const started: (Gateway | WsGateway)[] = [];
  let tcp: Gateway | undefined;
  let tls: Gateway | undefined;
  let devCertificate: string | undefined;
  let devCertificateCreated = false;
  try {
    if (config.tcp) {
      tcp = await startTcpGateway({ ...base, host: config.host, port: config.tcpPort });
      started.push(tcp);
    }
    if (config.tls) {
      const credentials = await loadTlsCredentials({
        certFile: config.tlsCert,
        keyFile: config.tlsKey,
        dataDir: config.dataDir,
      });
      devCertificate = credentials.devCertificate;
      devCertificateCreated = credentials.created;
      if (credentials.created && devCertificate !== undefined) {
        logger.info({ file: devCertificate }, `made a self-signed development certificate at ${devCertificate}`);
      }
      tls = await startTlsGateway({
        ...base,
        host: config.host,
        port: config.tlsPort,
        cert: credentials.cert,
        key: credentials.key,
        ...(options.tlsHandshakeTimeoutMs === undefined ? {} : { handshakeTimeoutMs: options.tlsHandshakeTimeoutMs }),
      });
      started.push(tls);
    }
  } catch (err) {
    for (const gateway of started) gateway.stopAccepting();
    throw err;
  }
  const ws = options.httpServer ? attachWsGateway({ ...base, httpServer: options.httpServer }) : undefined;
  if (ws) started.push(ws);

  return {
    tcp: tcp?.address,
    tls: tls?.address,
    wsPath: ws?.path,
    devCertificate,
    devCertificateCreated,
    stopAccepting() {
      for (const gateway of started) gateway.stopAccepting();
      return Promise.resolve();
    },
    *connections() {
      for (const gateway of started) yield* gateway.connections;
    },
  };
}
