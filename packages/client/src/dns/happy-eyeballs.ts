import { type AttemptFailure, ConnectRaceError, abortReason, describeError } from './dns-errors.js';
import type { AddressReporter, ResolvedAddress } from './types.js';

export interface ConnectRacedOptions<T> {
  /**
   * Opens one connection. It must honour `signal`: on abort, close whatever it has opened
   * (a half-open socket) and reject. An attempt that loses the race is aborted this way.
   */
  dial: (address: ResolvedAddress, signal: AbortSignal) => Promise<T>;
  /**
   * Closes a connection that was established after another attempt had already won (both
   * succeeded within the same moment). Without it such a connection would leak.
   */
  close: (connection: T) => void;
  /** Delay before starting the next attempt while earlier ones are pending (RFC 8305 "Connection Attempt Delay"). Default 250 ms. */
  attemptDelayMs?: number;
  /** Time for the whole race; pending attempts are aborted when it runs out. Default 10 s. */
  timeoutMs?: number;
  /** Aborts the race: every attempt is aborted and the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Told of each address's outcome (a `ChainResolver` or `AddressScores`). */
  reporter?: AddressReporter;
  /**
   * Alternate address families, starting with the family of the first address (RFC 8305
   * §4), so a broken IPv6 (or IPv4) path costs one attempt delay, not one per address.
   * Default true.
   */
  interleave?: boolean;
  /** Try at most this many addresses. Default: all. */
  maxAttempts?: number;
}

/** The race's winner. */
export interface RaceWinner<T> {
  connection: T;
  address: ResolvedAddress;
  /** Attempts that failed, or lost to an attempt started after them (for diagnostics). */
  failures: AttemptFailure[];
}

interface Attempt {
  address: ResolvedAddress;
  controller: AbortController;
  pending: boolean;
}

/**
 * Happy eyeballs (RFC 8305 style) over any kind of connection: dials the first address,
 * starts the next one `attemptDelayMs` later or as soon as an attempt fails, and takes the
 * first connection established. Every other attempt is aborted through its signal (and a
 * connection that still completes is passed to `close`), so at most one connection
 * survives. Outcomes go to `reporter`: success for the winner, failure for every attempt
 * that failed, and for attempts that lost to one started after them (a head start wasted
 * points at a bad path) or were cut off by the timeout.
 *
 * Rejects with `ConnectRaceError` listing each attempt's failure when no attempt succeeds
 * in time, and with the signal's reason when `signal` aborts.
 */
export function connectRaced<T>(
  addresses: readonly ResolvedAddress[],
  options: ConnectRacedOptions<T>,
): Promise<RaceWinner<T>> {
  const { dial, close, reporter, signal } = options;
  const delayMs = options.attemptDelayMs ?? 250;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const ordered = options.interleave === false ? addresses.slice() : interleaveFamilies(addresses);
  const queue = ordered.slice(0, options.maxAttempts ?? ordered.length);

  return new Promise<RaceWinner<T>>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    if (queue.length === 0) {
      reject(new ConnectRaceError([], false, 'no address to connect to'));
      return;
    }
    const attempts: Attempt[] = [];
    const failures: AttemptFailure[] = [];
    let done = false;
    let nextTimer: ReturnType<typeof setTimeout> | undefined;

    const finish = () => {
      done = true;
      clearTimeout(nextTimer);
      clearTimeout(overallTimer);
      signal?.removeEventListener('abort', onAbort);
    };
    /** Aborts every pending attempt; `blame` decides which of them count as failures. */
    const abortPending = (reason: Error, blame: (attempt: Attempt, index: number) => boolean) => {
      attempts.forEach((attempt, index) => {
        if (!attempt.pending) return;
        attempt.pending = false;
        if (blame(attempt, index)) {
          failures.push({ address: attempt.address, error: reason });
          reporter?.report(attempt.address.address, false);
        }
        attempt.controller.abort(reason);
      });
    };
    const onAbort = () => {
      if (done) return;
      finish();
      const reason = abortReason(signal as AbortSignal);
      abortPending(reason, () => false);
      reject(reason);
    };
    const overallTimer = setTimeout(() => {
      if (done) return;
      finish();
      const reason = new Error(`no connection within ${timeoutMs} ms`);
      reason.name = 'TimeoutError';
      abortPending(reason, () => true);
      reject(
        new ConnectRaceError(failures, true, raceMessage(failures, queue.length, `timed out after ${timeoutMs} ms`)),
      );
    }, timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });

    const startNext = () => {
      clearTimeout(nextTimer);
      if (done || attempts.length >= queue.length) return;
      const index = attempts.length;
      const address = queue[index] as ResolvedAddress;
      const attempt: Attempt = { address, controller: new AbortController(), pending: true };
      attempts.push(attempt);
      // The async wrapper turns a dial that throws synchronously into a rejection.
      const dialing = (async () => dial(address, attempt.controller.signal))();
      dialing.then(
        (connection) => {
          if (done || !attempt.pending) {
            closeQuietly(close, connection);
            return;
          }
          attempt.pending = false;
          finish();
          reporter?.report(address.address, true);
          abortPending(new Error(`lost the race to ${address.address}`), (_, i) => i < index);
          resolve({ connection, address, failures });
        },
        (err: unknown) => {
          if (done || !attempt.pending) return;
          attempt.pending = false;
          failures.push({ address, error: err });
          reporter?.report(address.address, false);
          if (attempts.length < queue.length) startNext();
          else if (!attempts.some((a) => a.pending)) {
            finish();
            reject(new ConnectRaceError(failures, false, raceMessage(failures, queue.length, 'every attempt failed')));
          }
        },
      );
      if (attempts.length < queue.length) nextTimer = setTimeout(startNext, delayMs);
    };
    startNext();
  });
}

/**
 * Reorders addresses so families alternate, starting with the family of the first address;
 * the order within a family is kept.
 */
export function interleaveFamilies<A extends { family: 4 | 6 }>(addresses: readonly A[]): A[] {
  const first = addresses[0]?.family;
  const preferred = addresses.filter((a) => a.family === first);
  const other = addresses.filter((a) => a.family !== first);
  const out: A[] = [];
  for (let i = 0; i < Math.max(preferred.length, other.length); i++) {
    const p = preferred[i];
    const o = other[i];
    if (p) out.push(p);
    if (o) out.push(o);
  }
  return out;
}

function closeQuietly<T>(close: (connection: T) => void, connection: T): void {
  try {
    close(connection);
  } catch {
    // Closing a connection nobody uses: nothing to report to.
  }
}

function raceMessage(failures: readonly AttemptFailure[], total: number, what: string): string {
  const list = failures.map((f) => `${f.address.address}: ${describeError(f.error)}`).join('; ');
  return `could not connect to any of ${total} address${total === 1 ? '' : 'es'} (${what})${list ? `: ${list}` : ''}`;
}
