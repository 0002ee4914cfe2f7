import { Command, ErrorCode, type Frame, type FrameCodec, errorCodeName, pb } from '@parley/protocol';
import { ClientError, ClientErrorCode } from '../errors.js';

/** Calls the app's token provider; any failure becomes PARLEY_ERR_TOKEN_PROVIDER. */
export async function fetchToken(provider: () => Promise<string>): Promise<string> {
  let token: unknown;
  try {
    token = await provider();
  } catch (err) {
    const message = `the token provider failed: ${err instanceof Error ? err.message : String(err)}`;
    throw new ClientError(ClientErrorCode.TOKEN_PROVIDER, ErrorCode.TOKEN_INVALID, message, { cause: err });
  }
  if (typeof token !== 'string' || token.length === 0) {
    throw new ClientError(
      ClientErrorCode.TOKEN_PROVIDER,
      ErrorCode.TOKEN_INVALID,
      'the token provider returned no token',
    );
  }
  return token;
}

/**
 * What to do after a refused LOGIN:
 * - `refresh`: the token expired or was refused; get a new one and log in again on the same link.
 * - `stop`: retrying cannot help (a malformed request such as a bad device id).
 * - `retry`: reconnect with backoff and tell the app (`error` event).
 * - `retry-quietly`: reconnect with backoff; the server is draining or busy, which is routine.
 */
export type LoginOutcome = 'refresh' | 'stop' | 'retry' | 'retry-quietly';

export type LoginAnswer = { ok: true; body: pb.LoginResponse } | { ok: false; error: ClientError; then: LoginOutcome };

/** Reads a LOGIN answer. `refreshed`: the token was renewed for this attempt already. Throws ProtocolError on bad bytes. */
export function readLoginAnswer(codec: FrameCodec, frame: Frame, refreshed: boolean): LoginAnswer {
  const status = codec.responseStatus(frame);
  const code = status.code;
  if (code === ErrorCode.OK) return { ok: true, body: codec.decodeResponse(Command.LOGIN, frame) };
  const message = `login refused: ${errorCodeName(code)} ${status.message}`.trimEnd();
  const error = new ClientError(ClientErrorCode.LOGIN_FAILED, code, message, { retryAfterMs: status.retryAfterMs });
  let then: LoginOutcome = 'retry';
  if (code === ErrorCode.TOKEN_EXPIRED || code === ErrorCode.TOKEN_INVALID) then = refreshed ? 'retry' : 'refresh';
  else if (code === ErrorCode.INVALID_ARGUMENT) then = 'stop';
  else if (code === ErrorCode.SHUTTING_DOWN || code === ErrorCode.UNAVAILABLE || code === ErrorCode.RATE_LIMITED) {
    then = 'retry-quietly';
  }
  return { ok: false, error, then };
}

/** The server's limits from a login answer, with defaults for anything unset. */
export function limitsOf(body: pb.LoginResponse): pb.ServerLimits {
  return pb.ServerLimits.create(body.limits ?? {});
}
