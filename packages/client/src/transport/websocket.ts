import { DEFAULT_MAX_BODY_BYTES, ErrorCode, ProtocolError, decodeMessageFrame } from '@parley/protocol';
import { type Link, type LinkHandlers, type Transport, abortError } from './types.js';

/** The fields of WebSocket events this transport reads (open, message, close, error). */
export interface WebSocketEventLike {
  readonly type?: string;
  /** message */
  readonly data?: unknown;
  /** close */
  readonly code?: number;
  readonly reason?: string;
  /** error (`ws` sets these; browsers give no detail) */
  readonly error?: unknown;
  readonly message?: string;
}

/**
 * The part of the WebSocket API this transport uses: the browser's `WebSocket` and the `ws`
 * package's both fit.
 */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'message' | 'close' | 'error', listener: (event: WebSocketEventLike) => void): void;
  /** `ws` only: drops the connection without a closing handshake. */
  terminate?(): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface WebSocketTransportOptions {
  /** `ws://host:port/ws` or `wss://...`. */
  url: string;
  /**
   * The WebSocket class. Default: `globalThis.WebSocket` (browsers, Node 22+). In Node 20 use
   * `webSocketTransport` from `@parley/client/node`, which passes the `ws` package.
   */
  WebSocket?: WebSocketConstructor;
  /** Largest frame body accepted. Default 1 MiB, the server's default. */
  maxBodyBytes?: number;
}

const OPEN = 1;

/** A transport over WebSocket: exactly one frame per binary message (docs/protocol.md). */
export function webSocketTransport(options: WebSocketTransportOptions): Transport {
  const Ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!Ctor) throw new TypeError('no WebSocket class: pass one as options.WebSocket');
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const { url } = options;
  return {
    name: url.startsWith('wss:') ? 'wss' : 'ws',
    url,
    connect: (handlers, signal) => openWebSocket(new Ctor(url), url, maxBodyBytes, handlers, signal),
  };
}

function openWebSocket(
  ws: WebSocketLike,
  url: string,
  maxBodyBytes: number,
  handlers: LinkHandlers,
  signal: AbortSignal,
): Promise<Link> {
  ws.binaryType = 'arraybuffer';
  // 0 connecting, 1 open, 2 ended (closed by us or reported closed): nothing is reported after 2.
  let phase = 0;
  let lastError: Error | undefined;
  const drop = (): void => {
    if (ws.terminate) ws.terminate();
    else ws.close(1000);
  };
  const link: Link = {
    remote: url,
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
    send(frame) {
      if (phase !== 1 || ws.readyState !== OPEN) return false;
      ws.send(frame);
      return true;
    },
    close() {
      if (phase === 2) return;
      phase = 2;
      drop();
    },
  };
  const fail = (err: Error): void => {
    if (phase !== 1) return;
    phase = 2;
    drop();
    handlers.onClose(err);
  };
  return new Promise<Link>((resolve, reject) => {
    const onAbort = (): void => {
      if (phase !== 0) return;
      phase = 2;
      drop();
      reject(abortError(signal));
    };
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    ws.addEventListener('open', () => {
      signal.removeEventListener('abort', onAbort);
      if (phase !== 0) return;
      phase = 1;
      resolve(link);
    });
    ws.addEventListener('error', (event) => {
      const cause = event.error;
      lastError ??= cause instanceof Error ? cause : new Error(event.message ?? `WebSocket error on ${url}`);
    });
    ws.addEventListener('close', (event) => {
      const code = event.code ?? 1006;
      signal.removeEventListener('abort', onAbort);
      if (phase === 0) {
        phase = 2;
        reject(lastError ?? new Error(`WebSocket to ${url} closed before opening (code ${String(code)})`));
        return;
      }
      if (phase !== 1) return;
      phase = 2;
      handlers.onClose(
        code === 1000 && !lastError
          ? undefined
          : (lastError ?? new Error(`WebSocket closed: ${String(code)} ${event.reason ?? ''}`.trimEnd())),
      );
    });
    ws.addEventListener('message', (event) => {
      if (phase !== 1) return;
      const { data } = event;
      let bytes: Uint8Array;
      if (data instanceof ArrayBuffer) bytes = new Uint8Array(data);
      else if (ArrayBuffer.isView(data)) bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      else {
        fail(new ProtocolError(ErrorCode.BAD_BODY, 'the server sent a text WebSocket message'));
        return;
      }
      let frame;
      try {
        frame = decodeMessageFrame(bytes, maxBodyBytes);
      } catch (err) {
        fail(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      handlers.onFrame(frame);
    });
  });
}
