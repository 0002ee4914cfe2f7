import {
  Command,
  type CommandWith,
  ErrorCode,
  Flags,
  type Frame,
  ParleyError,
  ProtocolError,
  type RequestOf,
  type ResponseInput,
  commandName,
  messageTypeFor,
} from '@parley/protocol';
import { TokenBucket } from '../session/rate-limit.js';
import { type Session, SessionState } from '../session/session.js';
import { handlers } from './table.js';

/** Commands with both a request and a response body: the ones a handler answers. */
export type RequestCommand = CommandWith<'request'> & CommandWith<'response'>;

/** Handles one request; returns the response body (status OK implied) or throws ParleyError. */
export type Handler<C extends RequestCommand> = (
  session: Session,
  request: RequestOf<C>,
) => Promise<ResponseInput<C>> | ResponseInput<C>;

/** Commands accepted before login. */
const PRE_LOGIN = new Set<number>([Command.LOGIN, Command.PING]);

/**
 * Routes one request frame to its handler: checks login and rate limits, decodes the body,
 * runs the handler and answers with the same seq (no answer when seq is 0). A body that does
 * not decode is a protocol error and ends the connection; a handler's ParleyError becomes the
 * response status; anything else is logged and answered as INTERNAL.
 */
export function dispatch(session: Session, frame: Frame): void {
  const { ctx } = session;
  if ((frame.flags & Flags.RESPONSE) !== 0) {
    session.onProtocolError(new ProtocolError(ErrorCode.UNKNOWN_COMMAND, 'clients do not send responses'));
    return;
  }
  const handler = handlers.get(frame.command);
  if (handler === undefined || messageTypeFor(frame.command, 'request') === undefined) {
    reply(session, frame, ErrorCode.UNKNOWN_COMMAND, `unknown command 0x${frame.command.toString(16)}`);
    return;
  }
  if (session.state !== SessionState.Active && !PRE_LOGIN.has(frame.command)) {
    session.preLoginFrames++;
    if (session.preLoginFrames > ctx.config.limits.preLoginFrames) {
      session.kick(ErrorCode.UNAUTHENTICATED, 'too many requests before login');
      return;
    }
    reply(session, frame, ErrorCode.UNAUTHENTICATED, 'log in first');
    return;
  }
  if (session.state === SessionState.Active) {
    const wait = takeToken(session, frame.command);
    if (wait > 0) {
      reply(session, frame, ErrorCode.RATE_LIMITED, 'too many requests', wait);
      return;
    }
  }
  let request: unknown;
  try {
    request = ctx.codec.decode(frame, 'request');
  } catch (err) {
    session.onProtocolError(err instanceof ProtocolError ? err : new ProtocolError(ErrorCode.BAD_BODY, String(err)));
    return;
  }
  if (frame.command === Command.SEND) {
    sendInOrder(session, frame, handler, request);
  } else {
    void runHandler(session, frame, handler, request);
  }
}

/**
 * SENDs of one session are stored in the order they arrived: each starts once the one before
 * has handed its append to group commit (or finished without one). Only that much is
 * serialised, so a session's messages in flight share a commit instead of waiting for each
 * other's fsync, and their acks leave together.
 */
function sendInOrder(session: Session, frame: Frame, handler: AnyHandler, request: unknown): void {
  let release!: () => void;
  const queued = new Promise<void>((resolve) => {
    release = resolve;
  });
  const previous = session.sendChain ?? Promise.resolve();
  session.sendChain = queued;
  void previous.then(() => {
    // The handler takes this synchronously (see handlers/messages.ts) and calls it once its
    // append is queued; the release after the handler covers every path that never appends.
    session.sendQueued = release;
    return runHandler(session, frame, handler, request).then(release, release);
  });
  void queued.then(() => {
    if (session.sendChain === queued) session.sendChain = undefined;
  });
}

async function runHandler(session: Session, frame: Frame, handler: AnyHandler, request: unknown): Promise<void> {
  const { ctx } = session;
  try {
    const response = await handler(session, request as never);
    if (frame.seq !== 0) {
      session.sendFrame(ctx.codec.response(frame.command as RequestCommand, frame.seq, response as never));
    }
  } catch (err) {
    if (err instanceof ParleyError) {
      ctx.metrics.errors.inc({ code: err.codeName });
      reply(session, frame, err.code, err.message, err.code === ErrorCode.UNAVAILABLE ? 1000 : 0);
      return;
    }
    ctx.logger.error({ err, command: commandName(frame.command), user: session.userId }, 'handler failed');
    ctx.metrics.errors.inc({ code: 'INTERNAL' });
    reply(session, frame, ErrorCode.INTERNAL, 'internal error');
  }
}

function reply(session: Session, frame: Frame, code: ErrorCode, message: string, retryAfterMs = 0): void {
  if (frame.seq === 0) return;
  session.sendFrame(session.ctx.codec.errorResponse(frame.command, frame.seq, { code, message, retryAfterMs }));
}

function takeToken(session: Session, command: number): number {
  const now = Date.now();
  const limits = session.ctx.config.limits;
  session.requestBucket ??= new TokenBucket(limits.requestsPerSecond, limits.requestBurst, now);
  const wait = session.requestBucket.take(now);
  if (wait > 0 || command !== Command.SEND) return wait;
  session.sendBucket ??= new TokenBucket(limits.sendsPerSecond, limits.sendBurst, now);
  return session.sendBucket.take(now);
}

export type AnyHandler = (session: Session, request: never) => unknown;
