import type { Frame } from '@parley/protocol';

/**
 * What a link reports to its owner. A link calls `onFrame` once per decoded frame, in order,
 * and `onClose` exactly once when it ends by itself (peer closed, network error, bad bytes
 * from the peer). After the owner calls `Link.close()` it calls neither.
 */
export interface LinkHandlers {
  onFrame(frame: Frame): void;
  /** `error` says why, when the end was not a clean close (a ProtocolError for bad bytes). */
  onClose(error?: Error): void;
}

/**
 * One live connection to a server that carries whole frames. Framing is the transport's
 * business: a byte stream (TCP, TLS) is split with a streaming decoder, a WebSocket carries
 * one frame per binary message.
 */
export interface Link {
  /** Queues one encoded frame; false when the link is closed and the frame was dropped. */
  send(frame: Uint8Array): boolean;
  /** Closes the link at once and detaches it: no handler is called afterwards. Idempotent. */
  close(): void;
  /** Bytes queued for sending and not yet handed to the network. */
  readonly bufferedAmount: number;
  /** Where the link goes, for logs and events ("tcp://127.0.0.1:7100"). */
  readonly remote: string;
}

/**
 * Opens links to one server. A connection calls `connect` for every attempt and owns the
 * link it gets; aborting `signal` must abandon the attempt (closing any half-open socket)
 * and reject.
 */
export interface Transport {
  /** Short name for logs: "tcp", "tls", "ws". */
  readonly name: string;
  /** The URL it dials, when it has one (WebSocket): the short link derives the server's HTTP address from it. */
  readonly url?: string;
  connect(handlers: LinkHandlers, signal: AbortSignal): Promise<Link>;
}

/** The error an aborted connect rejects with: the signal's reason when it is an Error. */
export function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  return new Error('connect aborted', { cause: reason });
}
