// A bare request/response session over one link, for diagnosis: no heartbeat, no reconnect,
// nothing sent unless asked (a NAT probe needs the link silent).
import type { Socket } from 'node:net';
import type { Link, LinkHandlers } from '@parley/client';
import {
  Command,
  type CommandWith,
  ErrorCode,
  Flags,
  type Frame,
  FrameCodec,
  FrameDecoder,
  MAX_SEQ,
  ParleyError,
  type RequestInput,
  type ResponseOf,
  errorCodeName,
  pb,
} from '@parley/protocol';
import { describe as describeCause } from './report.js';

/** A Link over a socket that is already connected (and, for TLS, past its handshake). */
export function streamLink(socket: Socket, remote: string, handlers: LinkHandlers): Link {
  const decoder = new FrameDecoder();
  let open = true;
  let lastError: Error | undefined;
  const end = (error: Error | undefined) => {
    if (!open) return;
    open = false;
    socket.destroy();
    handlers.onClose(error);
  };
  socket.setNoDelay(true);
  socket.on('data', (chunk: Buffer) => {
    if (!open) return;
    try {
      decoder.push(chunk, (frame) => {
        if (open) handlers.onFrame(frame);
      });
    } catch (err) {
      end(err instanceof Error ? err : new Error(String(err)));
    }
  });
  socket.on('error', (err) => {
    lastError ??= err;
  });
  socket.on('close', () => {
    end(lastError);
  });
  return {
    remote,
    get bufferedAmount() {
      return socket.writableLength;
    },
    send(frame) {
      if (!open || socket.destroyed) return false;
      socket.write(frame);
      return true;
    },
    close() {
      open = false;
      socket.destroy();
    },
  };
}

/** The link ended (peer closed, network error, KICK) while a request waited. */
export class LinkClosedError extends Error {
  /** The KICK reason, when the server said why. */
  readonly kick: ErrorCode | undefined;

  constructor(message: string, kick?: ErrorCode, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LinkClosedError';
    this.kick = kick;
  }
}

interface Pending {
  resolve: (frame: Frame) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Requests matched to responses by seq over one link. Pushes are counted (a push breaks a
 * probe's silence) and a KICK is remembered, so a closed link can say why it closed.
 */
export class FrameSession {
  /** Pushes received so far, KICK included. */
  pushes = 0;
  /** Pass to the transport's connect; the session reads the link through them. */
  readonly handlers: LinkHandlers;
  /** Resolves when the link ends by itself (not by `close()`), with the reason when known. */
  readonly closed: Promise<Error>;
  readonly #codec = new FrameCodec();
  readonly #pending = new Map<number, Pending>();
  #link: Link | undefined;
  #seq = 0;
  #ended: Error | undefined;
  #kick: pb.Kick | undefined;
  #onClosed: (error: Error) => void = () => undefined;

  constructor() {
    this.closed = new Promise((resolve) => (this.#onClosed = resolve));
    this.handlers = {
      onFrame: (frame) => {
        this.#onFrame(frame);
      },
      onClose: (error) => {
        this.#end(this.#closeError(error));
      },
    };
  }

  /** Hands the session its link, once the transport connected with `handlers`. */
  attach(link: Link): this {
    this.#link = link;
    return this;
  }

  /** Sends a request; resolves with its body, rejects with a ParleyError on an error status or an Error on timeout or close. */
  request<C extends CommandWith<'request'> & CommandWith<'response'>>(
    command: C,
    body: RequestInput<C>,
    timeoutMs: number,
  ): Promise<ResponseOf<C>> {
    const link = this.#link;
    if (this.#ended) return Promise.reject(this.#ended);
    if (!link) return Promise.reject(new Error('not connected'));
    this.#seq = this.#seq >= MAX_SEQ ? 1 : this.#seq + 1;
    const seq = this.#seq;
    return new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(seq);
        const err = new Error(`no answer within ${String(timeoutMs)} ms`);
        err.name = 'TimeoutError';
        reject(err);
      }, timeoutMs);
      this.#pending.set(seq, { resolve, reject, timer });
      link.send(this.#codec.request(command, seq, body));
    }).then((frame) => {
      const status = this.#codec.responseStatus(frame);
      if (status.code !== ErrorCode.OK) {
        throw new ParleyError(status.code, `${errorCodeName(status.code)} ${status.message}`.trimEnd());
      }
      return this.#codec.decodeResponse(command, frame);
    });
  }

  /** Logs in with a device id of its own (platform WEB, which session policies never replace). */
  login(token: string, deviceId: string, timeoutMs: number): Promise<pb.LoginResponse> {
    return this.request(
      Command.LOGIN,
      {
        token,
        deviceId,
        // WEB: the one platform `one-per-platform` policies exempt, so a diagnosis never
        // replaces the user's own phone or desktop session, nor another probe's.
        platform: pb.Platform.WEB,
        clientVersion: 'parley-netcheck/0.1.0',
        heartbeatIntervalMs: 60_000,
      },
      timeoutMs,
    );
  }

  /** Closes the link; pending requests reject. */
  close(): void {
    this.#link?.close();
    this.#end(new LinkClosedError('closed by netcheck'));
  }

  #onFrame(frame: Frame): void {
    if ((frame.flags & Flags.RESPONSE) !== 0) {
      const pending = this.#pending.get(frame.seq);
      if (!pending) return;
      this.#pending.delete(frame.seq);
      clearTimeout(pending.timer);
      pending.resolve(frame);
      return;
    }
    this.pushes++;
    if (frame.command === Command.KICK) {
      try {
        this.#kick = this.#codec.decodePush(Command.KICK, frame);
      } catch {
        // An undecodable KICK still ends the session; the close says the rest.
      }
    }
  }

  #closeError(error: Error | undefined): LinkClosedError {
    const kick = this.#kick;
    if (kick)
      return new LinkClosedError(`kicked: ${errorCodeName(kick.reason)} ${kick.message}`.trimEnd(), kick.reason);
    if (error) return new LinkClosedError(`connection lost: ${describeCause(error)}`, undefined, { cause: error });
    return new LinkClosedError('the connection was closed');
  }

  #end(error: Error): void {
    if (this.#ended) return;
    this.#ended = error;
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.#pending.clear();
    this.#onClosed(error);
  }
}
