import {
  type CommandWith,
  type MessageType,
  type PushInput,
  type PushOf,
  type RequestInput,
  type RequestOf,
  type ResponseInput,
  type ResponseOf,
  type Role,
  commandName,
  messageTypeFor,
} from './commands.js';
import { type BodyCompression, type CompressionLevel, fflateCompression } from './compression.js';
import { ErrorCode, ParleyError, ProtocolError } from './errors.js';
import type { Frame } from './frame.js';
import { DEFAULT_MAX_BODY_BYTES, Flags, HEADER_SIZE, MAX_SEQ, writeHeader } from './header.js';
import protobuf from 'protobufjs/minimal.js';
import { pb } from './schema.js';

export interface CodecOptions {
  /** Largest body this side sends or accepts, compressed or not. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Bodies of at least this many bytes are sent deflated when that makes them smaller. Default: never. */
  compressAboveBytes?: number;
  /** DEFLATE level for compressed bodies (1 fastest .. 9 smallest). Default 6. */
  compressionLevel?: CompressionLevel;
  /** DEFLATE implementation. Default: fflate (pure JavaScript, works in browsers). */
  compression?: BodyCompression;
}

/** Who sent a frame; with the RESPONSE flag it decides the frame's role. */
export type Sender = 'client' | 'server';

/** The role of a frame: a response if flagged, else a request from a client or a push from a server. */
export function roleOf(frame: Frame, sender: Sender): Role {
  if ((frame.flags & Flags.RESPONSE) !== 0) return 'response';
  return sender === 'client' ? 'request' : 'push';
}

/** Status for a response: OK, or an error code with its detail. */
export interface StatusInput {
  code: ErrorCode;
  message?: string;
  retryAfterMs?: number;
}

const HEADER_PLACEHOLDER = new Uint8Array(HEADER_SIZE);
// A writer grown past this by a large body is dropped rather than kept for the next frame.
const WRITER_KEEP_BYTES = 64 * 1024;

/**
 * Encodes and decodes whole frames with Protocol Buffers bodies (protobufjs static code).
 * This class is the one place that knows the body codec: swap it here and nothing else moves.
 *
 * Encoding writes the header placeholder and the body into one reused buffer and copies the
 * result out once, so a frame costs one allocation of exactly its size.
 */
export class FrameCodec {
  readonly maxBodyBytes: number;
  readonly compressAboveBytes: number;
  readonly compressionLevel: CompressionLevel;
  readonly #compression: BodyCompression;
  #writer = protobuf.Writer.create();

  constructor(options: CodecOptions = {}) {
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.compressAboveBytes = options.compressAboveBytes ?? Number.POSITIVE_INFINITY;
    this.compressionLevel = options.compressionLevel ?? 6;
    this.#compression = options.compression ?? fflateCompression;
  }

  /** A request frame. `seq` 0 asks for no response (one-way, e.g. typing). */
  request<C extends CommandWith<'request'>>(command: C, seq: number, message: RequestInput<C>): Uint8Array {
    return this.#encode(command, seq, 0, 'request', message);
  }

  /** The response to the request `(command, seq)`. Give `status` for errors; OK when absent. */
  response<C extends CommandWith<'response'>>(command: C, seq: number, message: ResponseInput<C>): Uint8Array {
    return this.#encode(command, seq, Flags.RESPONSE, 'response', message);
  }

  /** A server push. */
  push<C extends CommandWith<'push'>>(command: C, message: PushInput<C>, seq = 0): Uint8Array {
    return this.#encode(command, seq, 0, 'push', message);
  }

  /**
   * An error response to any request, even one whose command this side does not know: every
   * response body starts with `Status status = 1`, so it decodes as the command's response type.
   */
  errorResponse(command: number, seq: number, status: StatusInput): Uint8Array {
    return this.#encodeWith(pb.ResponseHead, command, seq, Flags.RESPONSE, { status });
  }

  decodeRequest<C extends CommandWith<'request'>>(command: C, frame: Frame): RequestOf<C> {
    return this.decode(frame, 'request', command) as RequestOf<C>;
  }

  decodeResponse<C extends CommandWith<'response'>>(command: C, frame: Frame): ResponseOf<C> {
    return this.decode(frame, 'response', command) as ResponseOf<C>;
  }

  decodePush<C extends CommandWith<'push'>>(command: C, frame: Frame): PushOf<C> {
    return this.decode(frame, 'push', command) as PushOf<C>;
  }

  /** The status of any response frame, without knowing its command. */
  responseStatus(frame: Frame): pb.Status {
    const head = decodeWith(pb.ResponseHead, this.#plainBody(frame), frame.command);
    return pb.Status.create(head.status ?? { code: ErrorCode.OK });
  }

  /**
   * Decodes a frame's body as (command, role). Throws ProtocolError: UNKNOWN_COMMAND when the
   * pair does not exist, DECOMPRESS_FAILED or BAD_BODY when the bytes are wrong.
   */
  decode(frame: Frame, role: Role, expected?: number): unknown {
    if (expected !== undefined && frame.command !== expected) {
      throw new ProtocolError(
        ErrorCode.UNKNOWN_COMMAND,
        `expected command ${describe(expected)}, got ${describe(frame.command)}`,
      );
    }
    const type = messageTypeFor(frame.command, role);
    if (type === undefined) {
      throw new ProtocolError(
        ErrorCode.UNKNOWN_COMMAND,
        `no ${role} body is defined for command ${describe(frame.command)}`,
      );
    }
    return decodeWith(type, this.#plainBody(frame), frame.command);
  }

  #plainBody(frame: Frame): Uint8Array {
    if ((frame.flags & Flags.COMPRESSED) === 0) return frame.body;
    return this.#compression.inflate(frame.body, this.maxBodyBytes);
  }

  #encode(command: number, seq: number, flags: number, role: Role, message: unknown): Uint8Array {
    const type = messageTypeFor(command, role);
    if (type === undefined) {
      throw new ParleyError(ErrorCode.INVALID_ARGUMENT, `no ${role} body is defined for command ${describe(command)}`);
    }
    return this.#encodeWith(type, command, seq, flags, message);
  }

  #encodeWith(type: MessageType<unknown>, command: number, seq: number, flags: number, message: unknown): Uint8Array {
    if (!Number.isInteger(command) || command < 0 || command > 0xffff) {
      throw new ParleyError(ErrorCode.INVALID_ARGUMENT, `command must be a u16, got ${String(command)}`);
    }
    if (!Number.isInteger(seq) || seq < 0 || seq > MAX_SEQ) {
      throw new ParleyError(ErrorCode.INVALID_ARGUMENT, `seq must be a u32, got ${String(seq)}`);
    }
    const writer = this.#writer;
    let frame: Uint8Array;
    try {
      writer.reset();
      writer.raw(HEADER_PLACEHOLDER);
      type.encode(message, writer);
      // Copied out of the writer into a plain Uint8Array: writer.finish() would return a Node
      // Buffer, pooled below 4 KiB (a slice of a shared slab, whose .slice() does not copy).
      frame = new Uint8Array(writer.finish(true));
    } catch (err) {
      this.#writer = protobuf.Writer.create(); // a failed encode may leave forks open
      throw new ParleyError(ErrorCode.INVALID_ARGUMENT, `cannot encode ${describe(command)} body`, { cause: err });
    }
    if (writer.buf.length > WRITER_KEEP_BYTES) this.#writer = protobuf.Writer.create();

    let length = frame.length - HEADER_SIZE;
    // Checked before compression: the receiver inflates the body and refuses it past the same
    // maximum, so a body that only fits once deflated would be undecodable on the other side.
    if (length > this.maxBodyBytes) {
      throw new ParleyError(
        ErrorCode.MESSAGE_TOO_LARGE,
        `${describe(command)} body of ${String(length)} bytes exceeds the maximum of ${String(this.maxBodyBytes)}`,
      );
    }
    if (length >= this.compressAboveBytes) {
      const packed = this.#compression.deflate(frame.subarray(HEADER_SIZE), this.compressionLevel);
      if (packed.length < length) {
        const out = new Uint8Array(HEADER_SIZE + packed.length);
        out.set(packed, HEADER_SIZE);
        frame = out;
        length = packed.length;
        flags |= Flags.COMPRESSED;
      }
    }
    writeHeader(frame, 0, { command, seq, flags, length });
    return frame;
  }
}

function decodeWith<T>(type: MessageType<T>, body: Uint8Array, command: number): T {
  try {
    return type.decode(body);
  } catch (err) {
    throw new ProtocolError(ErrorCode.BAD_BODY, `body of ${describe(command)} is not a valid message`, {
      cause: err,
    });
  }
}

function describe(command: number): string {
  const hex = `0x${command.toString(16).padStart(4, '0')}`;
  const name = commandName(command);
  return name === undefined ? hex : `${name} (${hex})`;
}
