// Checks test-vectors/frames.json against this implementation: every frame decodes (whole
// and one byte at a time) to its header fields and body, re-encodes to its exact bytes unless
// marked decode-only, and every error vector is refused with its code. Also checks that the
// committed file is what scripts/make-vectors.ts generates now.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  type CommandWith,
  type Frame,
  type Role,
  type StatusInput,
  DEFAULT_MAX_BODY_BYTES,
  FrameCodec,
  FrameDecoder,
  HEADER_SIZE,
  ProtocolError,
  commandName,
  decodeMessageFrame,
  errorCodeName,
  messageTypeFor,
  pb,
  roleOf,
  schema,
} from '@parley/protocol';
import {
  type ErrorVector,
  type FrameFields,
  type FrameVector,
  type StickyVector,
  type Vector,
  type VectorFile,
  renderVectors,
} from '../scripts/make-vectors.js';

const FILE = new URL('../test-vectors/frames.json', import.meta.url);
const text = readFileSync(FILE, 'utf8');
const file = JSON.parse(text) as VectorFile;
const codec = new FrameCodec();

function fromHex(hex: string): Uint8Array {
  assert.match(hex, /^(?:[0-9a-f]{2})+$/, 'hex is lowercase, whole bytes');
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function isError(v: Vector): v is ErrorVector {
  return 'error' in v;
}

function isSticky(v: Vector): v is StickyVector {
  return 'frames' in v;
}

/** Feeds `bytes` to a fresh FrameDecoder in chunks of `size` bytes (whole when undefined). */
function decodeStream(bytes: Uint8Array, size = bytes.length, maxBodyBytes?: number): Frame[] {
  const decoder = new FrameDecoder(maxBodyBytes === undefined ? {} : { maxBodyBytes });
  const frames: Frame[] = [];
  for (let off = 0; off < bytes.length; off += size) {
    decoder.push(bytes.subarray(off, off + size), (frame) => frames.push(frame));
  }
  assert.equal(decoder.bufferedBytes, 0, 'no bytes left over after the last frame');
  return frames;
}

// protobufjs returns 64-bit fields as Long objects when the `long` package is loaded;
// the vectors hold numbers. Compare values, whatever the representation.
interface LongLike {
  toNumber(): number;
  isZero(): boolean;
}

function isLong(value: unknown): value is LongLike {
  return (
    value !== null &&
    typeof value === 'object' &&
    'low' in value &&
    'high' in value &&
    typeof (value as { toNumber?: unknown }).toNumber === 'function'
  );
}

function isDefault(value: unknown): boolean {
  return (
    value === undefined ||
    value === null ||
    value === 0 ||
    value === '' ||
    value === false ||
    (Array.isArray(value) && value.length === 0) ||
    (isLong(value) && value.isZero())
  );
}

/**
 * A message as plain data without default-valued fields (proto3 does not send them, and a
 * decoder may or may not materialise them). Sub-messages are kept even when empty: their
 * presence is meaningful.
 */
function normalise(value: unknown): unknown {
  if (isLong(value)) return value.toNumber();
  if (Array.isArray(value)) return value.map(normalise);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(value)) {
      if (!isDefault(field)) out[key] = normalise(field);
    }
    return out;
  }
  return value;
}

function decodeBody(frame: Frame, role: Role, c: FrameCodec = codec): unknown {
  if (role === 'response' && messageTypeFor(frame.command, 'response') === undefined) {
    // A command this side does not know: any response reads as ResponseHead.
    return { status: c.responseStatus(frame) };
  }
  return c.decode(frame, role);
}

function encode(f: FrameFields): Uint8Array {
  switch (f.role) {
    case 'request':
      return codec.request(f.commandValue as CommandWith<'request'>, f.seq, f.body);
    case 'response':
      if (messageTypeFor(f.commandValue, 'response') === undefined) {
        return codec.errorResponse(f.commandValue, f.seq, (f.body as { status: StatusInput }).status);
      }
      return codec.response(f.commandValue as CommandWith<'response'>, f.seq, f.body);
    case 'push':
      return codec.push(f.commandValue as CommandWith<'push'>, f.body, f.seq);
  }
}

function checkFrame(frame: Frame, f: FrameFields, label: string): void {
  assert.equal(frame.command, f.commandValue, `${label}: command`);
  assert.equal(commandName(f.commandValue) ?? null, f.command, `${label}: command name`);
  assert.equal(frame.seq, f.seq, `${label}: seq`);
  assert.equal(frame.flags, f.flags, `${label}: flags`);
  const sender = f.role === 'request' ? 'client' : 'server';
  assert.equal(roleOf(frame, sender), f.role, `${label}: role`);

  const type = messageTypeFor(f.commandValue, f.role) ?? pb.ResponseHead;
  assert.equal((pb as unknown as Record<string, unknown>)[f.bodyType], type, `${label}: bodyType`);

  assert.deepStrictEqual(normalise(decodeBody(frame, f.role)), normalise(f.body), `${label}: body`);
  if (f.role === 'response') {
    const status = (f.body as { status?: unknown }).status ?? {};
    assert.deepStrictEqual(normalise(codec.responseStatus(frame)), normalise(status), `${label}: status`);
  }
}

function checkFrameVector(v: FrameVector): void {
  const bytes = fromHex(v.hex);
  assert.equal(bytes.length, HEADER_SIZE + new DataView(bytes.buffer).getUint32(10), 'one whole frame');
  for (const size of [bytes.length, 1]) {
    const frames = decodeStream(bytes, size);
    assert.equal(frames.length, 1);
    checkFrame(frames[0]!, v, `${v.name} (chunks of ${String(size)})`);
  }
  checkFrame(decodeMessageFrame(bytes), v, `${v.name} (as one WebSocket message)`);
  if (v.encodeExact !== false) assert.equal(toHex(encode(v)), v.hex, `${v.name}: re-encoded bytes`);
}

function checkStickyVector(v: StickyVector): void {
  const bytes = fromHex(v.hex);
  assert.ok(v.frames.length >= 2);
  assert.equal(v.frames.map((f) => f.hex).join(''), v.hex, 'the chunk is the frames back to back');
  // Whole, one byte at a time, and split in two at every position.
  const splits: Uint8Array[][] = [[bytes], Array.from(bytes, (b) => Uint8Array.of(b))];
  for (let cut = 1; cut < bytes.length; cut++) splits.push([bytes.subarray(0, cut), bytes.subarray(cut)]);
  for (const chunks of splits) {
    const decoder = new FrameDecoder();
    const frames: Frame[] = [];
    for (const chunk of chunks) decoder.push(chunk, (frame) => frames.push(frame));
    assert.equal(decoder.bufferedBytes, 0);
    assert.equal(frames.length, v.frames.length, `${v.name}: frame count in ${String(chunks.length)} chunks`);
    v.frames.forEach((f, i) => {
      checkFrame(frames[i]!, f, `${v.name} frame ${String(i)} (${String(chunks.length)} chunks)`);
    });
  }
  for (const f of v.frames) assert.equal(toHex(encode(f)), f.hex, `${v.name}: re-encoded ${f.command ?? ''}`);
}

function expectProtocolError(v: ErrorVector, run: () => unknown, how: string): void {
  assert.throws(
    run,
    (err: unknown) => {
      assert.ok(err instanceof ProtocolError, `${v.name} ${how}: ${String(err)} is not a ProtocolError`);
      assert.equal(err.code, v.errorCode, `${v.name} ${how}: code (${err.message})`);
      assert.equal(err.codeName, v.error, `${v.name} ${how}: code name`);
      return true;
    },
    `${v.name} ${how}: must throw`,
  );
}

function checkErrorVector(v: ErrorVector): void {
  assert.equal(errorCodeName(v.errorCode), v.error, 'error name and code agree');
  const bytes = fromHex(v.hex);
  const max = v.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (v.stage === 'frame') {
    // Refused by the frame decoder, however the bytes arrive.
    for (const size of [bytes.length, 1]) {
      expectProtocolError(v, () => decodeStream(bytes, size, max), `in chunks of ${String(size)}`);
    }
    expectProtocolError(v, () => decodeMessageFrame(bytes, max), 'as one WebSocket message');
    return;
  }
  // The frame is well-formed; its body is refused by the codec.
  assert.equal(v.stage, 'body');
  const role = v.role;
  assert.ok(role !== undefined, 'body-stage vectors give the role');
  const bodyCodec = new FrameCodec({ maxBodyBytes: max });
  const decoded = [decodeStream(bytes, bytes.length, max), decodeStream(bytes, 1, max)].map((frames) => {
    assert.equal(frames.length, 1);
    return frames[0]!;
  });
  decoded.push(decodeMessageFrame(bytes, max));
  for (const frame of decoded) {
    assert.equal(frame.command, v.commandValue);
    assert.equal(commandName(frame.command) ?? null, v.command);
    assert.equal(frame.seq, v.seq);
    assert.equal(frame.flags, v.flags);
    expectProtocolError(v, () => decodeBody(frame, role, bodyCodec), 'at body decode');
  }
}

test('frames.json is what scripts/make-vectors.ts generates', () => {
  assert.equal(text, renderVectors(), 'stale: run `npm run vectors -w packages/protocol` and commit the result');
});

test('frames.json has a format, unique names and every (command, role) pair', () => {
  assert.equal(typeof file.format, 'string');
  const names = file.vectors.map((v) => v.name);
  assert.equal(new Set(names).size, names.length, 'unique names');
  const frames = file.vectors.flatMap((v): FrameFields[] => (isError(v) ? [] : isSticky(v) ? v.frames : [v]));
  const seen = new Set(frames.map((f) => `${String(f.commandValue)}/${f.role}`));
  const missing: string[] = [];
  for (const [command, roles] of Object.entries(schema)) {
    for (const role of Object.keys(roles)) {
      if (!seen.has(`${command}/${role}`)) missing.push(`${commandName(Number(command)) ?? command} ${role}`);
    }
  }
  assert.deepStrictEqual(missing, [], 'command/role pairs without a vector');
  const errors = new Set(file.vectors.filter(isError).map((v) => v.error));
  for (const code of [
    'BAD_MAGIC',
    'UNSUPPORTED_VERSION',
    'FRAME_TOO_LARGE',
    'BAD_FLAGS',
    'BAD_BODY',
    'DECOMPRESS_FAILED',
  ]) {
    assert.ok(errors.has(code), `an error vector for ${code}`);
  }
});

for (const v of file.vectors) {
  test(`vector ${v.name}`, () => {
    if (isError(v)) checkErrorVector(v);
    else if (isSticky(v)) checkStickyVector(v);
    else checkFrameVector(v);
  });
}
