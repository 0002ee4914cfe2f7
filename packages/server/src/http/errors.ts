import { ErrorCode, ParleyError, errorCodeName } from '@parley/protocol';
import { z } from 'zod';

/** The body of every error response. */
export const ErrorJson = z.object({
  error: z.object({
    code: z.string().describe('Stable name of the error code, e.g. NOT_FOUND'),
    status: z.number().int().describe('The numeric code shared with the wire protocol, e.g. 3002'),
    message: z.string().describe('Human-readable detail; never parse it'),
  }),
});
export type ErrorJson = z.infer<typeof ErrorJson>;

/** The HTTP status that fits a Parley error code. */
export function httpStatusOf(code: ErrorCode): number {
  switch (code) {
    case ErrorCode.INVALID_ARGUMENT:
    case ErrorCode.BAD_BODY:
    case ErrorCode.UNSUPPORTED:
      return 400;
    case ErrorCode.UNAUTHENTICATED:
    case ErrorCode.TOKEN_INVALID:
    case ErrorCode.TOKEN_EXPIRED:
      return 401;
    case ErrorCode.PERMISSION_DENIED:
    case ErrorCode.NOT_MEMBER:
    case ErrorCode.SPEAK_MUTED:
    case ErrorCode.HOOK_REJECTED:
      return 403;
    case ErrorCode.NOT_FOUND:
      return 404;
    case ErrorCode.ALREADY_EXISTS:
    case ErrorCode.MEMBER_LIMIT:
    case ErrorCode.RECALL_WINDOW_PASSED:
      return 409;
    case ErrorCode.MESSAGE_TOO_LARGE:
    case ErrorCode.FRAME_TOO_LARGE:
      return 413;
    case ErrorCode.RATE_LIMITED:
    case ErrorCode.TOO_MANY_SESSIONS:
      return 429;
    case ErrorCode.UNAVAILABLE:
    case ErrorCode.TIMEOUT:
    case ErrorCode.SHUTTING_DOWN:
      return 503;
    default:
      return 500;
  }
}

export function errorJson(code: ErrorCode, message: string): ErrorJson {
  return { error: { code: errorCodeName(code), status: code, message } };
}

/** A JSON error response for a Parley error code. */
export function errorResponse(code: ErrorCode, message: string, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(errorJson(code, message)), {
    status: httpStatusOf(code),
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  });
}

/** Describes zod issues in one line: `members: expected array, received string; name: too long`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 10)
    .map((i) => (i.path.length > 0 ? `${i.path.map(String).join('.')}: ${i.message}` : i.message))
    .join('; ');
}

export function invalidArgument(message: string): ParleyError {
  return new ParleyError(ErrorCode.INVALID_ARGUMENT, message);
}
