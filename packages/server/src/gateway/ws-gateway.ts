import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { ErrorCode, HEADER_SIZE, ProtocolError, decodeMessageFrame } from '@parley/protocol';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import type { Connection, ConnectionHandler, TransportKind } from './connection.js';
import { type GatewayBaseOptions, TransportContext, formatRemote } from './transport.js';
import { TurnWrites } from './turn-writes.js';

export const DEFAULT_WS_PATH = '/ws';

export interface WsGatewayOptions extends GatewayBaseOptions {
  /** The HTTP server whose upgrade requests carry the WebSocket connections. */
  httpServer: HttpServer;
  /** The one path accepted; other paths get 404. Default "/ws". */
  path?: string;
}

export interface WsGateway {
  readonly path: string;
  readonly connections: ReadonlySet<Connection>;
  /** Later upgrade requests get 503; live connections are left to the caller. */
  stopAccepting(): void;
}

/**
 * Serves WebSocket connections on `path` of an existing HTTP server: one binary message is
 * one frame. Per-message deflate is off (frames carry their own compression flag) and there
 * is no WebSocket-level ping (clients send application heartbeats).
 */
export function attachWsGateway(options: WsGatewayOptions): WsGateway {
  const ctx = new TransportContext('ws', options);
  const path = options.path ?? DEFAULT_WS_PATH;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxBodyBytes + HEADER_SIZE,
    perMessageDeflate: false,
    clientTracking: false,
  });
  let accepting = true;
  const upgraded = (ws: WebSocket, req: IncomingMessage): void => {
    new WsConnection(ws, req.socket, formatRemote(req.socket.remoteAddress, req.socket.remotePort), ctx);
  };
  options.httpServer.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!accepting) {
      refuse(socket, 503, 'Service Unavailable');
    } else if (pathOf(req.url) !== path) {
      refuse(socket, 404, 'Not Found');
    } else {
      wss.handleUpgrade(req, socket, head, upgraded);
    }
  });
  return {
    path,
    connections: ctx.live,
    stopAccepting() {
      accepting = false;
    },
  };
}

function pathOf(url: string | undefined): string {
  if (url === undefined) return '';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** Answers an upgrade request with a bare HTTP error and drops the socket once it is written. */
function refuse(socket: Duplex, status: number, reason: string): void {
  socket.on('error', ignore);
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.once('finish', destroyThis);
  socket.end(`HTTP/1.1 ${String(status)} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

function destroyThis(this: Duplex): void {
  this.destroy();
}

function ignore(): void {
  // Errors on a socket being refused change nothing.
}

const OPEN = 0;
const CLOSING = 1;
const CLOSED = 2;

const kConnection = Symbol('parley.connection');
type Carrier = WebSocket & { [kConnection]?: WsConnection };

/**
 * A connection over one WebSocket. Like StreamConnection it keeps no per-connection closures
 * or timers while open: the listeners are shared and find it through a symbol on the socket.
 */
export class WsConnection implements Connection {
  readonly remote: string;
  readonly #ws: Carrier;
  readonly #ctx: TransportContext;
  /** The upgraded socket under `ws`, corked per burst so a burst's frames leave in one write. */
  readonly #socket: Duplex;
  readonly #writes: TurnWrites;
  #handler: ConnectionHandler | undefined;
  #state = OPEN;
  #readStopped = false;
  #closeTimer: NodeJS.Timeout | undefined;

  /** `socket` is the upgraded socket ws writes its frames to (the upgrade request's socket). */
  constructor(ws: WebSocket, socket: Duplex, remote: string, ctx: TransportContext) {
    this.#ws = ws;
    this.#ctx = ctx;
    this.#socket = socket;
    this.#writes = new TurnWrites(socket);
    this.remote = remote;
    ws.binaryType = 'nodebuffer';
    this.#ws[kConnection] = this;
    ws.on('error', WsConnection.#onError);
    ws.on('close', WsConnection.#onClose);
    ws.on('message', WsConnection.#onMessage);
    this.#handler = ctx.opened(this);
    if (this.#handler === undefined) ws.terminate();
  }

  get transport(): TransportKind {
    return this.#ctx.transport;
  }

  get queuedBytes(): number {
    // What the cork holds back is not counted, as for StreamConnection.
    return Math.max(0, this.#ws.bufferedAmount - this.#writes.held);
  }

  send(frame: Uint8Array): boolean {
    const ws = this.#ws;
    if (this.#state !== OPEN || ws.readyState !== WebSocket.OPEN) return false;
    // ws writes each message (header and payload) to the socket at once, inside its own
    // cork; ours around it makes a burst's further messages one write.
    this.#writes.prepare();
    const before = this.#socket.writableLength;
    ws.send(frame);
    this.#writes.wrote(this.#socket.writableLength - before);
    this.#ctx.framesOut.inc();
    this.#ctx.bytesOut.inc(frame.length);
    return this.queuedBytes <= this.#ctx.sendBudgetBytes;
  }

  close(): void {
    if (this.#state !== OPEN) return;
    this.#state = CLOSING;
    // Read again after a protocol error, so the peer's close frame ends the handshake early.
    if (this.#readStopped) this.#ws.resume();
    this.#writes.flush();
    this.#ws.close(1000);
    this.#closeTimer = setTimeout(WsConnection.#expire, this.#ctx.closeTimeoutMs, this);
    this.#closeTimer.unref();
  }

  destroy(): void {
    if (this.#state === CLOSED) return;
    this.#ws.terminate();
  }

  #receive(data: RawData, isBinary: boolean): void {
    const handler = this.#handler;
    if (this.#state !== OPEN || this.#readStopped || handler === undefined) return;
    if (!isBinary) {
      this.#protocolError(
        new ProtocolError(
          ErrorCode.BAD_MAGIC,
          'not a Parley frame: a text WebSocket message (frames are binary messages)',
        ),
      );
      return;
    }
    const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    this.#ctx.bytesIn.inc(bytes.length);
    let frame;
    try {
      frame = decodeMessageFrame(bytes, this.#ctx.maxBodyBytes);
    } catch (err) {
      this.#protocolError(err instanceof ProtocolError ? err : internal(err));
      return;
    }
    this.#ctx.framesIn.inc();
    try {
      handler.onFrame(frame);
    } catch (err) {
      if (err instanceof ProtocolError) this.#protocolError(err);
      else this.#ctx.fault(this, err, 'onFrame');
    }
  }

  /** `pause` is false when ws itself failed the connection: it drains the socket as it closes. */
  #protocolError(err: ProtocolError, pause = true): void {
    const handler = this.#handler;
    // After close() input is discarded anyway, and reading must go on to finish the close handshake.
    if (this.#state !== OPEN || handler === undefined) return;
    this.#readStopped = true;
    if (pause) this.#ws.pause();
    try {
      handler.onProtocolError(err);
    } catch (fault) {
      this.#ctx.fault(this, fault, 'onProtocolError');
    }
  }

  #closed(): void {
    if (this.#state === CLOSED) return;
    this.#state = CLOSED;
    if (this.#closeTimer !== undefined) clearTimeout(this.#closeTimer);
    this.#closeTimer = undefined;
    const handler = this.#handler;
    this.#handler = undefined;
    if (handler !== undefined) this.#ctx.closed(this, handler);
  }

  static readonly #onMessage = function (this: Carrier, data: RawData, isBinary: boolean): void {
    const conn = this[kConnection];
    if (conn !== undefined) conn.#receive(data, isBinary);
  };

  static readonly #onClose = function (this: Carrier): void {
    const conn = this[kConnection];
    if (conn !== undefined) conn.#closed();
  };

  /**
   * ws reports a peer that broke the WebSocket protocol (oversize message, bad opcode, ...)
   * here and closes the connection itself; the handler still hears why.
   */
  static readonly #onError = function (this: Carrier, err: Error & { code?: string }): void {
    const conn = this[kConnection];
    if (conn === undefined || conn.#readStopped) return;
    const code = err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? ErrorCode.FRAME_TOO_LARGE : ErrorCode.BAD_MAGIC;
    conn.#protocolError(new ProtocolError(code, `WebSocket protocol error: ${err.message}`, { cause: err }), false);
  };

  static readonly #expire = (conn: WsConnection): void => {
    conn.#closeTimer = undefined;
    conn.#ws.terminate();
  };
}

function internal(err: unknown): ProtocolError {
  return new ProtocolError(ErrorCode.INTERNAL, 'frame decoder fault', { cause: err });
}
