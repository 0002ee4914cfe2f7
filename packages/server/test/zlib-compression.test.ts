import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode, ProtocolError, fflateCompression } from '@parley/protocol';
import { zlibCompression } from '../src/zlib-compression.js';

const text = new TextEncoder().encode('the quick brown fox jumps over the lazy dog '.repeat(200));
const isDecompressFailed = (e: unknown) => e instanceof ProtocolError && e.code === ErrorCode.DECOMPRESS_FAILED;

test('zlib and fflate bodies are interchangeable (both raw DEFLATE)', () => {
  assert.deepEqual(new Uint8Array(zlibCompression.inflate(fflateCompression.deflate(text, 6), 1 << 20)), text);
  assert.deepEqual(new Uint8Array(fflateCompression.inflate(zlibCompression.deflate(text, 6), 1 << 20)), text);
});

test('a deflate bomb, a corrupt, a truncated and an empty body are DECOMPRESS_FAILED', () => {
  const bomb = zlibCompression.deflate(new Uint8Array(5_000_000), 9);
  assert.throws(() => zlibCompression.inflate(bomb, 1 << 20), isDecompressFailed);
  assert.throws(() => zlibCompression.inflate(Uint8Array.of(0xff, 0xff, 0xff, 0x00), 1 << 20), isDecompressFailed);
  const packed = zlibCompression.deflate(text, 6);
  assert.throws(() => zlibCompression.inflate(packed.subarray(0, packed.length - 3), 1 << 20), isDecompressFailed);
  assert.throws(() => zlibCompression.inflate(new Uint8Array(0), 1 << 20), isDecompressFailed);
});
