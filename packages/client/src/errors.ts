import { ErrorCode, ParleyError } from '@parley/protocol';

/**
 * Stable codes for failures the client itself detects. Each maps to the wire `ErrorCode` a
 * caller can branch on the same way as on a server's answer (`err.code`), while `clientCode`
 * says what actually happened.
 */
export const ClientErrorCode = {
  /** The server answered with an error status; `code` is the wire code. */
  SERVER: 'PARLEY_ERR_SERVER',
  /** No response within the task's `timeoutMs` (after its retries). Wire code TIMEOUT: the outcome is unknown. */
  TASK_TIMEOUT: 'PARLEY_ERR_TASK_TIMEOUT',
  /** The task waited (offline, queued or between retries) longer than its `maxAgeMs`. Wire code TIMEOUT, never sent or outcome unknown. */
  TASK_EXPIRED: 'PARLEY_ERR_TASK_EXPIRED',
  /** The link dropped while the request was in flight and no retry was left. Wire code UNAVAILABLE. */
  LINK_LOST: 'PARLEY_ERR_LINK_LOST',
  /** The connection was closed by the app (`close()`). Wire code UNAVAILABLE. */
  CLOSED: 'PARLEY_ERR_CLOSED',
  /** The server ended the session for good (KICK); `code` is the kick reason. */
  KICKED: 'PARLEY_ERR_KICKED',
  /** The transport could not connect, or its connect timed out. Wire code UNAVAILABLE. */
  CONNECT_FAILED: 'PARLEY_ERR_CONNECT_FAILED',
  /** LOGIN was refused or not answered in time; `code` is the server's code (TIMEOUT when unanswered). */
  LOGIN_FAILED: 'PARLEY_ERR_LOGIN_FAILED',
  /** The app's token provider threw or returned an empty token. Wire code TOKEN_INVALID. */
  TOKEN_PROVIDER: 'PARLEY_ERR_TOKEN_PROVIDER',
  /** No frame arrived within the ping timeout after a PING: the link is dead. Wire code TIMEOUT. */
  PING_TIMEOUT: 'PARLEY_ERR_PING_TIMEOUT',
  /** The server sent GOAWAY (draining); `code` is its reason, usually SHUTTING_DOWN. */
  GOAWAY: 'PARLEY_ERR_GOAWAY',
  /**
   * A short-link call (`POST /v1/link`) failed: no answer, an HTTP error status (`status` on the
   * `ShortLinkError`), or a body that is not response frames. `code` says what it means:
   * UNAVAILABLE (network, 5xx, garbage, 413), RATE_LIMITED (429), TIMEOUT, TOKEN_* (401 after
   * one refresh). Retryable when `code` is.
   */
  SHORT_LINK: 'PARLEY_ERR_SHORT_LINK',
  /**
   * A sync run or a conversation's pull could not finish (it is tried again on the next login,
   * wake-up, push or short-link poll). `code` is the cause's wire code (INTERNAL when the cause
   * is not a Parley error); retryable when that code is (TIMEOUT, UNAVAILABLE, ...).
   */
  SYNC: 'PARLEY_ERR_SYNC',
} as const;
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

/**
 * An error raised by the client SDK. `code` is a wire `ErrorCode` (what the failure means
 * for the caller), `clientCode` a stable string naming what the client saw, `cause` the
 * underlying error if any. `retryAfterMs` is the server's hint on RATE_LIMITED and UNAVAILABLE.
 */
export class ClientError extends ParleyError {
  readonly clientCode: ClientErrorCode;
  readonly retryAfterMs: number;
  /** The request's command, for task failures. */
  readonly command: number | undefined;

  constructor(
    clientCode: ClientErrorCode,
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; retryAfterMs?: number; command?: number } = {},
  ) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ClientError';
    this.clientCode = clientCode;
    this.retryAfterMs = options.retryAfterMs ?? 0;
    this.command = options.command;
  }
}

/** Wire codes after which a request may be sent again (the server says so, or the outcome is unknown). */
const RETRYABLE = new Set<ErrorCode>([
  ErrorCode.UNAVAILABLE,
  ErrorCode.TIMEOUT,
  ErrorCode.RATE_LIMITED,
  ErrorCode.SHUTTING_DOWN,
]);

/** Whether a request that failed with `err` may be retried as is. */
export function isRetryable(err: unknown): boolean {
  if (!(err instanceof ParleyError)) return false;
  if (err instanceof ClientError) {
    const c = err.clientCode;
    if (c === ClientErrorCode.LINK_LOST || c === ClientErrorCode.TASK_TIMEOUT) return true;
    // Sync only reads: a request that expired unanswered is as safe to repeat as one that timed out.
    if (c !== ClientErrorCode.SERVER && c !== ClientErrorCode.SHORT_LINK && c !== ClientErrorCode.SYNC) return false;
  }
  return RETRYABLE.has(err.code);
}

/** Kick reasons after which the client must not reconnect by itself. */
export const TERMINAL_KICKS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  ErrorCode.REPLACED_BY_DEVICE,
  ErrorCode.REPLACED_BY_PLATFORM,
  ErrorCode.KICKED_BY_ADMIN,
  ErrorCode.LOGGED_OUT,
]);
