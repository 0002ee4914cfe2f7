import type { Frame, ProtocolError } from '@parley/protocol';

/** How a connection reaches the server; 'http' is the short link (one request per HTTP call). */
export type TransportKind = 'tcp' | 'tls' | 'ws' | 'http';

/**
 * One client connection, whatever carries it. TCP, TLS and WebSocket gateways are thin
 * adapters that implement this and feed decoded frames to a `ConnectionHandler`; sessions
 * are written once against it.
 */
export interface Connection {
  readonly transport: TransportKind;
  /** "ip:port" of the peer, for logs and per-address limits. */
  readonly remote: string;
  /**
   * Queues one encoded frame. Returns false when the connection is closed or its queued
   * bytes exceed the send budget; the session then treats the client as a slow consumer.
   */
  send(frame: Uint8Array): boolean;
  /** Bytes accepted by `send` and not yet handed to the kernel. */
  readonly queuedBytes: number;
  /** Flushes what is queued (up to a short deadline), then closes. Idempotent. */
  close(): void;
  /** Closes at once, dropping anything queued. Idempotent. */
  destroy(): void;
}

/** What a gateway calls as the connection lives. Implemented by the session layer. */
export interface ConnectionHandler {
  /** A whole frame arrived. The body may be a view into a receive buffer: decode it now. */
  onFrame(frame: Frame): void;
  /**
   * The peer broke the wire format. The gateway stops reading; the handler decides what to
   * tell the peer (a KICK with the code, or nothing for BAD_MAGIC) and closes.
   */
  onProtocolError(error: ProtocolError): void;
  /** The connection is gone (either side closed, or it failed). Called exactly once. */
  onClose(): void;
}

/** Creates the handler for a newly accepted connection. */
export type AcceptConnection = (connection: Connection) => ConnectionHandler;
