import { ErrorCode, ParleyError } from '@parley/protocol';

/** Reads a request body up to `limit` bytes (MESSAGE_TOO_LARGE past it, declared or streamed). */
export async function readBody(request: Request, limit: number): Promise<Buffer> {
  const tooLarge = () => new ParleyError(ErrorCode.MESSAGE_TOO_LARGE, `request body is over ${String(limit)} bytes`);
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > limit) throw tooLarge();
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (request.body) {
    const reader = (request.body as ReadableStream<Uint8Array>).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > limit) {
        await reader.cancel();
        throw tooLarge();
      }
      chunks.push(value);
    }
  }
  return Buffer.concat(chunks);
}
