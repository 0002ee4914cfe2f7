import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_MAX_BODY_BYTES,
  ErrorCode,
  errorCodeName,
  Flags,
  FrameDecoder,
  HEADER_SIZE,
  ParleyError,
  PROTOCOL_VERSION,
  ProtocolError,
  readHeader,
  writeHeader,
} from '@parley/protocol';
// Internal: not part of the public surface, reached directly for its unit tests.
import { checkHeaderPrefix } from '../src/header.js';

function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, '');
  assert.equal(clean.length % 2, 0, `odd hex fixture: ${s}`);
  return Uint8Array.from(clean.match(/../g) ?? [], (b) => parseInt(b, 16));
}

function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** Asserts `fn` throws a ProtocolError with `code`, and returns it. */
function throwsProtocol(fn: () => unknown, code: ErrorCode): ProtocolError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ProtocolError, `expected ProtocolError ${errorCodeName(code)}, got ${String(caught)}`);
  assert.equal(caught.codeName, errorCodeName(code));
  assert.equal(caught.code, code);
  return caught;
}

/**
 * Pushes `bytes` one at a time and returns the 1-based index of the byte whose push threw,
 * together with the error; fails if nothing throws.
 */
function failingByte(bytes: Uint8Array, decoder = new FrameDecoder()): { at: number; err: unknown } {
  for (let i = 0; i < bytes.length; i++) {
    try {
      decoder.push(bytes.subarray(i, i + 1), () => assert.fail('no frame expected'));
    } catch (err) {
      return { at: i + 1, err };
    }
  }
  return assert.fail('the decoder accepted every byte');
}

// 50 4c | 01 | 02 | 0101 | 01020304 | 00000005
const RESPONSE_FIXTURE = '504c 01 02 0101 01020304 00000005';

describe('writeHeader', () => {
  test('writes the fixed big-endian layout', () => {
    const buf = new Uint8Array(HEADER_SIZE);
    writeHeader(buf, 0, { command: 0x0101, seq: 0x01020304, flags: Flags.RESPONSE, length: 5 });
    assert.equal(toHex(buf), toHex(hex(RESPONSE_FIXTURE)));
  });

  test('writes the extremes of every field', () => {
    const buf = new Uint8Array(HEADER_SIZE);
    writeHeader(buf, 0, { command: 0xffff, seq: 0xffffffff, flags: 0x03, length: 0xffffffff });
    assert.equal(toHex(buf), toHex(hex('504c 01 03 ffff ffffffff ffffffff')));
    writeHeader(buf, 0, { command: 0, seq: 0, flags: 0, length: 0 });
    assert.equal(toHex(buf), toHex(hex('504c 01 00 0000 00000000 00000000')));
  });

  test('honours the offset and the view it is given, touching nothing else', () => {
    const backing = new Uint8Array(40).fill(0xee);
    const view = backing.subarray(5, 35); // byteOffset 5
    writeHeader(view, 3, { command: 0x0203, seq: 7, flags: 0, length: 0x1234 });
    assert.equal(toHex(backing.subarray(8, 22)), toHex(hex('504c 01 00 0203 00000007 00001234')));
    assert.ok(backing.subarray(0, 8).every((b) => b === 0xee));
    assert.ok(backing.subarray(22).every((b) => b === 0xee));
  });
});

describe('readHeader', () => {
  test('reads the fixture', () => {
    assert.deepEqual(readHeader(hex(RESPONSE_FIXTURE), 0, DEFAULT_MAX_BODY_BYTES), {
      command: 0x0101,
      seq: 0x01020304,
      flags: Flags.RESPONSE,
      length: 5,
    });
  });

  test('reads at an offset inside a view with its own byteOffset', () => {
    const backing = new Uint8Array(64);
    backing.set(hex('504c 01 01 ffff 80000001 00000010'), 11);
    const view = backing.subarray(4); // header at 7 within the view
    assert.deepEqual(readHeader(view, 7, 1024), { command: 0xffff, seq: 0x80000001, flags: 0x01, length: 16 });
  });

  test('round-trips with writeHeader', () => {
    const cases = [
      { command: 0, seq: 0, flags: 0, length: 0 },
      { command: 1, seq: 1, flags: 1, length: 1 },
      { command: 0x0503, seq: 0xfffffffe, flags: 3, length: 1024 },
      { command: 0xffff, seq: 0xffffffff, flags: 2, length: 0xffffffff },
    ];
    for (const h of cases) {
      const buf = new Uint8Array(HEADER_SIZE);
      writeHeader(buf, 0, h);
      assert.deepEqual(readHeader(buf, 0, 0xffffffff), h);
    }
  });

  test('a length equal to the maximum is accepted, one more is FRAME_TOO_LARGE', () => {
    assert.equal(readHeader(hex('504c 01 00 0001 00000001 00000064'), 0, 100).length, 100);
    const err = throwsProtocol(
      () => readHeader(hex('504c 01 00 0001 00000001 00000065'), 0, 100),
      ErrorCode.FRAME_TOO_LARGE,
    );
    assert.match(err.message, /101/);
  });

  test('rejects bad magic, version and flags', () => {
    throwsProtocol(() => readHeader(hex('514c 01 00 0001 00000001 00000000'), 0, 100), ErrorCode.BAD_MAGIC);
    throwsProtocol(() => readHeader(hex('5040 01 00 0001 00000001 00000000'), 0, 100), ErrorCode.BAD_MAGIC);
    throwsProtocol(() => readHeader(hex('504c 02 00 0001 00000001 00000000'), 0, 100), ErrorCode.UNSUPPORTED_VERSION);
    throwsProtocol(() => readHeader(hex('504c 00 00 0001 00000001 00000000'), 0, 100), ErrorCode.UNSUPPORTED_VERSION);
    throwsProtocol(() => readHeader(hex('504c 01 04 0001 00000001 00000000'), 0, 100), ErrorCode.BAD_FLAGS);
    throwsProtocol(() => readHeader(hex('504c 01 80 0001 00000001 00000000'), 0, 100), ErrorCode.BAD_FLAGS);
  });

  test('checks the header before the length', () => {
    // Bad flags and an oversize length: the flags are reported (they come first on the wire).
    throwsProtocol(() => readHeader(hex('504c 01 10 0001 00000001 ffffffff'), 0, 100), ErrorCode.BAD_FLAGS);
  });
});

describe('checkHeaderPrefix', () => {
  test('accepts every prefix of a valid header', () => {
    const h = hex('504c 01 03 ffff ffffffff ffffffff');
    for (let n = 0; n <= HEADER_SIZE; n++) checkHeaderPrefix(h, 0, n);
  });

  test('only looks at the first `count` bytes from `offset`', () => {
    const buf = hex('00 00 504c 01 ff'); // a Parley prefix at offset 2, then bad flags
    checkHeaderPrefix(buf, 2, 3);
    throwsProtocol(() => {
      checkHeaderPrefix(buf, 2, 4);
    }, ErrorCode.BAD_FLAGS);
    checkHeaderPrefix(hex('ff'), 0, 0); // nothing to check yet
  });

  test('refuses each field as soon as it is present', () => {
    throwsProtocol(() => {
      checkHeaderPrefix(hex('47'), 0, 1);
    }, ErrorCode.BAD_MAGIC);
    throwsProtocol(() => {
      checkHeaderPrefix(hex('504f'), 0, 2);
    }, ErrorCode.BAD_MAGIC);
    throwsProtocol(() => {
      checkHeaderPrefix(hex('504c 02'), 0, 3);
    }, ErrorCode.UNSUPPORTED_VERSION);
    throwsProtocol(() => {
      checkHeaderPrefix(hex('504c 01 04'), 0, 4);
    }, ErrorCode.BAD_FLAGS);
    for (const flags of [0x00, Flags.COMPRESSED, Flags.RESPONSE, Flags.COMPRESSED | Flags.RESPONSE]) {
      checkHeaderPrefix(Uint8Array.of(0x50, 0x4c, PROTOCOL_VERSION, flags), 0, 4);
    }
    for (let bit = 2; bit < 8; bit++) {
      throwsProtocol(() => {
        checkHeaderPrefix(Uint8Array.of(0x50, 0x4c, 1, 1 << bit), 0, 4);
      }, ErrorCode.BAD_FLAGS);
    }
  });

  test('errors are ProtocolErrors with stable names', () => {
    const err = throwsProtocol(() => {
      checkHeaderPrefix(hex('00'), 0, 1);
    }, ErrorCode.BAD_MAGIC);
    assert.ok(err instanceof ParleyError);
    assert.ok(err instanceof Error);
    assert.equal(err.name, 'ProtocolError');
    assert.equal(err.codeName, 'BAD_MAGIC');
    assert.match(err.message, /00/);
  });
});

describe('early rejection on a stream', () => {
  const ascii = (s: string) => new TextEncoder().encode(s);

  test('an HTTP GET is refused at the first byte', () => {
    const { at, err } = failingByte(ascii('GET / HTTP/1.1\r\nHost: example\r\n\r\n'));
    assert.equal(at, 1);
    assert.ok(err instanceof ProtocolError);
    assert.equal(err.code, ErrorCode.BAD_MAGIC);
    assert.match(err.message, /HTTP/);
  });

  test('HTTP methods starting with P are refused at the second byte', () => {
    for (const req of ['POST / HTTP/1.1\r\n', 'PUT /x HTTP/1.1\r\n', 'PATCH / HTTP/1.1\r\n', 'PRI * HTTP/2.0\r\n']) {
      const { at, err } = failingByte(ascii(req));
      assert.equal(at, 2, req);
      assert.ok(err instanceof ProtocolError);
      assert.equal(err.code, ErrorCode.BAD_MAGIC, req);
      assert.match(err.message, /HTTP/, req);
    }
  });

  test('a TLS ClientHello is refused at the first byte', () => {
    // Record header (handshake, TLS 1.0 record version, length) + ClientHello start.
    const hello = hex('16 0301 00f8 01 0000f4 0303 000102030405060708090a0b0c0d0e0f');
    const { at, err } = failingByte(hello);
    assert.equal(at, 1);
    assert.ok(err instanceof ProtocolError);
    assert.equal(err.code, ErrorCode.BAD_MAGIC);
    assert.match(err.message, /TLS/);
  });

  test('whole chunks of foreign bytes are refused too, buffering nothing', () => {
    for (const bytes of [ascii('GET / HTTP/1.1\r\n\r\n'), hex('16 0301 00f8 01 0000f4 0303')]) {
      const decoder = new FrameDecoder();
      throwsProtocol(() => {
        decoder.push(bytes, () => assert.fail('no frame expected'));
      }, ErrorCode.BAD_MAGIC);
      assert.equal(decoder.bufferedBytes, 0);
    }
  });

  test('an unknown version is refused at the third byte', () => {
    const { at, err } = failingByte(hex('504c 02 00 0001 00000001 00000000'));
    assert.equal(at, 3);
    assert.ok(err instanceof ProtocolError);
    assert.equal(err.code, ErrorCode.UNSUPPORTED_VERSION);
  });

  test('reserved flag bits are refused at the fourth byte', () => {
    const { at, err } = failingByte(hex('504c 01 40 0001 00000001 00000000'));
    assert.equal(at, 4);
    assert.ok(err instanceof ProtocolError);
    assert.equal(err.code, ErrorCode.BAD_FLAGS);
  });

  test('a header announcing 2 GiB is refused before any body byte is buffered', () => {
    const header = hex('504c 01 00 0101 00000001 80000000');
    // Byte by byte: the header accumulates, then its last byte fails it.
    const decoder = new FrameDecoder();
    for (let i = 0; i < HEADER_SIZE - 1; i++) {
      decoder.push(header.subarray(i, i + 1), () => assert.fail('no frame expected'));
      assert.equal(decoder.bufferedBytes, i + 1);
    }
    const err = throwsProtocol(() => {
      decoder.push(header.subarray(HEADER_SIZE - 1), () => assert.fail('no frame expected'));
    }, ErrorCode.FRAME_TOO_LARGE);
    assert.equal(decoder.bufferedBytes, 0);
    assert.equal(decoder.error, err);

    // In one chunk followed by body bytes: none of them is kept.
    const withBody = new Uint8Array(HEADER_SIZE + 4096);
    withBody.set(header);
    const second = new FrameDecoder();
    throwsProtocol(() => {
      second.push(withBody, () => assert.fail('no frame expected'));
    }, ErrorCode.FRAME_TOO_LARGE);
    assert.equal(second.bufferedBytes, 0);
  });
});
