import { ErrorCode, ProtocolError } from './errors.js';
import { EMPTY_BODY, type Frame } from './frame.js';
import { DEFAULT_MAX_BODY_BYTES, HEADER_SIZE, checkHeaderPrefix, readHeader } from './header.js';

/**
 * Reads one frame that arrived as one whole message (a binary WebSocket message): the header,
 * then exactly the announced body. The body is a view into `message`, not a copy.
 * Throws ProtocolError for a short message, a bad header, or a length that does not match.
 */
export function decodeMessageFrame(message: Uint8Array, maxBodyBytes = DEFAULT_MAX_BODY_BYTES): Frame {
  if (message.length < HEADER_SIZE) {
    checkHeaderPrefix(message, 0, message.length);
    throw new ProtocolError(
      ErrorCode.LENGTH_MISMATCH,
      `message of ${String(message.length)} bytes is shorter than a frame header`,
    );
  }
  const h = readHeader(message, 0, maxBodyBytes);
  if (message.length - HEADER_SIZE !== h.length) {
    throw new ProtocolError(
      ErrorCode.LENGTH_MISMATCH,
      `header announces ${String(h.length)} body bytes but the message carries ${String(message.length - HEADER_SIZE)}`,
    );
  }
  const body = h.length === 0 ? EMPTY_BODY : message.subarray(HEADER_SIZE);
  return { command: h.command, seq: h.seq, flags: h.flags, body };
}
