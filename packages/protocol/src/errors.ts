import { pb } from './schema.js';

/** Numeric error codes shared by frames, responses, kicks and the HTTP API. */
export const ErrorCode = pb.ErrorCode;
export type ErrorCode = pb.ErrorCode;

/** The stable name of a code (`"BAD_MAGIC"`), or `"UNKNOWN_<n>"` for a code this build does not know. */
export function errorCodeName(code: number): string {
  const name = (pb.ErrorCode as unknown as Record<number, string | undefined>)[code];
  return name ?? `UNKNOWN_${String(code)}`;
}

/**
 * Base class of every error Parley raises on purpose. `code` is the wire enum value,
 * `codeName` its stable string name; `cause` carries the underlying error when there is one.
 */
export class ParleyError extends Error {
  readonly code: ErrorCode;
  readonly codeName: string;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ParleyError';
    this.code = code;
    this.codeName = errorCodeName(code);
  }
}

/**
 * The peer broke the wire format: bad magic, unknown version, oversize or malformed frame,
 * undecodable body. The connection cannot continue after one of these.
 */
export class ProtocolError extends ParleyError {
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ProtocolError';
  }
}
