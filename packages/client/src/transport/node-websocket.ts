// Node only: the WebSocket transport with the `ws` package (Node 20 has no global WebSocket).
import WebSocket, { type ClientOptions } from 'ws';
import type { Transport } from './types.js';
import { type WebSocketTransportOptions, webSocketTransport } from './websocket.js';

export interface NodeWebSocketTransportOptions extends Omit<WebSocketTransportOptions, 'WebSocket'> {
  /** For `wss://`: extra trusted CA certificates (PEM), SNI name, and whether to check the certificate. */
  tls?: { ca?: string | Buffer | (string | Buffer)[]; servername?: string; rejectUnauthorized?: boolean };
  /** Extra HTTP headers for the upgrade request. */
  headers?: Record<string, string>;
  localAddress?: string;
}

/** The WebSocket transport for Node, over the `ws` package. */
export function nodeWebSocketTransport(options: NodeWebSocketTransportOptions): Transport {
  const clientOptions: ClientOptions = {
    perMessageDeflate: false, // bodies are compressed per frame by the protocol when worth it
    minVersion: 'TLSv1.3',
    ...options.tls,
    ...(options.headers ? { headers: options.headers } : {}),
    ...(options.localAddress ? { localAddress: options.localAddress } : {}),
  };
  class NodeWebSocket extends WebSocket {
    constructor(url: string) {
      super(url, clientOptions);
    }
  }
  return webSocketTransport({ ...options, WebSocket: NodeWebSocket });
}
