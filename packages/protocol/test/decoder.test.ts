import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_MAX_BODY_BYTES,
  ErrorCode,
  Flags,
  type Frame,
  FrameDecoder,
  HEADER_SIZE,
  ProtocolError,
  writeHeader,
} from '@parley/protocol';

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

function bytes(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7) & 0xff);
}

/** Plain copies of frames, so a later assertion cannot be fooled by a view changing under it. */
function plain(frames: readonly Frame[]): Spec[] {
  return frames.map((f) => ({ command: f.command, seq: f.seq, flags: f.flags, body: Uint8Array.from(f.body) }));
}

function expectFrames(actual: readonly Spec[], expected: readonly Spec[]): void {
  assert.deepEqual(
    plain(actual),
    expected.map((f) => ({ ...f, body: Uint8Array.from(f.body) })),
  );
}

/** Feeds `chunks` in order and returns the frames, copied as they are delivered. */
function decodeChunks(chunks: readonly Uint8Array[], decoder = new FrameDecoder()): Spec[] {
  const out: Spec[] = [];
  for (const c of chunks) decoder.push(c, (f) => out.push(...plain([f])));
  return out;
}

function catchError(fn: () => void): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return assert.fail('expected an error');
}

const SPECS: Spec[] = [
  { command: 0x0001, seq: 1, flags: 0, body: bytes(20, 1) },
  { command: 0x0003, seq: 2, flags: 0, body: new Uint8Array(0) },
  { command: 0x0101, seq: 0xffffffff, flags: Flags.RESPONSE, body: bytes(300, 2) },
  { command: 0xffff, seq: 0, flags: Flags.COMPRESSED | Flags.RESPONSE, body: bytes(1, 3) },
  { command: 0x0102, seq: 0, flags: Flags.COMPRESSED, body: new Uint8Array(0) },
  { command: 0x0503, seq: 77, flags: 0, body: bytes(14, 4) }, // body the size of a header
];
const STREAM = concat(SPECS.map(encodeFrame));

describe('FrameDecoder: sticky and half packets', () => {
  test('many frames in one chunk are delivered in order', () => {
    expectFrames(decodeChunks([STREAM]), SPECS);
  });

  test('a thousand small frames in one chunk', () => {
    const specs = Array.from({ length: 1000 }, (_, i) => ({
      command: i,
      seq: i * 3,
      flags: i & 3,
      body: bytes(i % 17, i),
    }));
    expectFrames(decodeChunks([concat(specs.map(encodeFrame))]), specs);
  });

  test('one byte at a time', () => {
    const decoder = new FrameDecoder();
    const chunks = Array.from(STREAM, (b) => Uint8Array.of(b));
    expectFrames(decodeChunks(chunks, decoder), SPECS);
    assert.equal(decoder.bufferedBytes, 0);
  });

  test('every split into two chunks', () => {
    for (let cut = 0; cut <= STREAM.length; cut++) {
      const got = decodeChunks([STREAM.subarray(0, cut), STREAM.subarray(cut)]);
      expectFrames(got, SPECS);
    }
  });

  test('every split into three chunks around the first frame boundaries', () => {
    const limit = HEADER_SIZE * 3 + 40;
    for (let a = 0; a <= limit; a++) {
      for (let b = a; b <= limit; b += 3) {
        expectFrames(decodeChunks([STREAM.subarray(0, a), STREAM.subarray(a, b), STREAM.subarray(b)]), SPECS);
      }
    }
  });

  test('frames are delivered as soon as they are complete, not at the end of the stream', () => {
    const one = encodeFrame(SPECS[0]!);
    const decoder = new FrameDecoder();
    const seen: number[] = [];
    for (let i = 0; i < one.length; i++) {
      decoder.push(one.subarray(i, i + 1), (f) => seen.push(f.seq));
      assert.equal(seen.length, i === one.length - 1 ? 1 : 0);
    }
  });

  test('bufferedBytes counts the partial header, then the partial body', () => {
    const spec = { command: 1, seq: 9, flags: 0, body: bytes(10, 9) };
    const wire = encodeFrame(spec);
    const decoder = new FrameDecoder();
    const observed: number[] = [];
    for (let i = 0; i < wire.length; i++) {
      decoder.push(wire.subarray(i, i + 1), () => undefined);
      observed.push(decoder.bufferedBytes);
    }
    // 1..13 header bytes, then the header is parsed (0 held), then 1..9 body bytes, then done.
    const expected = [
      ...Array.from({ length: 13 }, (_, i) => i + 1),
      0,
      ...Array.from({ length: 9 }, (_, i) => i + 1),
      0,
    ];
    assert.deepEqual(observed, expected);
  });

  test('empty chunks change nothing', () => {
    const decoder = new FrameDecoder();
    const got: Spec[] = [];
    const push = (c: Uint8Array) => {
      decoder.push(c, (f) => got.push(...plain([f])));
    };
    push(new Uint8Array(0));
    push(STREAM.subarray(0, 5));
    push(new Uint8Array(0));
    assert.equal(decoder.bufferedBytes, 5);
    push(STREAM.subarray(5, 20));
    push(new Uint8Array(0));
    push(STREAM.subarray(20));
    expectFrames(got, SPECS);
  });
});

describe('FrameDecoder: zero-length bodies', () => {
  test('a stream of empty frames, whole and byte by byte', () => {
    const specs = Array.from({ length: 50 }, (_, i) => ({ command: 3, seq: i, flags: 0, body: new Uint8Array(0) }));
    const wire = concat(specs.map(encodeFrame));
    expectFrames(decodeChunks([wire]), specs);
    expectFrames(decodeChunks(Array.from(wire, (b) => Uint8Array.of(b))), specs);
  });

  test('an empty frame completes exactly at the end of its header', () => {
    const decoder = new FrameDecoder();
    const wire = encodeFrame({ command: 3, seq: 5, flags: 0, body: new Uint8Array(0) });
    let count = 0;
    decoder.push(wire.subarray(0, 13), () => count++);
    assert.equal(count, 0);
    decoder.push(wire.subarray(13), () => count++);
    assert.equal(count, 1);
    assert.equal(decoder.bufferedBytes, 0);
  });
});

describe('FrameDecoder: views and copies', () => {
  test('a frame whole in one chunk is a view into the chunk', () => {
    const chunk = STREAM.slice(); // own ArrayBuffer
    const frames: Frame[] = [];
    new FrameDecoder().push(chunk, (f) => frames.push(f));
    assert.equal(frames.length, SPECS.length);
    let offset = 0;
    for (const f of frames) {
      offset += HEADER_SIZE;
      if (f.body.length > 0) {
        assert.equal(f.body.buffer, chunk.buffer);
        assert.equal(f.body.byteOffset, chunk.byteOffset + offset);
      }
      offset += f.body.length;
    }
    // A view: changing the chunk changes the body.
    const first = frames[0]!;
    chunk[HEADER_SIZE] = chunk[HEADER_SIZE]! ^ 0xff;
    assert.equal(first.body[0], chunk[HEADER_SIZE]);
  });

  test('a frame whose header was split but whose body is whole in the next chunk is a view into that chunk', () => {
    const wire = encodeFrame({ command: 1, seq: 1, flags: 0, body: bytes(50, 5) });
    const second = wire.slice(6);
    const frames: Frame[] = [];
    const decoder = new FrameDecoder();
    decoder.push(wire.slice(0, 6), (f) => frames.push(f));
    decoder.push(second, (f) => frames.push(f));
    assert.equal(frames.length, 1);
    assert.equal(frames[0]!.body.buffer, second.buffer);
  });

  test('a body split across chunks is a copy owned by the frame', () => {
    const wire = encodeFrame({ command: 1, seq: 1, flags: 0, body: bytes(50, 6) });
    const a = wire.slice(0, 30);
    const b = wire.slice(30);
    const frames: Frame[] = [];
    const decoder = new FrameDecoder();
    decoder.push(a, (f) => frames.push(f));
    decoder.push(b, (f) => frames.push(f));
    assert.equal(frames.length, 1);
    const body = frames[0]!.body;
    assert.notEqual(body.buffer, a.buffer);
    assert.notEqual(body.buffer, b.buffer);
    assert.deepEqual(body, bytes(50, 6));
    a.fill(0);
    b.fill(0);
    assert.deepEqual(body, bytes(50, 6)); // unaffected by the chunks being reused
  });
});

describe('FrameDecoder: limits', () => {
  test('maxBodyBytes: a body of exactly the maximum passes, one byte more fails', () => {
    const decoder = new FrameDecoder({ maxBodyBytes: 10 });
    assert.equal(decoder.maxBodyBytes, 10);
    const ok = decodeChunks([encodeFrame({ command: 1, seq: 1, flags: 0, body: bytes(10, 1) })], decoder);
    assert.equal(ok.length, 1);
    const err = catchError(() => {
      decoder.push(encodeFrame({ command: 1, seq: 2, flags: 0, body: bytes(11, 1) }), () => assert.fail('too large'));
    });
    assert.ok(err instanceof ProtocolError);
    assert.equal(err.code, ErrorCode.FRAME_TOO_LARGE);
  });

  test('maxBodyBytes 0 admits only empty frames', () => {
    const decoder = new FrameDecoder({ maxBodyBytes: 0 });
    assert.equal(
      decodeChunks([encodeFrame({ command: 3, seq: 1, flags: 0, body: new Uint8Array(0) })], decoder).length,
      1,
    );
    const err = catchError(() =>
      decodeChunks([encodeFrame({ command: 3, seq: 2, flags: 0, body: bytes(1, 0) })], decoder),
    );
    assert.ok(err instanceof ProtocolError);
    assert.equal(err.code, ErrorCode.FRAME_TOO_LARGE);
  });

  test('the default maximum is DEFAULT_MAX_BODY_BYTES', () => {
    const decoder = new FrameDecoder();
    assert.equal(decoder.maxBodyBytes, DEFAULT_MAX_BODY_BYTES);
    const header = new Uint8Array(HEADER_SIZE);
    writeHeader(header, 0, { command: 1, seq: 1, flags: 0, length: DEFAULT_MAX_BODY_BYTES });
    decoder.push(header, () => assert.fail('body not sent yet'));
    writeHeader(header, 0, { command: 1, seq: 1, flags: 0, length: DEFAULT_MAX_BODY_BYTES + 1 });
    const err = catchError(() => {
      new FrameDecoder().push(header, () => assert.fail('too large'));
    });
    assert.ok(err instanceof ProtocolError);
    assert.equal(err.code, ErrorCode.FRAME_TOO_LARGE);
  });

  test('the constructor refuses invalid maxBodyBytes with RangeError', () => {
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 32, -0.5]) {
      assert.throws(() => new FrameDecoder({ maxBodyBytes: bad }), RangeError, String(bad));
    }
    assert.equal(new FrameDecoder({ maxBodyBytes: 0 }).maxBodyBytes, 0);
    assert.equal(new FrameDecoder({ maxBodyBytes: 2 ** 32 - 1 }).maxBodyBytes, 2 ** 32 - 1);
  });

  test('an idle decoder holds 0 buffered bytes', () => {
    const decoder = new FrameDecoder();
    assert.equal(decoder.bufferedBytes, 0);
    assert.equal(decoder.error, undefined);
    decodeChunks([STREAM], decoder);
    assert.equal(decoder.bufferedBytes, 0);
    decodeChunks([STREAM.subarray(0, 40)], decoder);
    assert.notEqual(decoder.bufferedBytes, 0);
    decodeChunks([STREAM.subarray(40)], decoder);
    assert.equal(decoder.bufferedBytes, 0);
  });
});

describe('FrameDecoder: errors', () => {
  const BAD = Uint8Array.of(0x50, 0x4c, 0x01, 0x80); // reserved flag

  test('after an error the decoder is failed for good and rethrows the same error', () => {
    const decoder = new FrameDecoder();
    decodeChunks([STREAM.subarray(0, 3)], decoder);
    const first = catchError(() => {
      decoder.push(Uint8Array.of(0x80), () => assert.fail('no frame'));
    });
    assert.ok(first instanceof ProtocolError);
    assert.equal(first.code, ErrorCode.BAD_FLAGS);
    assert.equal(decoder.error, first);
    assert.equal(decoder.bufferedBytes, 0);
    // Valid bytes, empty chunks: all refused with the very same error object.
    for (const later of [STREAM, new Uint8Array(0), Uint8Array.of(0x50)]) {
      const again = catchError(() => {
        decoder.push(later, () => assert.fail('a failed decoder delivers nothing'));
      });
      assert.equal(again, first);
    }
  });

  test('frames before the bad bytes in the same chunk are delivered before the throw', () => {
    const chunk = concat([STREAM, BAD]);
    const decoder = new FrameDecoder();
    const got: Spec[] = [];
    const err = catchError(() => {
      decoder.push(chunk, (f) => got.push(...plain([f])));
    });
    assert.ok(err instanceof ProtocolError);
    assert.equal(err.code, ErrorCode.BAD_FLAGS);
    expectFrames(got, SPECS);
  });

  test('the same holds when the bad bytes follow a frame completed from an earlier chunk', () => {
    const wire = encodeFrame(SPECS[2]!);
    const decoder = new FrameDecoder();
    const got: Spec[] = [];
    decoder.push(wire.subarray(0, 100), (f) => got.push(...plain([f])));
    const err = catchError(() => {
      decoder.push(concat([wire.subarray(100), Uint8Array.of(0x47)]), (f) => got.push(...plain([f])));
    });
    assert.ok(err instanceof ProtocolError);
    assert.equal(err.code, ErrorCode.BAD_MAGIC);
    expectFrames(got, [SPECS[2]!]);
  });

  test('an error thrown by onFrame propagates unchanged and does not fail the decoder', () => {
    const decoder = new FrameDecoder();
    const boom = new Error('handler failed');
    const err = catchError(() => {
      decoder.push(STREAM, () => {
        throw boom;
      });
    });
    assert.equal(err, boom);
    assert.equal(decoder.error, undefined);
    assert.equal(decoder.bufferedBytes, 0);
    // The rest of that chunk was dropped (documented); the decoder goes on from the next chunk.
    expectFrames(decodeChunks([STREAM], decoder), SPECS);
  });

  test('a ProtocolError thrown by onFrame is the handler’s, not the stream’s: the decoder stays usable', () => {
    const decoder = new FrameDecoder();
    const handlerError = new ProtocolError(ErrorCode.BAD_BODY, 'handler could not decode the body');
    const err = catchError(() => {
      decoder.push(STREAM, () => {
        throw handlerError;
      });
    });
    assert.equal(err, handlerError);
    assert.equal(decoder.error, undefined);
    expectFrames(decodeChunks([STREAM], decoder), SPECS);
  });

  test('onFrame throwing on a body completed from split chunks leaves the decoder clean', () => {
    const wire = encodeFrame(SPECS[2]!);
    const decoder = new FrameDecoder();
    decoder.push(wire.subarray(0, 50), () => assert.fail('incomplete'));
    const boom = new TypeError('nope');
    const err = catchError(() => {
      decoder.push(wire.subarray(50), () => {
        throw boom;
      });
    });
    assert.equal(err, boom);
    assert.equal(decoder.error, undefined);
    assert.equal(decoder.bufferedBytes, 0);
    expectFrames(decodeChunks([STREAM], decoder), SPECS);
  });

  test('errors thrown by onFrame are not confused with a later protocol error', () => {
    const decoder = new FrameDecoder();
    let calls = 0;
    assert.throws(() => {
      decoder.push(encodeFrame(SPECS[0]!), () => {
        calls++;
        throw new Error('x');
      });
    }, /x/);
    // The next push fails for a real protocol reason: now the decoder is failed.
    const err = catchError(() => {
      decoder.push(BAD, () => calls++);
    });
    assert.ok(err instanceof ProtocolError);
    assert.equal(decoder.error, err);
    assert.equal(calls, 1);
  });
});
