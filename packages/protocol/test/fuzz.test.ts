// Fuzzing the frame decoder (and the body codec behind it) with a few hundred thousand random
// and mutated frames. Deterministic: set PARLEY_FUZZ_SEED to replay a run; every assertion
// message carries the seed and the session number.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  Command,
  ErrorCode,
  type Frame,
  FrameCodec,
  FrameDecoder,
  HEADER_SIZE,
  ProtocolError,
  type Role,
  roleOf,
  writeHeader,
} from '@parley/protocol';

const SEED = Number(process.env.PARLEY_FUZZ_SEED ?? 0x5eed_1e57) >>> 0;
const MAX_BODY = 64 * 1024;
const SESSIONS = 25_000; // ~9 frames each: ~220k frames
const LONG_STREAM_FRAMES = 60_000;

/** mulberry32: small, fast, good enough for fuzzing, and reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rand = prng(SEED);
const int = (n: number) => Math.floor(rand() * n); // 0 .. n-1
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = int(256);
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

function rawFrame(command: number, seq: number, flags: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE + body.length);
  writeHeader(out, 0, { command, seq, flags, length: body.length });
  out.set(body, HEADER_SIZE);
  return out;
}

// ---------------------------------------------------------------------------
// Corpus: real encoded frames of many commands (some compressed) and raw frames of many sizes.
// ---------------------------------------------------------------------------

function buildCorpus(): Uint8Array[] {
  const codec = new FrameCodec();
  const deflating = new FrameCodec({ compressAboveBytes: 32 });
  const words = 'hello world parley frame message conversation 你好 👋 ok'.split(' ');
  const sentence = (n: number) => Array.from({ length: n }, () => pick(words)).join(' ');
  const corpus: Uint8Array[] = [];
  for (let i = 0; i < 200; i++) {
    const c = rand() < 0.3 ? deflating : codec;
    const message = {
      conversationId: `g:${String(i)}`,
      seq: i * 1000,
      senderId: 'alice',
      serverTime: 1_700_000_000_000 + i,
      content: { text: sentence(1 + int(60)), mentions: ['bob'], attachments: i % 3 ? [] : [{ url: 'u', size: i }] },
    };
    corpus.push(
      c.request(Command.SEND, i + 1, { conversationId: message.conversationId, content: message.content }),
      c.push(Command.MESSAGE, { message, conversationVersion: i }),
      c.response(Command.SEND, i + 1, { status: { code: ErrorCode.OK }, messageId: `m${String(i)}`, seq: i }),
      c.response(Command.HISTORY, i + 1, { messages: [message, message], hasMore: true }),
      c.request(Command.LOGIN, i + 1, { token: sentence(5), deviceId: 'd', heartbeatIntervalMs: 30_000 }),
      c.request(Command.PING, i + 1, {}),
      c.errorResponse(int(0x10000), i + 1, { code: ErrorCode.RATE_LIMITED, retryAfterMs: 100 }),
    );
  }
  for (let i = 0; i < 300; i++) {
    const size = rand() < 0.8 ? int(256) : rand() < 0.9 ? int(8192) : MAX_BODY - int(64);
    corpus.push(rawFrame(int(0x10000), int(0x100000000), int(4), randomBytes(size)));
  }
  return corpus;
}

// ---------------------------------------------------------------------------
// Mutations. Each returns new bytes (or frames) from valid ones.
// ---------------------------------------------------------------------------

function mutate(frame: Uint8Array): Uint8Array {
  const f = Uint8Array.from(frame);
  switch (int(9)) {
    case 0: // flip one bit, anywhere
      f[int(f.length)]! ^= 1 << int(8);
      return f;
    case 1: // flip a bit in the header
      f[int(HEADER_SIZE)]! ^= 1 << int(8);
      return f;
    case 2: // overwrite a few bytes
      for (let k = 1 + int(4); k > 0; k--) f[int(f.length)] = int(256);
      return f;
    case 3: {
      // insert bytes
      const at = int(f.length + 1);
      return concat([f.subarray(0, at), randomBytes(1 + int(8)), f.subarray(at)]);
    }
    case 4: {
      // delete bytes
      const at = int(f.length);
      return concat([f.subarray(0, at), f.subarray(Math.min(f.length, at + 1 + int(8)))]);
    }
    case 5: // truncate
      return f.subarray(0, int(f.length));
    case 6: {
      // rewrite the length field: small, near the maximum, over it, or anything
      const length = pick([int(64), MAX_BODY, MAX_BODY + 1, int(0x100000000), 0x7fffffff, 0xffffffff]);
      new DataView(f.buffer, f.byteOffset).setUint32(10, length >>> 0);
      return f;
    }
    case 7: // reserved flag bits or another version
      if (rand() < 0.5) f[3] = f[3]! | (4 << int(6));
      else f[2] = int(256);
      return f;
    default: // random garbage instead
      return randomBytes(int(64));
  }
}

/** A session's input: frames, some of them mutated, duplicated or shuffled. */
function makeSession(corpus: readonly Uint8Array[], mutateRate: number): { parts: Uint8Array[]; mutated: boolean } {
  const parts: Uint8Array[] = [];
  let mutated = false;
  const count = 1 + int(16);
  for (let i = 0; i < count; i++) {
    const base = pick(corpus);
    if (rand() < mutateRate) {
      parts.push(mutate(base));
      mutated = true;
    } else {
      parts.push(base);
    }
    if (rand() < 0.05) parts.push(parts[parts.length - 1]!); // duplicate
  }
  if (rand() < mutateRate / 4 && parts.length > 1) {
    const a = int(parts.length);
    const b = int(parts.length);
    [parts[a], parts[b]] = [parts[b]!, parts[a]!];
  }
  return { parts, mutated };
}

function chunked(data: Uint8Array): Uint8Array[] {
  const mode = int(5);
  if (mode === 0) return [data];
  const chunks: Uint8Array[] = [];
  const limit = [1, 1, 16, 512, 9000][mode] as number;
  for (let off = 0; off < data.length;) {
    const n = mode === 1 ? 1 : 1 + int(limit);
    chunks.push(data.subarray(off, off + n));
    off += n;
  }
  return chunks;
}

// ---------------------------------------------------------------------------
// Reference parser from the spec, to compare every session's outcome with.
// ---------------------------------------------------------------------------

interface Outcome {
  frames: number;
  error: ErrorCode | undefined;
  buffered: number;
}

function reference(data: Uint8Array, max: number, onFrame: (bodyStart: number, length: number) => void): Outcome {
  let off = 0;
  let frames = 0;
  while (off < data.length) {
    const avail = data.length - off;
    const fail = (error: ErrorCode): Outcome => ({ frames, error, buffered: 0 });
    if (data[off] !== 0x50) return fail(ErrorCode.BAD_MAGIC);
    if (avail > 1 && data[off + 1] !== 0x4c) return fail(ErrorCode.BAD_MAGIC);
    if (avail > 2 && data[off + 2] !== 1) return fail(ErrorCode.UNSUPPORTED_VERSION);
    if (avail > 3 && (data[off + 3]! & 0xfc) !== 0) return fail(ErrorCode.BAD_FLAGS);
    if (avail < HEADER_SIZE) return { frames, error: undefined, buffered: avail };
    const length = new DataView(data.buffer, data.byteOffset + off + 10, 4).getUint32(0);
    if (length > max) return fail(ErrorCode.FRAME_TOO_LARGE);
    if (avail - HEADER_SIZE < length) return { frames, error: undefined, buffered: avail - HEADER_SIZE };
    onFrame(off + HEADER_SIZE, length);
    frames++;
    off += HEADER_SIZE + length;
  }
  return { frames, error: undefined, buffered: 0 };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A way to force a full GC, so heap samples measure what is retained rather than garbage not yet
 * collected. The test script does not pass --expose-gc; the flag can still be set at runtime and
 * `gc` fetched from a fresh context (as jest's leak detector does). Without it, samples are noisy.
 */
function findGc(): (() => void) | undefined {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  try {
    setFlagsFromString('--expose-gc');
    const fn: unknown = runInNewContext('gc');
    return typeof fn === 'function' ? (fn as () => void) : undefined;
  } catch {
    return undefined;
  }
}

const gc = findGc();
// With a real GC the samples are exact, and a leak of a few MB shows; without one, garbage
// awaiting collection is counted too and only a generous limit is meaningful.
const HEAP_LIMIT = (gc ? 16 : 96) * 1024 * 1024;

/** Heap and ArrayBuffer bytes in use, after a full GC when one can be forced. */
function heapNow(): number {
  gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

// ---------------------------------------------------------------------------

describe('fuzz: FrameDecoder', () => {
  const corpus = buildCorpus();

  test(`random and mutated frames in random chunks (seed ${String(SEED)})`, { timeout: 120_000 }, () => {
    const codec = new FrameCodec({ maxBodyBytes: MAX_BODY });
    const roles: readonly Role[] = ['request', 'response', 'push'];
    const stats = { frames: 0, fed: 0, errors: new Map<string, number>(), bodyErrors: 0, bodies: 0 };
    const heapBefore = heapNow();
    let heapPeak = 0;

    for (let s = 0; s < SESSIONS; s++) {
      const where = `seed ${String(SEED)}, session ${String(s)}`;
      const { parts, mutated } = makeSession(corpus, s % 4 === 0 ? 0 : 0.3);
      stats.fed += parts.length;
      const data = concat(parts);
      const expectedBodies: [number, number][] = [];
      const expected = reference(data, MAX_BODY, (start, length) => expectedBodies.push([start, length]));

      const decoder = new FrameDecoder({ maxBodyBytes: MAX_BODY });
      const got: Frame[] = [];
      let error: unknown;
      for (const chunk of chunked(data)) {
        try {
          decoder.push(chunk, (f) => {
            // Check against the reference as it arrives: the body may be a view into a chunk.
            const ref = expectedBodies[got.length];
            assert.ok(ref, `${where}: more frames than the reference`);
            assert.ok(
              sameBytes(f.body, data.subarray(ref[0], ref[0] + ref[1])),
              `${where}: frame ${String(got.length)} body`,
            );
            got.push(f);
          });
        } catch (err) {
          error = err;
        }
        assert.ok(
          decoder.bufferedBytes <= HEADER_SIZE + MAX_BODY,
          `${where}: holds ${String(decoder.bufferedBytes)} bytes`,
        );
        if (error !== undefined) break;
      }

      if (error !== undefined) {
        assert.ok(
          error instanceof ProtocolError,
          `${where}: threw ${error instanceof Error ? error.stack : typeof error}`,
        );
        assert.equal(error.code, expected.error, `${where}: error code`);
        assert.equal(decoder.error, error);
        assert.equal(decoder.bufferedBytes, 0);
        stats.errors.set(error.codeName, (stats.errors.get(error.codeName) ?? 0) + 1);
      } else {
        assert.equal(expected.error, undefined, `${where}: the reference fails with ${String(expected.error)}`);
        assert.equal(decoder.bufferedBytes, expected.buffered, `${where}: leftover`);
      }
      assert.equal(got.length, expected.frames, `${where}: frame count`);
      if (!mutated) {
        assert.equal(error, undefined, `${where}: valid input failed`);
        assert.equal(got.length, parts.length, `${where}: valid frames lost`);
      }
      stats.frames += got.length;

      // Bodies of the decoded frames: decoding either succeeds or is a ProtocolError.
      for (const f of got) {
        if (rand() > 0.2) continue;
        stats.bodies++;
        try {
          codec.decode(f, rand() < 0.5 ? roleOf(f, 'client') : pick(roles));
        } catch (err) {
          assert.ok(err instanceof ProtocolError, `${where}: body decode threw ${String(err)}`);
          stats.bodyErrors++;
        }
      }

      if (s % 2500 === 0) heapPeak = Math.max(heapPeak, heapNow() - heapBefore);
    }

    heapPeak = Math.max(heapPeak, heapNow() - heapBefore);
    assert.ok(heapPeak < HEAP_LIMIT, `heap grew by ${String(heapPeak)} bytes`);
    // The fuzzer has to reach the interesting outcomes, or it proves little.
    assert.ok(stats.fed > 200_000, `fed ${String(stats.fed)} frames`);
    for (const code of ['BAD_MAGIC', 'UNSUPPORTED_VERSION', 'BAD_FLAGS', 'FRAME_TOO_LARGE']) {
      assert.ok((stats.errors.get(code) ?? 0) > 50, `${code} reached ${String(stats.errors.get(code) ?? 0)} times`);
    }
    assert.ok(stats.frames > 100_000, `decoded ${String(stats.frames)} frames`);
    assert.ok(stats.bodyErrors > 0 && stats.bodyErrors < stats.bodies, 'body decoding saw both outcomes');
  });

  test('one decoder over a long valid stream keeps no memory between frames', { timeout: 120_000 }, () => {
    const decoder = new FrameDecoder({ maxBodyBytes: MAX_BODY });
    let delivered = 0;
    let pending: Uint8Array[] = [];
    let expectedNext = 0;
    const queue: Uint8Array[] = [];
    const heapBefore = heapNow();
    let heapPeak = 0;
    while (delivered < LONG_STREAM_FRAMES) {
      // A batch of frames, fed in random chunks that ignore frame boundaries.
      for (let i = 0; i < 64; i++) {
        const f = pick(corpus);
        pending.push(f);
        queue.push(f);
      }
      const data = concat(pending);
      pending = [];
      for (const chunk of chunked(data)) {
        decoder.push(chunk, (f) => {
          const original = queue[expectedNext++]!;
          assert.ok(sameBytes(f.body, original.subarray(HEADER_SIZE)), `frame ${String(delivered)}`);
          delivered++;
        });
        assert.ok(decoder.bufferedBytes <= HEADER_SIZE + MAX_BODY);
      }
      assert.equal(decoder.bufferedBytes, 0, 'every batch ends on a frame boundary');
      queue.splice(0, expectedNext);
      expectedNext = 0;
      if (delivered % 6400 < 64) heapPeak = Math.max(heapPeak, heapNow() - heapBefore);
    }
    heapPeak = Math.max(heapPeak, heapNow() - heapBefore);
    assert.ok(heapPeak < HEAP_LIMIT, `heap grew by ${String(heapPeak)} bytes`);
    assert.equal(decoder.error, undefined);
  });
});
