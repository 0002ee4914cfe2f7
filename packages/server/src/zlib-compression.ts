import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { type BodyCompression, ErrorCode, ProtocolError } from '@parley/protocol';

/**
 * Frame-body DEFLATE with node:zlib: measured 3-10x faster than the portable fflate default
 * on 4 KiB chat text. `maxOutputLength` stops a deflate bomb at the limit.
 */
export const zlibCompression: BodyCompression = {
  deflate(body, level) {
    return deflateRawSync(body, { level });
  },
  inflate(body, maxBytes) {
    if (body.length === 0) throw new ProtocolError(ErrorCode.DECOMPRESS_FAILED, 'compressed body is empty');
    try {
      return inflateRawSync(body, { maxOutputLength: Math.max(1, maxBytes) });
    } catch (err) {
      const tooLarge = (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
      throw new ProtocolError(
        ErrorCode.DECOMPRESS_FAILED,
        tooLarge
          ? `compressed body inflates past the maximum of ${String(maxBytes)} bytes`
          : 'compressed body is corrupt',
        { cause: err },
      );
    }
  },
};
