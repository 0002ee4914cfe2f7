// Test stand-ins for a network in front of a real server: a TCP gate for the long link that
// drops every connection (or passes it through), and an HTTP proxy for the short link that
// forwards POST /v1/link to the server, counts the request frames it carried by command, and
// can answer with faults (5xx, 429, 413, a captive portal's HTML, bytes that are not frames).
import {
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
  createServer as createHttp,
} from 'node:http';
import { type AddressInfo, type Server, type Socket, createServer, connect } from 'node:net';
import { type Frame, FrameDecoder } from '@parley/protocol';

/** A TCP front for the long link: `drop` closes every connection at once, `pass` pipes it to the server. */
export class TcpGate {
  mode: 'drop' | 'pass' = 'drop';
  readonly #sockets = new Set<Socket>();
  private constructor(
    readonly server: Server,
    readonly target: number,
  ) {}

  static async start(target: number): Promise<TcpGate> {
    const server = createServer();
    const gate = new TcpGate(server, target);
    server.on('connection', (socket) => {
      gate.#accept(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return gate;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  #accept(socket: Socket): void {
    if (this.mode === 'drop') {
      socket.destroy();
      return;
    }
    const upstream = connect(this.target, '127.0.0.1');
    this.#sockets.add(socket).add(upstream);
    const end = (): void => {
      socket.destroy();
      upstream.destroy();
      this.#sockets.delete(socket);
      this.#sockets.delete(upstream);
    };
    socket.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    socket.pipe(upstream);
    upstream.pipe(socket);
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) =>
      this.server.close(() => {
        resolve();
      }),
    );
  }
}

/** What the proxy answers for one call: pass it on, or a fault. */
export type Fault = 'pass' | '500' | '503' | '429' | '413' | 'html' | 'bad-frames';

export class ShortLinkProxy {
  /** Faults for the next calls, in order; when empty, `fallback` applies. */
  readonly script: Fault[] = [];
  fallback: Fault = 'pass';
  /** Holds each passed call this long before forwarding it (a slow network). */
  delayMs = 0;
  /** Request frames forwarded to the server, by command. */
  readonly forwarded = new Map<number, number>();
  /** Frames per call, for every call that reached the proxy. */
  readonly callSizes: number[] = [];
  /** HTTP statuses answered, in order. */
  readonly statuses: number[] = [];
  /** Bearer tokens seen, in order. */
  readonly tokens: string[] = [];
  /** Each answered call's token and status, together (calls of several clients interleave). */
  readonly calls: { token: string; status: number }[] = [];

  private constructor(
    readonly server: HttpServer,
    readonly target: string,
  ) {}

  static async start(httpPort: number): Promise<ShortLinkProxy> {
    const target = `http://127.0.0.1:${String(httpPort)}/v1/link`;
    const holder: { proxy?: ShortLinkProxy } = {};
    const server = createHttp((req, res) => {
      void holder.proxy?.handle(req, res);
    });
    const proxy = new ShortLinkProxy(server, target);
    holder.proxy = proxy;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${String((this.server.address() as AddressInfo).port)}/v1/link`;
  }

  count(command: number): number {
    return this.forwarded.get(command) ?? 0;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const frames: Frame[] = [];
    try {
      new FrameDecoder().push(body, (f) => frames.push(f));
    } catch {
      // Counted as zero frames; the server answers 400.
    }
    this.callSizes.push(frames.length);
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    this.tokens.push(token);
    const fault = this.script.shift() ?? this.fallback;
    const answer = (status: number, type: string, data: string | Uint8Array, headers: Record<string, string> = {}) => {
      this.statuses.push(status);
      this.calls.push({ token, status });
      res.writeHead(status, { 'content-type': type, ...headers });
      res.end(data);
    };
    switch (fault) {
      case '500':
      case '503':
        answer(Number(fault), 'text/plain', 'upstream failed');
        return;
      case '429':
        answer(429, 'application/json', '{"error":{"code":"RATE_LIMITED","status":3001,"message":"slow down"}}', {
          'retry-after': '1',
        });
        return;
      case '413':
        answer(413, 'text/plain', 'too large');
        return;
      case 'html':
        answer(200, 'text/html', '<html><body>Sign in to the hotel Wi-Fi</body></html>');
        return;
      case 'bad-frames':
        answer(200, 'application/x-parley-frame', new Uint8Array([0x50, 0x4c, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 1]));
        return;
      case 'pass':
        break;
    }
    for (const f of frames) this.forwarded.set(f.command, (this.forwarded.get(f.command) ?? 0) + 1);
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    try {
      const upstream = await fetch(this.target, {
        method: 'POST',
        body,
        headers: {
          'content-type': req.headers['content-type'] ?? '',
          authorization: req.headers.authorization ?? '',
          'x-parley-device': String(req.headers['x-parley-device'] ?? ''),
        },
      });
      const bytes = new Uint8Array(await upstream.arrayBuffer());
      answer(upstream.status, upstream.headers.get('content-type') ?? '', bytes);
    } catch {
      answer(502, 'text/plain', 'bad gateway');
    }
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) =>
      this.server.close(() => {
        resolve();
      }),
    );
  }
}

/** A TCP port nothing listens on (taken from the OS, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  return port;
}
