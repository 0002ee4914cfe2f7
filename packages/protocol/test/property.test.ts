import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  Command,
  ErrorCode,
  type Frame,
  FrameCodec,
  FrameDecoder,
  HEADER_SIZE,
  ProtocolError,
  pb,
  writeHeader,
} from '@parley/protocol';

// ---------------------------------------------------------------------------
// Helpers, including a reference parser written from the spec (not from src) to compare with.
// ---------------------------------------------------------------------------

interface Spec {
  command: number;
  seq: number;
  flags: number;
  body: Uint8Array;
}

function encodeFrame(f: Spec): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE + f.body.length);
  writeHeader(out, 0, { command: f.command, seq: f.seq, flags: f.flags, length: f.body.length });
  out.set(f.body, HEADER_SIZE);
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

function copy(f: Frame): Spec {
  return { command: f.command, seq: f.seq, flags: f.flags, body: Uint8Array.from(f.body) };
}

interface Outcome {
  frames: Spec[];
  error: ErrorCode | undefined;
  buffered: number;
}

/** What a correct streaming decoder must report for `data`, however it is chunked. */
function reference(data: Uint8Array, max: number): Outcome {
  const frames: Spec[] = [];
  let off = 0;
  const fail = (error: ErrorCode): Outcome => ({ frames, error, buffered: 0 });
  while (off < data.length) {
    const avail = data.length - off;
    const at = (i: number) => data[off + i] as number;
    if (at(0) !== 0x50) return fail(ErrorCode.BAD_MAGIC);
    if (avail > 1 && at(1) !== 0x4c) return fail(ErrorCode.BAD_MAGIC);
    if (avail > 2 && at(2) !== 1) return fail(ErrorCode.UNSUPPORTED_VERSION);
    if (avail > 3 && (at(3) & 0xfc) !== 0) return fail(ErrorCode.BAD_FLAGS);
    if (avail < HEADER_SIZE) return { frames, error: undefined, buffered: avail };
    const length = ((at(10) << 24) >>> 0) + (at(11) << 16) + (at(12) << 8) + at(13);
    if (length > max) return fail(ErrorCode.FRAME_TOO_LARGE);
    if (avail - HEADER_SIZE < length) return { frames, error: undefined, buffered: avail - HEADER_SIZE };
    frames.push({
      command: (at(4) << 8) | at(5),
      seq: ((at(6) << 24) >>> 0) + (at(7) << 16) + (at(8) << 8) + at(9),
      flags: at(3),
      body: data.slice(off + HEADER_SIZE, off + HEADER_SIZE + length),
    });
    off += HEADER_SIZE + length;
  }
  return { frames, error: undefined, buffered: 0 };
}

/** Splits `data` at the given cut points (any numbers; taken modulo the length, sorted). */
function split(data: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => (data.length === 0 ? 0 : c % (data.length + 1))))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    chunks.push(data.subarray(prev, p));
    prev = p;
  }
  chunks.push(data.subarray(prev));
  return chunks;
}

/**
 * Runs a fresh decoder over `chunks`, checking after every push that it holds no more than a
 * header and a body, that it only ever throws ProtocolError, and that once failed it stays so.
 */
function run(chunks: readonly Uint8Array[], max: number): Outcome {
  const decoder = new FrameDecoder({ maxBodyBytes: max });
  const frames: Spec[] = [];
  let error: ProtocolError | undefined;
  for (const chunk of chunks) {
    try {
      decoder.push(chunk, (f) => frames.push(copy(f)));
    } catch (err) {
      if (!(err instanceof ProtocolError))
        throw new Error('the decoder threw something other than a ProtocolError', { cause: err });
      if (error !== undefined) assert.equal(err, error, 'a failed decoder rethrows its first error');
      error = err;
      assert.equal(decoder.error, err);
    }
    assert.ok(decoder.bufferedBytes <= HEADER_SIZE + max, `holds ${String(decoder.bufferedBytes)} bytes`);
    assert.ok(decoder.bufferedBytes >= 0);
  }
  if (error) {
    assert.equal(decoder.bufferedBytes, 0, 'a failed decoder holds nothing');
    assert.throws(
      () => {
        decoder.push(Uint8Array.of(0x50), () => assert.fail('a failed decoder delivers nothing'));
      },
      (e) => e === error,
    );
  }
  return { frames, error: error?.code, buffered: decoder.bufferedBytes };
}

// ---------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------

const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const frameArb: fc.Arbitrary<Spec> = fc.record(
  {
    command: u16,
    seq: u32,
    flags: fc.constantFrom(0, 1, 2, 3), // subsets of {COMPRESSED, RESPONSE}
    body: fc.oneof(
      { weight: 3, arbitrary: fc.uint8Array({ maxLength: 64, size: 'max' }) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 4096, size: 'max' }) },
    ),
  },
  { noNullPrototype: true },
);
const cutsArb = fc.array(fc.nat(), { maxLength: 40, size: 'max' });

// Byte streams that are mostly wrong: noise, noise after valid frames, a plausible header
// prefix followed by noise, and valid frames with bytes overwritten.
const garbageArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 2048, size: 'max' }),
  fc
    .tuple(fc.array(frameArb, { maxLength: 4 }), fc.uint8Array({ maxLength: 256, size: 'max' }))
    .map(([frames, tail]) => concat([...frames.map(encodeFrame), tail])),
  fc
    .tuple(fc.nat({ max: 255 }), fc.uint8Array({ maxLength: 600, size: 'max' }))
    .map(([flags, tail]) => concat([Uint8Array.of(0x50, 0x4c, 0x01, flags & 0x07), tail])),
  fc
    .tuple(
      fc.array(frameArb, { minLength: 1, maxLength: 4 }),
      fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 4 }),
    )
    .map(([frames, edits]) => {
      const data = concat(frames.map(encodeFrame));
      for (const [pos, value] of edits) data[pos % data.length] = value;
      return data;
    }),
);

// Sizes up to a few hundred characters so that some bodies pass the compression threshold.
/** The numeric members of a generated enum. */
function enumValues<E extends number>(e: Record<string, E | string>): E[] {
  const values = Object.values(e).filter((v): v is E => typeof v === 'number');
  assert.ok(values.length > 1);
  return values;
}

const text = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', size: 'medium' }),
  fc.string({ unit: 'grapheme', size: 'medium' }),
  fc.string({ unit: 'grapheme-ascii', maxLength: 300, size: 'max' }),
);
const u64 = fc.maxSafeNat();
const i64 = fc.maxSafeInteger();
const attachmentArb: fc.Arbitrary<pb.Attachment.$Properties> = fc.record(
  {
    url: text,
    mimeType: text,
    size: u64,
    name: text,
    width: u32,
    height: u32,
    durationMs: u32,
    thumbnailUrl: text,
  },
  { requiredKeys: [], noNullPrototype: true },
);
const systemArb: fc.Arbitrary<pb.SystemEvent.$Properties> = fc.record(
  {
    type: fc.constantFrom(...enumValues(pb.SystemEventType)),
    actor: text,
    users: fc.array(text, { maxLength: 5 }),
    role: fc.constantFrom(...enumValues(pb.MemberRole)),
    text,
  },
  { requiredKeys: [], noNullPrototype: true },
);
const contentArb: fc.Arbitrary<pb.MessageContent.$Properties> = fc.record(
  {
    type: fc.constantFrom(...enumValues(pb.MessageType)),
    text,
    custom: text,
    attachments: fc.array(attachmentArb, { maxLength: 4 }),
    mentions: fc.array(text, { maxLength: 8 }),
    system: systemArb,
    recallTargetSeq: u64,
  },
  { requiredKeys: [], noNullPrototype: true },
);
const messageArb: fc.Arbitrary<pb.Message.$Properties> = fc.record(
  {
    conversationId: text,
    seq: u64,
    messageId: text,
    senderId: text,
    senderDeviceId: text,
    clientMessageId: text,
    serverTime: i64,
    content: contentArb,
    recalled: fc.boolean(),
    conversationType: fc.constantFrom(...enumValues(pb.ConversationType)),
  },
  { requiredKeys: [], noNullPrototype: true },
);
const sendArb: fc.Arbitrary<pb.SendMessageRequest.$Properties> = fc.record(
  { conversationId: text, clientMessageId: text, content: contentArb, transient: fc.boolean() },
  { requiredKeys: [], noNullPrototype: true },
);

/** The decoded value restricted to the fields (recursively) that `expected` sets, as plain data. */
function project(actual: unknown, expected: unknown): unknown {
  if (Array.isArray(expected)) {
    return Array.isArray(actual) ? actual.map((a, i): unknown => project(a, expected[i])) : actual;
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object') return actual;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(expected))
      out[key] = project((actual as Record<string, unknown>)[key], value);
    return out;
  }
  return actual;
}

/** Encodes with `codec`, frames it through a stream decoder in the given chunks, and returns the frame. */
function throughStream(wire: Uint8Array, cuts: readonly number[]): Frame {
  const frames: Frame[] = [];
  const decoder = new FrameDecoder();
  for (const chunk of split(wire, cuts)) decoder.push(chunk, (f) => frames.push(copy(f)));
  assert.equal(frames.length, 1);
  assert.equal(decoder.bufferedBytes, 0);
  return frames[0]!;
}

// ---------------------------------------------------------------------------

describe('property: FrameDecoder', () => {
  test('valid frames decode to themselves, in order, however the stream is split', { timeout: 120_000 }, () => {
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 12, size: 'max' }), cutsArb, (specs, cuts) => {
        const data = concat(specs.map(encodeFrame));
        const max = Math.max(0, ...specs.map((s) => s.body.length));
        const expected: Outcome = { frames: specs, error: undefined, buffered: 0 };
        assert.deepStrictEqual(reference(data, max), expected, 'the reference agrees');
        assert.deepStrictEqual(run(split(data, cuts), max), expected, 'random splits');
        assert.deepStrictEqual(run([data], max), expected, 'one chunk');
        const bytes = Array.from({ length: data.length }, (_, i) => data.subarray(i, i + 1));
        assert.deepStrictEqual(run(bytes, max), expected, 'one byte at a time');
      }),
      { numRuns: 200 },
    );
  });

  test('a valid stream cut short leaves the partial frame buffered and delivers the rest', { timeout: 120_000 }, () => {
    fc.assert(
      fc.property(fc.array(frameArb, { minLength: 1, maxLength: 6 }), fc.nat(), cutsArb, (specs, cut, cuts) => {
        const data = concat(specs.map(encodeFrame));
        const prefix = data.subarray(0, cut % (data.length + 1));
        const expected = reference(prefix, 4096);
        assert.equal(expected.error, undefined);
        assert.deepStrictEqual(run(split(prefix, cuts), 4096), expected);
      }),
      { numRuns: 200 },
    );
  });

  test(
    'garbage in any chunks only ever yields frames and then one ProtocolError, within bounded memory',
    { timeout: 120_000 },
    () => {
      fc.assert(
        fc.property(garbageArb, cutsArb, fc.integer({ min: 0, max: 4096 }), (data, cuts, max) => {
          const outcome = run(split(data, cuts), max);
          // Same frames, same error code and same leftover as the reference, whatever the chunking.
          assert.deepStrictEqual(outcome, reference(data, max));
          for (const f of outcome.frames) assert.ok(f.body.length <= max);
        }),
        { numRuns: 500 },
      );
    },
  );
});

describe('property: FrameCodec round-trips', () => {
  const plain = new FrameCodec();
  const compressing = new FrameCodec({ compressAboveBytes: 64 });

  test('SendMessageRequest', { timeout: 120_000 }, () => {
    fc.assert(
      fc.property(sendArb, u32, fc.boolean(), cutsArb, (body, seq, compress, cuts) => {
        const codec = compress ? compressing : plain;
        const frame = throughStream(codec.request(Command.SEND, seq, body), cuts);
        assert.equal(frame.seq, seq);
        assert.equal(frame.command, Command.SEND);
        assert.deepStrictEqual(project(codec.decodeRequest(Command.SEND, frame), body), body);
        assert.deepStrictEqual(project(plain.decodeRequest(Command.SEND, frame), body), body);
      }),
      { numRuns: 300 },
    );
  });

  test('Message, as a push and inside a response', { timeout: 120_000 }, () => {
    fc.assert(
      fc.property(
        messageArb,
        fc.array(messageArb, { maxLength: 4 }),
        u64,
        fc.boolean(),
        cutsArb,
        (msg, page, version, compress, cuts) => {
          const codec = compress ? compressing : plain;
          const pushBody = { message: msg, conversationVersion: version };
          const push = throughStream(codec.push(Command.MESSAGE, pushBody), cuts);
          assert.deepStrictEqual(project(codec.decodePush(Command.MESSAGE, push), pushBody), pushBody);

          const respBody = { status: { code: ErrorCode.OK }, messages: page, hasMore: true, lastSeq: version };
          const resp = throughStream(codec.response(Command.SYNC_MESSAGES, 1, respBody), cuts);
          assert.deepStrictEqual(project(codec.decodeResponse(Command.SYNC_MESSAGES, resp), respBody), respBody);
        },
      ),
      { numRuns: 200 },
    );
  });
});
