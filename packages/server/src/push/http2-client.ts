import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  connect,
  constants,
} from 'node:http2';

export interface Http2Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Http2ClientOptions {
  /** Extra trusted certificate authorities (PEM). */
  ca?: string | undefined;
  /** Streams open at once on the connection; the server's SETTINGS lower it further. */
  maxStreams?: number;
  /** Longest wait for one response. Default 30 s. */
  requestTimeoutMs?: number;
  /** Largest response body read; more is cut off. Default 64 KiB. */
  maxResponseBytes?: number;
  /** Called when a connection ends (GOAWAY, error, close): for logs and metrics. */
  onDisconnect?: (reason: string) => void;
}

/** A transport failure (no HTTP response): the caller may retry. */
export class Http2RequestError extends Error {
  constructor(
    message: string,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'Http2RequestError';
  }
}

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

const MAX_WAITERS = 10_000;

/**
 * One long-lived HTTP/2 connection to one origin, reused for every request, as APNs asks
 * providers to do. At most `maxStreams` requests run at once (the rest wait in order). On
 * GOAWAY, a socket error or close, the connection is dropped and the next request opens a
 * new one; requests the server refused unprocessed (streams above GOAWAY's last stream id,
 * REFUSED_STREAM) are sent again once on the new connection.
 */
export class Http2Client {
  #session: ClientHttp2Session | undefined;
  #active = 0;
  readonly #waiting: Waiter[] = [];
  #closed = false;
  /** Connections opened so far (tests watch reconnects). */
  connects = 0;

  constructor(
    readonly origin: string,
    private readonly options: Http2ClientOptions = {},
  ) {}

  async request(headers: OutgoingHttpHeaders, body: string | Uint8Array): Promise<Http2Response> {
    await this.#slot();
    try {
      try {
        return await this.#once(headers, body);
      } catch (err) {
        if (err instanceof Http2RequestError && err.code === 'REFUSED') return await this.#once(headers, body);
        throw err;
      }
    } finally {
      this.#release();
    }
  }

  /** Closes the connection; later requests fail. In-flight requests finish first. */
  close(): Promise<void> {
    this.#closed = true;
    for (const w of this.#waiting.splice(0)) w.reject(new Http2RequestError('client closed', 'CLOSED'));
    const session = this.#session;
    this.#session = undefined;
    if (!session || session.closed || session.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        session.destroy();
      }, 2_000);
      timer.unref();
      session.close(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #limit(): number {
    const remote = this.#session?.remoteSettings.maxConcurrentStreams;
    const own = this.options.maxStreams ?? 100;
    return Math.max(1, remote === undefined ? own : Math.min(own, remote));
  }

  #slot(): Promise<void> {
    if (this.#closed) return Promise.reject(new Http2RequestError('client closed', 'CLOSED'));
    if (this.#active < this.#limit()) {
      this.#active++;
      return Promise.resolve();
    }
    if (this.#waiting.length >= MAX_WAITERS) {
      return Promise.reject(new Http2RequestError('too many requests waiting for a stream', 'BUSY'));
    }
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next) next.resolve();
    else this.#active--;
  }

  #connection(): ClientHttp2Session {
    const current = this.#session;
    if (current && !current.closed && !current.destroyed) return current;
    const session = connect(this.origin, this.options.ca ? { ca: this.options.ca } : {});
    this.connects++;
    this.#session = session;
    const drop = (reason: string) => {
      if (this.#session === session) {
        this.#session = undefined;
        this.options.onDisconnect?.(reason);
      }
    };
    session.on('goaway', (code: number) => {
      drop(`goaway ${String(code)}`);
      // Streams the server will still answer finish; the connection closes after them.
      session.close();
    });
    session.on('error', (err: NodeJS.ErrnoException) => {
      drop(`error ${err.code ?? err.message}`);
    });
    session.on('close', () => {
      drop('close');
    });
    // An idle connection must not keep the process alive.
    session.unref();
    return session;
  }

  #once(headers: OutgoingHttpHeaders, body: string | Uint8Array): Promise<Http2Response> {
    return new Promise((resolve, reject) => {
      let stream: ClientHttp2Stream;
      try {
        stream = this.#connection().request({ ':method': 'POST', ...headers });
      } catch (err) {
        // The session was closing (GOAWAY arrived between the check and the request).
        this.#session = undefined;
        reject(new Http2RequestError('connection unusable', 'REFUSED', { cause: err }));
        return;
      }
      const limit = this.options.maxResponseBytes ?? 64 * 1024;
      const chunks: Buffer[] = [];
      let size = 0;
      let status = 0;
      let responseHeaders: IncomingHttpHeaders = {};
      let settled = false;
      const finish = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve({ status, headers: responseHeaders, body: Buffer.concat(chunks).toString('utf8') });
      };
      const timer = setTimeout(() => {
        stream.close(constants.NGHTTP2_CANCEL);
        finish(new Http2RequestError('request timed out', 'TIMEOUT'));
      }, this.options.requestTimeoutMs ?? 30_000);
      timer.unref();
      stream.on('response', (h) => {
        responseHeaders = h;
        status = h[':status'] ?? 0;
      });
      stream.on('data', (chunk: Buffer) => {
        if (size + chunk.length <= limit) chunks.push(chunk);
        size += chunk.length;
      });
      stream.on('end', () => {
        finish();
      });
      stream.on('error', (err: NodeJS.ErrnoException) => {
        finish(
          new Http2RequestError(
            `request failed: ${err.code ?? err.message}`,
            refused(stream, err) ? 'REFUSED' : 'STREAM',
            {
              cause: err,
            },
          ),
        );
      });
      stream.on('close', () => {
        if (status === 0) {
          finish(
            new Http2RequestError(
              `stream closed without a response (code ${String(stream.rstCode)})`,
              refused(stream) ? 'REFUSED' : 'STREAM',
            ),
          );
        } else {
          finish();
        }
      });
      stream.end(body);
    });
  }
}

/** Whether the server never processed the stream, so sending it again is safe. */
function refused(stream: ClientHttp2Stream, err?: NodeJS.ErrnoException): boolean {
  if (err?.code === 'ERR_HTTP2_GOAWAY_SESSION') return true;
  return stream.rstCode === constants.NGHTTP2_REFUSED_STREAM;
}
