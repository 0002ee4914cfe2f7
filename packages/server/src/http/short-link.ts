import {
  ErrorCode,
  FRAME_CONTENT_TYPE,
  type Frame,
  FrameDecoder,
  ParleyError,
  ProtocolError,
  SHORT_LINK_COMMANDS,
  SHORT_LINK_MAX_FRAMES,
  SHORT_LINK_PATH,
  pb,
} from '@parley/protocol';
import { ulid } from 'ulid';
import { validId } from '../auth/tokens.js';
import type { Connection } from '../gateway/connection.js';
import { dispatch } from '../handlers/dispatch.js';
import { Session, SessionState } from '../session/session.js';
import type { TokenBucket } from '../session/rate-limit.js';
import type { HttpApiParts } from './api.js';
import { readBody } from './body.js';
import { errorResponse } from './errors.js';
import { route, type AnyRoute } from './route.js';

const ANSWER_TIMEOUT_MS = 15_000;
/** Users whose short-link rate limits are remembered (least recently used dropped first). */
const MAX_TRACKED_USERS = 10_000;

/**
 * The short link: when the long link cannot be established, a client posts the same request
 * frames over HTTP and gets the response frames back. `POST /v1/link` with the user's token
 * as `Authorization: Bearer <token>`, the device id in `X-Parley-Device` (unless the token
 * names one), and a body of up to 32 request frames. The handlers, rules and limits are those
 * of the long link; pushes do not travel this way (sync instead).
 */
export function shortLinkRoute(parts: HttpApiParts, maxBodyBytes: number): AnyRoute {
  const { ctx } = parts;
  const buckets = new Map<string, { request?: TokenBucket; send?: TokenBucket }>();
  return route({
    method: 'post',
    path: SHORT_LINK_PATH,
    operationId: 'shortLink',
    tag: 'short link',
    summary: 'Carry protocol requests over HTTP when the long link is down',
    description:
      'Body: request frames exactly as on the long link (docs/protocol.md), content type application/x-parley-frame. ' +
      'Answer: their response frames, in completion order (match them by seq). Authorization: Bearer <user token>; ' +
      'X-Parley-Device: the device id. LOGIN, rooms and presence subscriptions need the long link.',
    admin: false,
    ok: { description: 'Response frames', contentType: FRAME_CONTENT_TYPE },
    errors: { 401: 'Missing, invalid or expired user token', 413: 'Body too large' },
    async handle({ c }) {
      const token = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '')?.[1];
      if (!token)
        throw new ParleyError(ErrorCode.UNAUTHENTICATED, 'send the user token as "Authorization: Bearer <token>"');
      const identity = await ctx.tokens.verify(token);
      const deviceId = identity.deviceId ?? c.req.header('x-parley-device') ?? '';
      if (!validId(deviceId))
        throw new ParleyError(ErrorCode.INVALID_ARGUMENT, 'send the device id in X-Parley-Device');
      const body = await readBody(c.req.raw, maxBodyBytes);
      const frames: Frame[] = [];
      try {
        new FrameDecoder({ maxBodyBytes: ctx.config.limits.maxFrameBytes }).push(body, (f) => frames.push(f));
      } catch (err) {
        if (err instanceof ProtocolError) return errorResponse(ErrorCode.BAD_BODY, err.message);
        throw err;
      }
      if (frames.length === 0 || frames.length > SHORT_LINK_MAX_FRAMES) {
        throw new ParleyError(ErrorCode.INVALID_ARGUMENT, `send 1 to ${String(SHORT_LINK_MAX_FRAMES)} whole frames`);
      }

      const out = new HttpCollector();
      const session = new Session(ctx, out);
      session.id = `http-${ulid()}`;
      session.userId = identity.userId;
      session.deviceId = deviceId;
      session.platform = pb.Platform.PLATFORM_UNSPECIFIED;
      session.state = SessionState.Active;
      const limits = rememberUser(buckets, identity.userId);
      session.requestBucket = limits.request;
      session.sendBucket = limits.send;

      const awaited = new Set<number>();
      for (const frame of frames) {
        if (frame.seq !== 0) awaited.add(frame.seq);
        if (!SHORT_LINK_COMMANDS.has(frame.command)) {
          if (frame.seq !== 0) {
            out.send(
              ctx.codec.errorResponse(frame.command, frame.seq, {
                code: ErrorCode.UNSUPPORTED,
                message: 'this request needs the long link',
              }),
            );
          }
          continue;
        }
        dispatch(session, frame);
      }
      await out.answered(awaited, ANSWER_TIMEOUT_MS);
      limits.request = session.requestBucket;
      limits.send = session.sendBucket;
      return new Response(Buffer.concat(out.frames), { status: 200, headers: { 'content-type': FRAME_CONTENT_TYPE } });
    },
  });
}

function rememberUser(
  buckets: Map<string, { request?: TokenBucket; send?: TokenBucket }>,
  userId: string,
): { request?: TokenBucket; send?: TokenBucket } {
  const entry = buckets.get(userId) ?? {};
  buckets.delete(userId);
  buckets.set(userId, entry); // most recently used last
  if (buckets.size > MAX_TRACKED_USERS) {
    const oldest = buckets.keys().next();
    if (!oldest.done) buckets.delete(oldest.value);
  }
  return entry;
}

/** The "connection" of a short-link call: collects what the handlers answer. */
class HttpCollector implements Connection {
  readonly transport = 'http' as const;
  readonly remote = 'http';
  readonly queuedBytes = 0;
  readonly frames: Uint8Array[] = [];
  #seen = new Set<number>();
  #wake: (() => void) | undefined;

  send(frame: Uint8Array): boolean {
    this.frames.push(frame);
    if (frame.length >= 10) this.#seen.add(new DataView(frame.buffer, frame.byteOffset).getUint32(6));
    this.#wake?.();
    return true;
  }

  /** Resolves once every awaited seq has its response, or at the timeout. */
  async answered(seqs: Set<number>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ([...seqs].some((s) => !this.#seen.has(s)) && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        setTimeout(resolve, Math.max(1, deadline - Date.now())).unref();
      });
    }
  }

  close(): void {
    // Nothing to close: the HTTP response ends the exchange.
  }

  destroy(): void {
    // As close().
  }
}
