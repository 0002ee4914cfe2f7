import { Inflate, deflateSync } from 'fflate';
import { ErrorCode, ProtocolError } from './errors.js';

/**
 * Raw DEFLATE (RFC 1951) for frame bodies, in pure JavaScript (fflate) so the same code runs
 * in Node and in browsers. Compression is only worth it for large bodies; the encoder decides.
 */
export function deflateBody(body: Uint8Array, level: CompressionLevel = 6): Uint8Array {
  return deflateSync(body, { level });
}

export type CompressionLevel = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;

/**
 * Raw DEFLATE for frame bodies. The default is pure JavaScript (fflate) and runs anywhere;
 * a Node process may pass a node:zlib one, several times faster. `inflate` must refuse
 * output above `maxBytes` and throw ProtocolError(DECOMPRESS_FAILED) for any bad input.
 */
export interface BodyCompression {
  deflate(body: Uint8Array, level: CompressionLevel): Uint8Array;
  inflate(body: Uint8Array, maxBytes: number): Uint8Array;
}

export const fflateCompression: BodyCompression = {
  deflate: (body, level) => deflateBody(body, level),
  inflate: (body, maxBytes) => inflateBody(body, maxBytes),
};

// Input is fed in slices so that a "deflate bomb" is caught after at most a slice's worth of
// output beyond the limit (DEFLATE expands at most ~1032:1), not after inflating all of it.
const INFLATE_SLICE = 1024;

/**
 * Inflates `body`, refusing output larger than `maxBytes`. Corrupt input and oversize output
 * both throw `ProtocolError(DECOMPRESS_FAILED)`.
 */
export function inflateBody(body: Uint8Array, maxBytes: number): Uint8Array {
  // No bytes is not a DEFLATE stream (it needs a final block), but fflate reports it finished.
  if (body.length === 0) throw new ProtocolError(ErrorCode.DECOMPRESS_FAILED, 'compressed body is empty');
  const parts: Uint8Array[] = [];
  let total = 0;
  let finished = false as boolean; // set from the callback
  const inflater = new Inflate((data, final) => {
    total += data.length;
    if (total > maxBytes) {
      throw new ProtocolError(
        ErrorCode.DECOMPRESS_FAILED,
        `compressed body inflates past the maximum of ${String(maxBytes)} bytes`,
      );
    }
    if (data.length > 0) parts.push(data);
    if (final) finished = true;
  });
  try {
    for (let off = 0; off < body.length; off += INFLATE_SLICE) {
      const end = Math.min(off + INFLATE_SLICE, body.length);
      inflater.push(body.subarray(off, end), end === body.length);
    }
  } catch (err) {
    if (err instanceof ProtocolError) throw err;
    throw new ProtocolError(ErrorCode.DECOMPRESS_FAILED, 'compressed body is corrupt', { cause: err });
  }
  if (!finished) throw new ProtocolError(ErrorCode.DECOMPRESS_FAILED, 'compressed body is truncated');
  if (parts.length === 1) return parts[0] as Uint8Array;
  const out = new Uint8Array(total);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}
