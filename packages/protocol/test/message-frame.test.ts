import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_MAX_BODY_BYTES,
  ErrorCode,
  Flags,
  HEADER_SIZE,
  ProtocolError,
  decodeMessageFrame,
  writeHeader,
} from '@parley/protocol';

function message(length: number, body: Uint8Array, flags = 0): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE + body.length);
  writeHeader(out, 0, { command: 0x0102, seq: 0xabcdef01, flags, length });
  out.set(body, HEADER_SIZE);
  return out;
}

function refused(bytes: Uint8Array, code: ErrorCode, maxBodyBytes?: number): ProtocolError {
  let caught: unknown;
  try {
    decodeMessageFrame(bytes, maxBodyBytes);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ProtocolError, `expected a ProtocolError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

const BODY = Uint8Array.from({ length: 40 }, (_, i) => i + 1);

describe('decodeMessageFrame', () => {
  test('an exact frame decodes, its body a view into the message', () => {
    const bytes = message(BODY.length, BODY, Flags.RESPONSE);
    const frame = decodeMessageFrame(bytes);
    assert.equal(frame.command, 0x0102);
    assert.equal(frame.seq, 0xabcdef01);
    assert.equal(frame.flags, Flags.RESPONSE);
    assert.deepEqual(frame.body, BODY);
    assert.equal(frame.body.buffer, bytes.buffer);
    assert.equal(frame.body.byteOffset, bytes.byteOffset + HEADER_SIZE);
    assert.equal(frame.body.length, BODY.length);
  });

  test('works on a message that is itself a view at an offset', () => {
    const backing = new Uint8Array(100);
    backing.set(message(BODY.length, BODY), 17);
    const view = backing.subarray(17, 17 + HEADER_SIZE + BODY.length);
    const frame = decodeMessageFrame(view);
    assert.equal(frame.seq, 0xabcdef01);
    assert.deepEqual(frame.body, BODY);
    assert.equal(frame.body.byteOffset, 17 + HEADER_SIZE);
  });

  test('a header-only message has an empty body', () => {
    const frame = decodeMessageFrame(message(0, new Uint8Array(0)));
    assert.equal(frame.body.length, 0);
    assert.equal(frame.command, 0x0102);
  });

  test('a message shorter than a header is LENGTH_MISMATCH when what there is looks right', () => {
    const full = message(0, new Uint8Array(0));
    for (let n = 0; n < HEADER_SIZE; n++) {
      const err = refused(full.subarray(0, n), ErrorCode.LENGTH_MISMATCH);
      assert.match(err.message, new RegExp(`${String(n)} bytes`));
    }
  });

  test('a short message with a foreign start is BAD_MAGIC, not LENGTH_MISMATCH', () => {
    refused(new TextEncoder().encode('GET /'), ErrorCode.BAD_MAGIC);
    refused(Uint8Array.of(0x16, 0x03, 0x01), ErrorCode.BAD_MAGIC);
    refused(Uint8Array.of(0x50, 0x4c, 0x07), ErrorCode.UNSUPPORTED_VERSION);
    refused(Uint8Array.of(0x50, 0x4c, 0x01, 0x08), ErrorCode.BAD_FLAGS);
  });

  test('a body longer than announced is LENGTH_MISMATCH', () => {
    const err = refused(message(BODY.length - 1, BODY), ErrorCode.LENGTH_MISMATCH);
    assert.match(err.message, /39/);
    assert.match(err.message, /40/);
    // Two frames glued in one message are not accepted either: one message, one frame.
    const one = message(BODY.length, BODY);
    const two = new Uint8Array(one.length * 2);
    two.set(one);
    two.set(one, one.length);
    refused(two, ErrorCode.LENGTH_MISMATCH);
  });

  test('a body shorter than announced is LENGTH_MISMATCH', () => {
    refused(message(BODY.length + 1, BODY), ErrorCode.LENGTH_MISMATCH);
    refused(message(1, new Uint8Array(0)), ErrorCode.LENGTH_MISMATCH);
  });

  test('bad magic is BAD_MAGIC', () => {
    const bytes = message(BODY.length, BODY);
    bytes[0] = 0x51;
    refused(bytes, ErrorCode.BAD_MAGIC);
    bytes[0] = 0x50;
    bytes[1] = 0x4d;
    refused(bytes, ErrorCode.BAD_MAGIC);
    refused(new TextEncoder().encode('GET /ws HTTP/1.1\r\nHost: x\r\n\r\n'), ErrorCode.BAD_MAGIC);
  });

  test('bad version and flags are refused', () => {
    const bytes = message(BODY.length, BODY);
    bytes[2] = 2;
    refused(bytes, ErrorCode.UNSUPPORTED_VERSION);
    bytes[2] = 1;
    bytes[3] = 0x04;
    refused(bytes, ErrorCode.BAD_FLAGS);
  });

  test('oversize is FRAME_TOO_LARGE, checked before the length comparison', () => {
    // The header alone, announcing more than the maximum: too large, not a length mismatch.
    refused(message(DEFAULT_MAX_BODY_BYTES + 1, new Uint8Array(0)), ErrorCode.FRAME_TOO_LARGE);
    refused(message(0xffffffff, new Uint8Array(0)), ErrorCode.FRAME_TOO_LARGE);
    // A custom maximum: exactly it passes, one more byte fails.
    assert.equal(decodeMessageFrame(message(BODY.length, BODY), BODY.length).body.length, BODY.length);
    refused(message(BODY.length, BODY), ErrorCode.FRAME_TOO_LARGE, BODY.length - 1);
    // Exactly the default maximum passes.
    const big = new Uint8Array(DEFAULT_MAX_BODY_BYTES);
    assert.equal(decodeMessageFrame(message(big.length, big)).body.length, DEFAULT_MAX_BODY_BYTES);
  });
});
