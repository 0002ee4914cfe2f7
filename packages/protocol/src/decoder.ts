import { ErrorCode, ProtocolError } from './errors.js';
import { EMPTY_BODY, type Frame } from './frame.js';
import { DEFAULT_MAX_BODY_BYTES, type FrameHeader, HEADER_SIZE, checkHeaderPrefix, readHeader } from './header.js';

export interface FrameDecoderOptions {
  /** Largest body accepted; a header announcing more is refused before any body byte is kept. */
  maxBodyBytes?: number;
}

/**
 * Streaming frame decoder for byte streams (TCP, TLS). Feed it chunks of any size; it calls
 * back once per complete frame, in order. Sticky packets (many frames in one chunk) and half
 * packets (a frame over many chunks, down to one byte each) are both normal input.
 *
 * Guarantees:
 * - Memory: between calls it holds at most one partial header (14 bytes) and one partial
 *   body (no more than `maxBodyBytes`, allocated only once the header has been validated).
 *   An idle decoder holds no buffer at all.
 * - A frame that arrives whole in one chunk is delivered as a view into it (no copy).
 * - The only error it throws is `ProtocolError`. After one it is failed for good: the stream
 *   cannot be resynchronised, and every later `push` throws the same error. Frames completed
 *   before the bad bytes in the same chunk are delivered first.
 */
export class FrameDecoder {
  readonly maxBodyBytes: number;
  #head: Uint8Array | undefined; // partial header, only while one is split across chunks
  #headFill = 0;
  #pending: FrameHeader | undefined; // header of the body being assembled
  #body: Uint8Array | undefined; // partial body, only while one is split across chunks
  #bodyFill = 0;
  #error: ProtocolError | undefined;
  #inCallback = false;

  constructor(options: FrameDecoderOptions = {}) {
    const max = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    if (!Number.isInteger(max) || max < 0 || max > 0xffffffff) {
      throw new RangeError(`maxBodyBytes must be an integer from 0 to 2^32-1, got ${String(max)}`);
    }
    this.maxBodyBytes = max;
  }

  /** The error that failed this decoder, if any. */
  get error(): ProtocolError | undefined {
    return this.#error;
  }

  /** Bytes held for an incomplete frame. */
  get bufferedBytes(): number {
    return this.#headFill + this.#bodyFill;
  }

  /**
   * Consumes `chunk`, calling `onFrame` for every frame it completes. `onFrame` should not
   * throw; if it does, the error propagates and the rest of the chunk is dropped.
   */
  push(chunk: Uint8Array, onFrame: (frame: Frame) => void): void {
    if (this.#error) throw this.#error;
    try {
      this.#consume(chunk, onFrame);
    } catch (err) {
      if (this.#inCallback) {
        this.#inCallback = false;
        throw err;
      }
      const failure = err instanceof ProtocolError ? err : internal(err);
      this.#fail(failure);
      throw failure;
    }
  }

  #consume(chunk: Uint8Array, onFrame: (frame: Frame) => void): void {
    const end = chunk.length;
    let off = 0;
    while (off < end) {
      if (this.#body !== undefined) {
        off = this.#fillBody(chunk, off, onFrame);
        continue;
      }
      let header: FrameHeader;
      if (this.#head !== undefined) {
        const take = Math.min(HEADER_SIZE - this.#headFill, end - off);
        this.#head.set(chunk.subarray(off, off + take), this.#headFill);
        off += take;
        this.#headFill += take;
        if (this.#headFill < HEADER_SIZE) {
          checkHeaderPrefix(this.#head, 0, this.#headFill);
          return;
        }
        header = readHeader(this.#head, 0, this.maxBodyBytes);
        this.#head = undefined;
        this.#headFill = 0;
      } else if (end - off < HEADER_SIZE) {
        checkHeaderPrefix(chunk, off, end - off);
        this.#head = new Uint8Array(HEADER_SIZE);
        this.#head.set(chunk.subarray(off));
        this.#headFill = end - off;
        return;
      } else {
        header = readHeader(chunk, off, this.maxBodyBytes);
        off += HEADER_SIZE;
      }
      if (end - off >= header.length) {
        const body = header.length === 0 ? EMPTY_BODY : chunk.subarray(off, off + header.length);
        off += header.length;
        this.#deliver(header, body, onFrame);
      } else {
        this.#pending = header;
        this.#body = new Uint8Array(header.length);
        this.#bodyFill = 0;
      }
    }
  }

  #fillBody(chunk: Uint8Array, off: number, onFrame: (frame: Frame) => void): number {
    const body = this.#body as Uint8Array;
    const take = Math.min(body.length - this.#bodyFill, chunk.length - off);
    body.set(chunk.subarray(off, off + take), this.#bodyFill);
    this.#bodyFill += take;
    if (this.#bodyFill === body.length) {
      const header = this.#pending as FrameHeader;
      this.#body = undefined;
      this.#pending = undefined;
      this.#bodyFill = 0;
      this.#deliver(header, body, onFrame);
    }
    return off + take;
  }

  #deliver(h: FrameHeader, body: Uint8Array, onFrame: (frame: Frame) => void): void {
    this.#inCallback = true;
    onFrame({ command: h.command, seq: h.seq, flags: h.flags, body });
    this.#inCallback = false;
  }

  #fail(err: ProtocolError): void {
    this.#error = err;
    this.#head = undefined;
    this.#body = undefined;
    this.#pending = undefined;
    this.#headFill = 0;
    this.#bodyFill = 0;
  }
}

function internal(err: unknown): ProtocolError {
  return new ProtocolError(ErrorCode.INTERNAL, 'frame decoder fault', { cause: err });
}
