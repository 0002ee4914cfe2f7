import { ErrorCode, ProtocolError } from './errors.js';

/**
 * Frame header, 14 bytes, big-endian:
 *
 *   0      2        3      4         6              10             14
 *   | magic | version | flags | command | request seq | body length | body ...
 *     u16     u8        u8      u16       u32           u32
 *
 * magic is "PL" (0x50 0x4C): an HTTP method never starts with it and TLS starts with 0x16,
 * so a server can turn away a foreign peer after at most two bytes.
 */
export const HEADER_SIZE = 14;
export const MAGIC_0 = 0x50;
export const MAGIC_1 = 0x4c;
export const PROTOCOL_VERSION = 1;

/** Flag bits. Bits not listed here are reserved and must be zero. */
export const Flags = {
  /** The body is raw DEFLATE (RFC 1951) of the encoded message. */
  COMPRESSED: 0x01,
  /** The frame answers the request with the same seq. Frames from the server without it are pushes. */
  RESPONSE: 0x02,
} as const;
export const KNOWN_FLAGS = Flags.COMPRESSED | Flags.RESPONSE;

/** Default ceiling for a frame body: 1 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** Largest value of the 32-bit request sequence; it wraps to 1 (0 means "no response wanted"). */
export const MAX_SEQ = 0xffffffff;

export interface FrameHeader {
  command: number;
  seq: number;
  flags: number;
  length: number;
}

/**
 * Checks the first `count` header bytes at `offset` as far as they go, so a foreign peer is
 * refused as soon as its bytes disagree with a Parley header, not when 14 have arrived.
 */
export function checkHeaderPrefix(buf: Uint8Array, offset: number, count: number): void {
  if (count > 0 && buf[offset] !== MAGIC_0) throw badMagic(buf, offset, count);
  if (count > 1 && buf[offset + 1] !== MAGIC_1) throw badMagic(buf, offset, count);
  if (count > 2 && buf[offset + 2] !== PROTOCOL_VERSION) {
    throw new ProtocolError(
      ErrorCode.UNSUPPORTED_VERSION,
      `frame version ${String(buf[offset + 2])} is not supported (this side speaks ${String(PROTOCOL_VERSION)})`,
    );
  }
  if (count > 3) {
    const flags = buf[offset + 3] ?? 0;
    if ((flags & ~KNOWN_FLAGS) !== 0) {
      throw new ProtocolError(ErrorCode.BAD_FLAGS, `reserved flag bits set: 0x${flags.toString(16).padStart(2, '0')}`);
    }
  }
}

/** Reads and validates a whole header at `offset` (HEADER_SIZE bytes must be present). */
export function readHeader(buf: Uint8Array, offset: number, maxBodyBytes: number): FrameHeader {
  checkHeaderPrefix(buf, offset, HEADER_SIZE);
  const view = new DataView(buf.buffer, buf.byteOffset + offset, HEADER_SIZE);
  const length = view.getUint32(10);
  if (length > maxBodyBytes) {
    throw new ProtocolError(
      ErrorCode.FRAME_TOO_LARGE,
      `frame body of ${String(length)} bytes exceeds the maximum of ${String(maxBodyBytes)}`,
    );
  }
  return { flags: view.getUint8(3), command: view.getUint16(4), seq: view.getUint32(6), length };
}

/** Writes a header at `offset`. Callers guarantee the ranges (command u16, seq u32, length u32). */
export function writeHeader(buf: Uint8Array, offset: number, h: FrameHeader): void {
  const view = new DataView(buf.buffer, buf.byteOffset + offset, HEADER_SIZE);
  view.setUint8(0, MAGIC_0);
  view.setUint8(1, MAGIC_1);
  view.setUint8(2, PROTOCOL_VERSION);
  view.setUint8(3, h.flags);
  view.setUint16(4, h.command);
  view.setUint32(6, h.seq);
  view.setUint32(10, h.length);
}

function badMagic(buf: Uint8Array, offset: number, count: number): ProtocolError {
  const seen = buf.subarray(offset, offset + Math.min(count, 4));
  return new ProtocolError(ErrorCode.BAD_MAGIC, `not a Parley frame: ${describePeer(seen)}`);
}

/** Names the likely foreign protocol from its first bytes, for a log line a person can act on. */
function describePeer(first: Uint8Array): string {
  const hex = Array.from(first, (b) => b.toString(16).padStart(2, '0')).join(' ');
  if (first[0] === 0x16) return `looks like a TLS handshake on the plain port (bytes ${hex})`;
  const space = first.indexOf(0x20);
  const word = space === -1 ? first : first.subarray(0, space);
  if (word.length > 0 && word.every((b) => b >= 0x41 && b <= 0x5a)) {
    return `looks like an HTTP request (bytes ${hex}); use the WebSocket endpoint /ws on the HTTP port`;
  }
  return `unexpected bytes ${hex}`;
}
