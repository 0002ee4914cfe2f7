import {
  DEFAULT_MAX_BODY_BYTES,
  ErrorCode,
  FRAME_CONTENT_TYPE,
  type Frame,
  FrameDecoder,
  ProtocolError,
} from '@parley/protocol';
import { ClientError, ClientErrorCode } from '../errors.js';
import { fetchToken } from '../connection/login.js';

/**
 * A failed short-link call. `status` is the HTTP status (0 when no answer arrived); `code` the
 * wire code it means, which decides whether the requests may be tried again (`isRetryable`).
 */
export class ShortLinkError extends ClientError {
  readonly status: number;

  constructor(
    code: ErrorCode,
    status: number,
    message: string,
    options: { cause?: unknown; retryAfterMs?: number; command?: number } = {},
  ) {
    super(ClientErrorCode.SHORT_LINK, code, message, options);
    this.name = 'ShortLinkError';
    this.status = status;
  }
}

export interface HttpLinkOptions {
  /** The server's `POST /v1/link` URL. */
  url: string;
  /** The app's token provider (the same as the long link's); asked again after a 401. */
  token: () => Promise<string>;
  deviceId: string;
  /** Per call. Default 20 s (the server answers within 15 s). */
  timeoutMs?: number;
  /** Largest response frame body accepted. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Default: the global `fetch`. */
  fetch?: typeof fetch;
}

/**
 * One short-link exchange at a time per call: request frames in, response frames out, over
 * `POST /v1/link`. The token is fetched once and reused; a 401 renews it and tries once more.
 * Every failure is a {@link ShortLinkError}.
 */
export class HttpLink {
  readonly url: string;
  readonly #options: HttpLinkOptions;
  readonly #fetch: typeof fetch;
  #token: Promise<string> | undefined;

  constructor(options: HttpLinkOptions) {
    this.#options = options;
    this.url = options.url;
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
  }

  /** Posts the frames; resolves with the response frames the server sent (match them by seq). */
  async exchange(frames: readonly Uint8Array[], signal?: AbortSignal): Promise<Frame[]> {
    const body = concat(frames);
    const used = this.#currentToken();
    const first = await this.#post(body, await used, false, signal);
    if (first !== 'unauthorized') return first;
    // Expired or refused: ask the app for a new one, once (unless a concurrent call already did).
    if (this.#token === used) this.#token = undefined;
    const second = await this.#post(body, await this.#currentToken(), true, signal);
    if (second === 'unauthorized') throw new Error('unreachable'); // #post throws on a second 401
    return second;
  }

  async #post(
    body: Uint8Array<ArrayBuffer>,
    token: string,
    refreshed: boolean,
    signal: AbortSignal | undefined,
  ): Promise<Frame[] | 'unauthorized'> {
    const timeoutMs = this.#options.timeoutMs ?? 20_000;
    const timeout = new AbortController();
    const timer = setTimeout(() => {
      timeout.abort();
    }, timeoutMs);
    const onAbort = (): void => {
      timeout.abort();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    // Aborted while the token was fetched: the listener above will not fire, so do not start the call.
    if (signal?.aborted) onAbort();
    const url = this.url;
    try {
      let response: Response;
      let bytes: Uint8Array;
      try {
        response = await this.#fetch(url, {
          method: 'POST',
          body,
          headers: {
            'content-type': FRAME_CONTENT_TYPE,
            accept: FRAME_CONTENT_TYPE,
            authorization: `Bearer ${token}`,
            'x-parley-device': this.#options.deviceId,
          },
          signal: timeout.signal,
        });
        bytes = new Uint8Array(await response.arrayBuffer());
      } catch (err) {
        if (signal?.aborted) {
          throw new ShortLinkError(ErrorCode.UNAVAILABLE, 0, `short link to ${url}: aborted`, { cause: signal.reason });
        }
        if (timeout.signal.aborted) {
          throw new ShortLinkError(
            ErrorCode.TIMEOUT,
            0,
            `short link to ${url}: no answer within ${String(timeoutMs)} ms`,
          );
        }
        throw new ShortLinkError(ErrorCode.UNAVAILABLE, 0, `short link to ${url}: ${describe(err)}`, { cause: err });
      }
      if (response.status === 200) return this.#frames(response, bytes);
      const refused = serverError(bytes);
      if (response.status === 401) {
        if (!refreshed) return 'unauthorized';
        const code = refused?.code ?? ErrorCode.UNAUTHENTICATED;
        throw new ShortLinkError(code, 401, `short link refused the token: ${refused?.message ?? 'HTTP 401'}`);
      }
      throw statusError(url, response, refused);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  #frames(response: Response, bytes: Uint8Array): Frame[] {
    const type = response.headers.get('content-type') ?? '';
    if (!type.startsWith(FRAME_CONTENT_TYPE)) {
      // A captive portal or a proxy answering for the server: try again later.
      throw new ShortLinkError(
        ErrorCode.UNAVAILABLE,
        200,
        `short link to ${this.url}: answered ${type || 'no content type'}, not frames`,
      );
    }
    const frames: Frame[] = [];
    const decoder = new FrameDecoder({ maxBodyBytes: this.#options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES });
    try {
      decoder.push(bytes, (frame) => frames.push(frame));
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      throw new ShortLinkError(ErrorCode.UNAVAILABLE, 200, `short link to ${this.url}: bad frames: ${err.message}`, {
        cause: err,
      });
    }
    if (decoder.bufferedBytes > 0) {
      throw new ShortLinkError(ErrorCode.UNAVAILABLE, 200, `short link to ${this.url}: the answer ends inside a frame`);
    }
    return frames;
  }

  #currentToken(): Promise<string> {
    let current = this.#token;
    if (current === undefined) {
      const asked = fetchToken(this.#options.token);
      this.#token = current = asked;
      // A failed provider call is not kept: the next call asks again.
      asked.catch(() => {
        if (this.#token === asked) this.#token = undefined;
      });
    }
    return current;
  }
}

/** The `{error: {code, status, message}}` body of an HTTP API error, if that is what came back. */
function serverError(bytes: Uint8Array): { code: ErrorCode; message: string } | undefined {
  try {
    const json = JSON.parse(new TextDecoder().decode(bytes)) as { error?: { code?: unknown; message?: unknown } };
    const name = json.error?.code;
    if (typeof name !== 'string' || !Object.hasOwn(ErrorCode, name)) return undefined;
    const code = ErrorCode[name as keyof typeof ErrorCode];
    // A numeric string ("3001") names no code: the enum also maps numbers back to names.
    if (typeof (code as unknown) !== 'number') return undefined;
    return { code, message: typeof json.error?.message === 'string' ? json.error.message : '' };
  } catch {
    return undefined;
  }
}

function statusError(
  url: string,
  response: Response,
  refused: { code: ErrorCode; message: string } | undefined,
): ShortLinkError {
  const status = response.status;
  const detail = `short link to ${url}: HTTP ${String(status)}${refused ? ` ${refused.message}` : ''}`;
  if (status === 429) {
    return new ShortLinkError(ErrorCode.RATE_LIMITED, status, detail, { retryAfterMs: retryAfterMs(response) });
  }
  // 413: the batch (or a proxy's body limit) was too big; smaller batches or the long link may take it.
  if (status === 413 || status >= 500) {
    return new ShortLinkError(ErrorCode.UNAVAILABLE, status, detail, { retryAfterMs: retryAfterMs(response) });
  }
  // Other 4xx: the server refuses the call as made (a bad device id, a bad body): not worth repeating.
  return new ShortLinkError(refused?.code ?? ErrorCode.INVALID_ARGUMENT, status, detail);
}

/** `Retry-After` in ms (seconds or an HTTP date), 0 when absent. */
function retryAfterMs(response: Response): number {
  const value = response.headers.get('retry-after');
  if (!value) return 0;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? 0 : Math.max(0, at - Date.now());
}

/** One body for the call (a copy: fetch wants a plain ArrayBuffer view, and the frames may be reused). */
function concat(frames: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  let size = 0;
  for (const f of frames) size += f.length;
  const out = new Uint8Array(size);
  let off = 0;
  for (const f of frames) {
    out.set(f, off);
    off += f.length;
  }
  return out;
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? `${err.message} (${cause.message})` : err.message;
}
