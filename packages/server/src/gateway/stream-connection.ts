import type { Socket } from 'node:net';
import { type Frame, FrameDecoder, ProtocolError } from '@parley/protocol';
import type { Connection, ConnectionHandler, TransportKind } from './connection.js';
import { type TransportContext, formatRemote } from './transport.js';
import { TurnWrites } from './turn-writes.js';

const OPEN = 0;
/** close() was called: no more input is delivered, output is flushing. */
const CLOSING = 1;
/** The socket is gone and onClose has run. */
const CLOSED = 2;

const kConnection = Symbol('parley.connection');
type Carrier = Socket & { [kConnection]?: StreamConnection };

/**
 * A connection over a byte stream: a plain TCP socket or a TLS socket after its handshake.
 * Feeds a FrameDecoder and hands whole frames to the handler.
 *
 * Idle cost matters (the target is a few KB per logged-in connection, socket included): no
 * timers except while closing, no buffers while idle (the decoder allocates only for a frame
 * split across chunks), and the socket listeners are functions shared by all connections that
 * find their connection through a symbol on the socket, not closures made per socket.
 */
export class StreamConnection implements Connection {
  readonly remote: string;
  readonly #socket: Carrier;
  readonly #ctx: TransportContext;
  readonly #decoder: FrameDecoder;
  /** Frames written in one burst (see TurnWrites) leave in one socket write. */
  readonly #writes: TurnWrites;
  #handler: ConnectionHandler | undefined;
  #state = OPEN;
  #readStopped = false;
  #closeTimer: NodeJS.Timeout | undefined;

  /**
   * Wraps an accepted socket, asks the context's `accept` for its handler and starts reading.
   * If `accept` throws, the socket is destroyed and no handler callback ever runs.
   */
  constructor(socket: Socket, ctx: TransportContext) {
    this.#socket = socket;
    this.#ctx = ctx;
    this.remote = formatRemote(socket.remoteAddress, socket.remotePort);
    this.#decoder = new FrameDecoder({ maxBodyBytes: ctx.maxBodyBytes });
    this.#writes = new TurnWrites(socket);
    this.#socket[kConnection] = this;
    // 'close' follows every 'error', so errors need no handling beyond being caught.
    socket.on('error', StreamConnection.#onError);
    socket.on('close', StreamConnection.#onClose);
    socket.on('data', StreamConnection.#onData);
    this.#handler = ctx.opened(this);
    if (this.#handler === undefined) socket.destroy();
  }

  get transport(): TransportKind {
    return this.#ctx.transport;
  }

  get queuedBytes(): number {
    return this.#writes.queuedBytes;
  }

  send(frame: Uint8Array): boolean {
    if (this.#state !== OPEN || !this.#socket.writable) return false;
    this.#writes.write(frame);
    this.#ctx.framesOut.inc();
    this.#ctx.bytesOut.inc(frame.length);
    return this.#writes.queuedBytes <= this.#ctx.sendBudgetBytes;
  }

  close(): void {
    if (this.#state !== OPEN) return;
    this.#state = CLOSING;
    // Read (and discard) again after a protocol error so the peer's FIN is seen and the socket
    // closes as soon as the peer answers ours, not at the deadline.
    if (this.#readStopped) this.#socket.resume();
    this.#writes.flush();
    this.#socket.end();
    this.#closeTimer = setTimeout(StreamConnection.#expire, this.#ctx.closeTimeoutMs, this);
    this.#closeTimer.unref();
  }

  destroy(): void {
    if (this.#state === CLOSED) return;
    this.#socket.destroy();
  }

  #receive(chunk: Buffer): void {
    if (this.#state !== OPEN || this.#readStopped || this.#handler === undefined) return;
    this.#ctx.bytesIn.inc(chunk.length);
    const outer = StreamConnection.#current;
    StreamConnection.#current = this;
    try {
      this.#decoder.push(chunk, StreamConnection.#deliver);
    } catch (err) {
      this.#failed(err);
    } finally {
      StreamConnection.#current = outer;
    }
  }

  /** The decoder failed, or the handler threw from onFrame (the rest of the chunk is lost either way). */
  #failed(err: unknown): void {
    const handler = this.#handler;
    if (!(err instanceof ProtocolError) || handler === undefined) {
      this.#ctx.fault(this, err, 'onFrame');
      return;
    }
    // After close() input is discarded anyway, and reading must go on to see the peer's FIN.
    if (this.#state !== OPEN) return;
    this.#readStopped = true;
    this.#socket.pause();
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

  /** The connection whose chunk the decoder is working on (decoding is synchronous). */
  static #current: StreamConnection | undefined;

  static readonly #deliver = (frame: Frame): void => {
    const conn = StreamConnection.#current;
    // A handler that closed the connection on an earlier frame of this chunk gets no more.
    if (conn === undefined || conn.#state !== OPEN || conn.#handler === undefined) return;
    conn.#ctx.framesIn.inc();
    conn.#handler.onFrame(frame);
  };

  static readonly #onData = function (this: Carrier, chunk: Buffer): void {
    const conn = this[kConnection];
    if (conn !== undefined) conn.#receive(chunk);
  };

  static readonly #onClose = function (this: Carrier): void {
    const conn = this[kConnection];
    if (conn !== undefined) conn.#closed();
  };

  static readonly #onError = function (this: Carrier, err: NodeJS.ErrnoException): void {
    const conn = this[kConnection];
    if (conn === undefined) return;
    conn.#ctx.logger.debug({ remote: conn.remote, code: err.code, err: err.message }, 'socket error');
  };

  static readonly #expire = (conn: StreamConnection): void => {
    conn.#closeTimer = undefined;
    conn.#socket.destroy();
  };
}
