import { ErrorCode } from '@parley/protocol';
import { ClientError, ClientErrorCode } from '../errors.js';
import type { Connection } from './connection.js';
import type { SessionInfo } from './types.js';

export interface ReadyOptions {
  /** Reject with PARLEY_ERR_CONNECT_FAILED (wire TIMEOUT) if not connected by then. */
  timeoutMs?: number;
  /** Reject with the signal's reason when it aborts. */
  signal?: AbortSignal;
}

/** Resolves with the next session of `conn` (it is not connected now); rejects when it closes first. */
export function nextSession(conn: Connection, closedError: () => Error, options: ReadyOptions): Promise<SessionInfo> {
  return new Promise<SessionInfo>((resolve, reject) => {
    const { signal, timeoutMs } = options;
    const offs = [
      conn.on('connected', (session) => {
        done();
        resolve(session);
      }),
      conn.on('state', (state) => {
        if (state !== 'closed') return;
        done();
        reject(closedError());
      }),
    ];
    const onAbort = (): void => {
      done();
      reject(signal?.reason as Error);
    };
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            done();
            const message = `not connected within ${String(timeoutMs)} ms`;
            reject(new ClientError(ClientErrorCode.CONNECT_FAILED, ErrorCode.TIMEOUT, message));
          }, timeoutMs);
    const done = (): void => {
      for (const off of offs) off();
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
}
