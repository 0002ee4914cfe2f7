// Node only: a transport for an endpoint URL, e.g. an alternative named by GOAWAY.
import { ParleyError } from '@parley/protocol';
import { ErrorCode } from '@parley/protocol';
import { nodeWebSocketTransport } from './node-websocket.js';
import { tcpTransport } from './node-tcp.js';
import { tlsTransport } from './node-tls.js';
import type { ResolvedDialOptions } from './node-resolved.js';
import type { Transport } from './types.js';

export interface NodeEndpointOptions extends ResolvedDialOptions {
  /** Extra trusted CA certificates (PEM) for tls:// and wss://. */
  ca?: string | Buffer | (string | Buffer)[];
  /**
   * The name certificates must be valid for when the endpoint's host is an IP address
   * (a server advertising its alternatives by IP). Default: the endpoint's host.
   */
  servername?: string;
}

/**
 * Returns `(endpoint) => Transport` for `ConnectionOptions.endpointTransport`: tcp://host:port,
 * tls://host:port, ws://host:port/path and wss://... Throws a ParleyError INVALID_ARGUMENT on
 * an endpoint that is not a URL, has no port (tcp, tls) or another scheme.
 */
export function nodeEndpointTransport(options: NodeEndpointOptions = {}): (endpoint: string) => Transport {
  return (endpoint) => {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch (err) {
      throw new ParleyError(ErrorCode.INVALID_ARGUMENT, `not an endpoint URL: ${endpoint}`, { cause: err });
    }
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const tls = options.servername !== undefined ? { servername: options.servername } : {};
    const ca = options.ca !== undefined ? { ca: options.ca } : {};
    if (url.protocol === 'ws:' || url.protocol === 'wss:') {
      return nodeWebSocketTransport({
        url: url.toString(),
        ...(url.protocol === 'wss:' ? { tls: { ...ca, ...tls } } : {}),
      });
    }
    const port = Number(url.port);
    if (url.port === '' || !Number.isInteger(port) || port <= 0) {
      throw new ParleyError(ErrorCode.INVALID_ARGUMENT, `endpoint ${endpoint} has no port`);
    }
    const dial = {
      host,
      port,
      ...(options.resolver !== undefined ? { resolver: options.resolver } : {}),
      ...(options.reporter !== undefined ? { reporter: options.reporter } : {}),
      ...(options.attemptDelayMs !== undefined ? { attemptDelayMs: options.attemptDelayMs } : {}),
      ...(options.raceTimeoutMs !== undefined ? { raceTimeoutMs: options.raceTimeoutMs } : {}),
    };
    if (url.protocol === 'tcp:') return tcpTransport(dial);
    if (url.protocol === 'tls:') return tlsTransport({ ...dial, ...ca, ...tls });
    throw new ParleyError(ErrorCode.INVALID_ARGUMENT, `endpoint ${endpoint}: unknown scheme ${url.protocol}`);
  };
}
