// Helpers shared by the resolvers.
import { abortReason } from './dns-errors.js';
import { ipLiteral } from './ip.js';
import type { ResolvedAddress } from './types.js';

/** The cache and table key of a host name: lower case, no trailing dot, no brackets. */
export function normalizeHost(host: string): string {
  const lower = host.trim().toLowerCase();
  const bare = lower.startsWith('[') && lower.endsWith(']') ? lower.slice(1, -1) : lower;
  return bare.endsWith('.') ? bare.slice(0, -1) : bare;
}

/** The answer for a host that is an IP literal: itself, never expiring. Undefined for a name. */
export function literalAnswer(host: string): ResolvedAddress[] | undefined {
  const literal = ipLiteral(host.trim());
  if (!literal) return undefined;
  return [{ address: literal.address, family: literal.family, source: 'literal', expiresAt: Number.POSITIVE_INFINITY }];
}

/**
 * Settles with `promise`, or rejects with the signal's reason as soon as `signal` aborts.
 * For work that cannot itself be cancelled (getaddrinfo): the caller stops waiting, the work
 * runs to its end unobserved.
 */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(abortReason(signal));
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      reject(abortReason(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([promise, aborted]).finally(() => {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  });
}

/** Removes repeated addresses, keeping the first of each. */
export function uniqueAddresses(addresses: readonly ResolvedAddress[]): ResolvedAddress[] {
  const seen = new Set<string>();
  return addresses.filter((a) => {
    if (seen.has(a.address)) return false;
    seen.add(a.address);
    return true;
  });
}

/** The newer AbortSignal statics, which older browsers lack. */
const native = AbortSignal as Partial<Pick<typeof AbortSignal, 'timeout' | 'any'>>;

/**
 * `AbortSignal.timeout`, with a fallback for browsers without it (Safari before 16). The
 * reason is a "TimeoutError" like the native one.
 */
export function timeoutSignal(ms: number): AbortSignal {
  if (native.timeout) return AbortSignal.timeout(ms);
  const controller = new AbortController();
  const reason = new Error(`timed out after ${ms} ms`);
  reason.name = 'TimeoutError';
  setTimeout(() => {
    controller.abort(reason);
  }, ms);
  return controller.signal;
}

/**
 * A signal that aborts when either does, with the first one's reason: `AbortSignal.any`,
 * with a fallback for browsers without it (Safari before 17.4).
 */
export function eitherSignal(a: AbortSignal | undefined, b: AbortSignal): AbortSignal {
  if (!a) return b;
  if (native.any) return AbortSignal.any([a, b]);
  const controller = new AbortController();
  const forward = (source: AbortSignal) => {
    if (!controller.signal.aborted) controller.abort(source.reason);
  };
  for (const source of [a, b]) {
    if (source.aborted) forward(source);
    else
      source.addEventListener(
        'abort',
        () => {
          forward(source);
        },
        { once: true },
      );
  }
  return controller.signal;
}
