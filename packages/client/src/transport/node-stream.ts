// Node only: a Link over a net.Socket or tls.TLSSocket carrying a byte stream of frames.
import type { Socket } from 'node:net';
import { DEFAULT_MAX_BODY_BYTES, FrameDecoder } from '@parley/protocol';
import type { ResolvedDialOptions } from './node-resolved.js';
import { type Link, type LinkHandlers, abortError } from './types.js';

export interface StreamTransportOptions extends ResolvedDialOptions {
  /** A host name or IP literal. A name is resolved by `resolver` when one is given. */
  host: string;
  port: number;
  /** Local address to bind, e.g. to pick an interface. */
  localAddress?: string;
  /** Largest frame body accepted. Default 1 MiB, the server's default. */
  maxBodyBytes?: number;
}

/**
 * Dials with `open` (which returns a socket already connecting) and resolves with a Link once
 * `readyEvent` fires ('connect' for TCP, 'secureConnect' for TLS). Aborting `signal` destroys
 * the socket and rejects.
 */
export function connectStream(
  open: () => Socket,
  readyEvent: 'connect' | 'secureConnect',
  remote: string,
  maxBodyBytes: number | undefined,
  handlers: LinkHandlers,
  signal: AbortSignal,
): Promise<Link> {
  if (signal.aborted) return Promise.reject(abortError(signal));
  const decoder = new FrameDecoder({ maxBodyBytes: maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES });
  const socket = open();
  // 0 connecting, 1 open, 2 ended: nothing is reported once ended.
  let phase = 0;
  const isOpen = (): boolean => phase === 1;
  let lastError: Error | undefined;
  const link: Link = {
    remote,
    get bufferedAmount() {
      return socket.writableLength;
    },
    send(frame) {
      if (phase !== 1 || socket.destroyed) return false;
      socket.write(frame);
      return true;
    },
    close() {
      if (phase === 2) return;
      phase = 2;
      socket.destroy();
    },
  };
  socket.setNoDelay(true);
  socket.on('data', (chunk: Buffer) => {
    if (phase !== 1) return;
    try {
      decoder.push(chunk, (frame) => {
        if (phase === 1) handlers.onFrame(frame);
      });
    } catch (err) {
      // A ProtocolError from the decoder (or a throwing handler): the stream is unusable.
      if (!isOpen()) return;
      phase = 2;
      socket.destroy();
      handlers.onClose(err instanceof Error ? err : new Error(String(err)));
    }
  });
  socket.on('error', (err) => {
    lastError ??= err;
  });
  return new Promise<Link>((resolve, reject) => {
    const onAbort = (): void => {
      if (phase !== 0) return;
      phase = 2;
      socket.destroy();
      reject(abortError(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once(readyEvent, () => {
      signal.removeEventListener('abort', onAbort);
      if (phase !== 0) return;
      phase = 1;
      resolve(link);
    });
    socket.on('close', () => {
      signal.removeEventListener('abort', onAbort);
      if (phase === 0) {
        phase = 2;
        reject(lastError ?? new Error(`connection to ${remote} closed before it was established`));
        return;
      }
      if (phase !== 1) return;
      phase = 2;
      handlers.onClose(lastError);
    });
  });
}
