import { ErrorCode } from '@parley/protocol';
import { ClientError, ClientErrorCode } from '../errors.js';
import type { ResolvedAddress } from './types.js';

/** What went wrong in a lookup; `DnsError.dnsCode`. */
export const DnsErrorCode = {
  /** Every resolver answered, none with an address (NXDOMAIN, empty answer, unknown host). */
  NOT_FOUND: 'PARLEY_ERR_DNS_NOT_FOUND',
  /** The lookup itself failed: network error, HTTP error status, SERVFAIL. */
  LOOKUP_FAILED: 'PARLEY_ERR_DNS_LOOKUP_FAILED',
  /** No answer within the resolver's timeout. */
  TIMEOUT: 'PARLEY_ERR_DNS_TIMEOUT',
  /** The HTTPDNS response was not the DNS JSON format. */
  BAD_RESPONSE: 'PARLEY_ERR_DNS_BAD_RESPONSE',
  /** Every address in the answer was refused as implausible (private, loopback, reserved): likely hijacked. */
  SUSPICIOUS_ANSWER: 'PARLEY_ERR_DNS_SUSPICIOUS_ANSWER',
} as const;
export type DnsErrorCode = (typeof DnsErrorCode)[keyof typeof DnsErrorCode];

/**
 * A host could not be resolved. For callers it is a connect failure (`clientCode`
 * CONNECT_FAILED, wire code UNAVAILABLE, so it is retried like one); `dnsCode` says why and
 * `cause` carries the underlying error (an `AggregateError` of each resolver's error when a
 * `ChainResolver` ran out of resolvers).
 */
export class DnsError extends ClientError {
  readonly dnsCode: DnsErrorCode;
  readonly host: string;

  constructor(dnsCode: DnsErrorCode, host: string, message: string, options: { cause?: unknown } = {}) {
    super(ClientErrorCode.CONNECT_FAILED, ErrorCode.UNAVAILABLE, message, options);
    this.name = 'DnsError';
    this.dnsCode = dnsCode;
    this.host = host;
  }
}

/** One address `connectRaced` tried and the error its attempt ended with. */
export interface AttemptFailure {
  address: ResolvedAddress;
  error: unknown;
}

/**
 * No address could be connected to. `failures` lists every attempt that was started, in
 * start order, with its error (attempts cut short by the overall timeout carry a timeout
 * error); `timedOut` tells an overall timeout apart from every attempt failing. Addresses
 * never attempted are not listed.
 */
export class ConnectRaceError extends ClientError {
  readonly failures: readonly AttemptFailure[];
  readonly timedOut: boolean;

  constructor(failures: readonly AttemptFailure[], timedOut: boolean, message: string) {
    super(ClientErrorCode.CONNECT_FAILED, timedOut ? ErrorCode.TIMEOUT : ErrorCode.UNAVAILABLE, message, {
      cause: new AggregateError(
        failures.map((f) => f.error),
        message,
      ),
    });
    this.name = 'ConnectRaceError';
    this.failures = failures;
    this.timedOut = timedOut;
  }
}

/** The error to reject with when `signal` aborted: its reason when that is an Error. */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error('aborted', { cause: reason });
}

/** A short description of an error for messages: its code (if any) and message. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' && !error.message.includes(code) ? `${code} ${error.message}` : error.message;
  }
  return String(error);
}
