// Micro-benchmark: Parley frames (14-byte header + protobufjs body) against a JSON baseline
// (JSON.stringify + TextEncoder in a 4-byte length-prefixed frame) on the same messages, in
// the same run. Figures are medians of several timed rounds; Parley and JSON rounds alternate
// so both see the same machine load, and the ratio between them is the figure to quote.
//
//   npm run bench -w packages/protocol [-- --quick]
//
// A hand loop rather than tinybench: one frame takes well under a microsecond, so each timed
// call works on a batch (or a whole stream), and each round lasts long enough to include the
// garbage collection its allocations cause (a per-call median would hide it).
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Command, type Frame, FrameCodec, FrameDecoder, type PushInput, type RequestInput, pb } from '@parley/protocol';

const QUICK = process.argv.includes('--quick');
const ROUNDS = QUICK ? 5 : 7;
const ROUND_MS = QUICK ? 40 : 200;
const WARMUP_MS = QUICK ? 30 : 100; // per side, right before a row's rounds
const PREWARM_MS = QUICK ? 10 : 40; // per side, for every row before any is timed
const ENCODE_BATCH = 200; // frames per timed call
const STREAM_BYTES = 256 * 1024; // decode: frames per pass fill about this many bytes

type MessagePushInput = PushInput<typeof Command.MESSAGE>;
type SendRequestInput = RequestInput<typeof Command.SEND>;

// ---------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------

// Chat-like text from a seeded generator: mostly English, some accents, CJK and emoji, so
// that UTF-8 handling is exercised and deflate sees text that compresses like real text.
const WORDS = (
  'the a to and of you I it is that for on in we with this be are at so not can have will do ' +
  'meeting tomorrow lunch deploy release review ship today later sounds good thanks please ' +
  'check the logs build failed fixed merged ticket customer call back tonight weekend café ' +
  'naïve 好的 明天见 谢谢 没问题 👍 🎉 ok yes no maybe'
).split(' ');

function chatText(bytes: number, seed: number): string {
  let state = seed >>> 0;
  const next = (): number => {
    // mulberry32
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let text = '';
  let size = 0;
  for (;;) {
    let word = WORDS[Math.floor(next() * WORDS.length)]!;
    if (next() < 0.08) word += next() < 0.5 ? '.' : ',';
    const add = (text === '' ? 0 : 1) + Buffer.byteLength(word);
    if (size + add > bytes) break;
    text += text === '' ? word : ` ${word}`;
    size += add;
  }
  return text + '.'.repeat(bytes - size);
}

function messagePush(text: string): MessagePushInput {
  return {
    message: {
      conversationId: 'g_01JDA7Q2X9K3M5N6P8R0S2T4V6',
      seq: 184_467,
      messageId: '01JDA7R3B5C7D9E1F3G5H7J9K1',
      senderId: 'u_alice',
      senderDeviceId: 'd_01JD8WZ4Y6A8C0E2G4J6M8P0R2',
      clientMessageId: '01JDA7R2Z4Y6X8W0V2T4S6R8Q0',
      serverTime: 1_732_760_000_123,
      content: { type: pb.MessageType.TEXT, text },
      conversationType: pb.ConversationType.GROUP,
    },
    conversationVersion: 9_123_456,
  };
}

function sendRequest(text: string): SendRequestInput {
  return {
    conversationId: 'g_01JDA7Q2X9K3M5N6P8R0S2T4V6',
    clientMessageId: '01JDA7R2Z4Y6X8W0V2T4S6R8Q0',
    content: { type: pb.MessageType.TEXT, text },
  };
}

// ---------------------------------------------------------------------------
// JSON baseline: 4-byte big-endian length + UTF-8 JSON. Written as a competent
// implementation would be: one reused scratch buffer on encode, and a splitter that hands
// out whole frames as views and copies only frames that straddle chunks (as FrameDecoder).
// ---------------------------------------------------------------------------

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();
const JSON_MAX_BODY = 1024 * 1024;

class JsonFramer {
  #scratch = new Uint8Array(64 * 1024);
  #body = this.#scratch.subarray(4);
  #view = new DataView(this.#scratch.buffer);

  encode(value: unknown): Uint8Array {
    const text = JSON.stringify(value);
    if (4 + text.length * 3 > this.#scratch.length) {
      this.#scratch = new Uint8Array(4 + text.length * 3);
      this.#body = this.#scratch.subarray(4);
      this.#view = new DataView(this.#scratch.buffer);
    }
    const { written } = textEncoder.encodeInto(text, this.#body);
    this.#view.setUint32(0, written);
    return this.#scratch.slice(0, 4 + written);
  }
}

class JsonSplitter {
  #head = new Uint8Array(4);
  #headFill = 0;
  #body: Uint8Array | undefined;
  #bodyFill = 0;

  push(chunk: Uint8Array, onMessage: (value: unknown) => void): void {
    let off = 0;
    while (off < chunk.length) {
      if (this.#body !== undefined) {
        const take = Math.min(this.#body.length - this.#bodyFill, chunk.length - off);
        this.#body.set(chunk.subarray(off, off + take), this.#bodyFill);
        this.#bodyFill += take;
        off += take;
        if (this.#bodyFill === this.#body.length) {
          const body = this.#body;
          this.#body = undefined;
          onMessage(JSON.parse(textDecoder.decode(body)));
        }
        continue;
      }
      let length: number;
      if (this.#headFill === 0 && chunk.length - off >= 4) {
        length = readU32(chunk, off);
        off += 4;
      } else {
        const take = Math.min(4 - this.#headFill, chunk.length - off);
        this.#head.set(chunk.subarray(off, off + take), this.#headFill);
        this.#headFill += take;
        off += take;
        if (this.#headFill < 4) return;
        this.#headFill = 0;
        length = readU32(this.#head, 0);
      }
      if (length > JSON_MAX_BODY) throw new RangeError(`JSON frame of ${length} bytes`);
      if (chunk.length - off >= length) {
        onMessage(JSON.parse(textDecoder.decode(chunk.subarray(off, off + length))));
        off += length;
      } else {
        this.#body = new Uint8Array(length);
        this.#bodyFill = 0;
      }
    }
  }
}

function readU32(buf: Uint8Array, off: number): number {
  return ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
}

// ---------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------

/** One side of a row: a call that handles `framesPerCall` frames of `frameBytes` each. */
interface Side {
  frameBytes: number;
  framesPerCall: number;
  call: () => number; // returns a checksum, so that no work can be optimised away
}

interface Row {
  message: string;
  op: string;
  parley: Side;
  json: Side;
}

/** Concatenates `count` copies of `frame` and cuts the stream into Buffer chunks (as a socket delivers). */
function chunked(frame: Uint8Array, count: number, chunkBytes: number): Buffer[] {
  const stream = Buffer.alloc(frame.length * count);
  for (let i = 0; i < count; i++) stream.set(frame, i * frame.length);
  const chunks: Buffer[] = [];
  for (let off = 0; off < stream.length; off += chunkBytes) chunks.push(stream.subarray(off, off + chunkBytes));
  return chunks;
}

interface Subject<T> {
  name: string;
  value: T;
  encode: (codec: FrameCodec, value: T) => Uint8Array;
  decode: (codec: FrameCodec, frame: Frame) => T;
  text: (value: T) => string;
}

function pushSubject(name: string, text: string): Subject<MessagePushInput> {
  return {
    name,
    value: messagePush(text),
    encode: (codec, value) => codec.push(Command.MESSAGE, value),
    decode: (codec, frame) => codec.decodePush(Command.MESSAGE, frame),
    text: (value) => value.message?.content?.text ?? '',
  };
}

function requestSubject(name: string, text: string): Subject<SendRequestInput> {
  return {
    name,
    value: sendRequest(text),
    encode: (codec, value) => codec.request(Command.SEND, 7, value),
    decode: (codec, frame) => codec.decodeRequest(Command.SEND, frame),
    text: (value) => value.content?.text ?? '',
  };
}

function encodeRow<T>(subject: Subject<T>, codec: FrameCodec): Row {
  const framer = new JsonFramer();
  const { value } = subject;
  return {
    message: subject.name,
    op: 'encode',
    parley: {
      frameBytes: subject.encode(codec, value).length,
      framesPerCall: ENCODE_BATCH,
      call: () => {
        let sum = 0;
        for (let i = 0; i < ENCODE_BATCH; i++) sum += subject.encode(codec, value).length;
        return sum;
      },
    },
    json: {
      frameBytes: framer.encode(value).length,
      framesPerCall: ENCODE_BATCH,
      call: () => {
        let sum = 0;
        for (let i = 0; i < ENCODE_BATCH; i++) sum += framer.encode(value).length;
        return sum;
      },
    },
  };
}

function decodeRow<T>(subject: Subject<T>, codec: FrameCodec, op: string, chunkBytes: number): Row {
  const parleyFrame = subject.encode(codec, subject.value);
  const jsonFrame = new JsonFramer().encode(subject.value);
  const count = Math.ceil(STREAM_BYTES / parleyFrame.length);
  const expected = subject.text(subject.value);

  const parleyChunks = chunked(parleyFrame, count, chunkBytes);
  const decoder = new FrameDecoder();
  let sum = 0;
  let last = '';
  const onFrame = (frame: Frame): void => {
    last = subject.text(subject.decode(codec, frame));
    sum += last.length;
  };
  const parleyCall = (): number => {
    sum = 0;
    for (const chunk of parleyChunks) decoder.push(chunk, onFrame);
    return sum;
  };

  const jsonChunks = chunked(jsonFrame, count, chunkBytes);
  const splitter = new JsonSplitter();
  let jsonSum = 0;
  let jsonLast = '';
  const onMessage = (value: unknown): void => {
    jsonLast = subject.text(value as T);
    jsonSum += jsonLast.length;
  };
  const jsonCall = (): number => {
    jsonSum = 0;
    for (const chunk of jsonChunks) splitter.push(chunk, onMessage);
    return jsonSum;
  };

  // Both sides must decode every frame, and decode it right, before they are timed.
  if (parleyCall() !== expected.length * count || last !== expected || decoder.bufferedBytes !== 0) {
    throw new Error(`${subject.name} ${op}: Parley decode check failed`);
  }
  if (jsonCall() !== expected.length * count || jsonLast !== expected) {
    throw new Error(`${subject.name} ${op}: JSON decode check failed`);
  }
  return {
    message: subject.name,
    op,
    parley: { frameBytes: parleyFrame.length, framesPerCall: count, call: parleyCall },
    json: { frameBytes: jsonFrame.length, framesPerCall: count, call: jsonCall },
  };
}

const SMALL_TEXT = chatText(100, 1);
const LARGE_TEXT = chatText(4096, 2);
const plain = new FrameCodec();
const deflating = new FrameCodec({ compressAboveBytes: 1024 });

const pushSmall = pushSubject('MessagePush, small', SMALL_TEXT);
const pushLarge = pushSubject('MessagePush, 4 KiB', LARGE_TEXT);
const pushDeflate = pushSubject('MessagePush, 4 KiB, deflated', LARGE_TEXT);
const sendSmall = requestSubject('SendMessageRequest, small', SMALL_TEXT);
const sendLarge = requestSubject('SendMessageRequest, 4 KiB', LARGE_TEXT);

const STICKY = 'decode sticky (64 KiB chunks)';
const MTU = 'decode split (1,400 B chunks)';
const TINY = 'decode split (7 B chunks)';

const rows: Row[] = [
  encodeRow(pushSmall, plain),
  decodeRow(pushSmall, plain, STICKY, 64 * 1024),
  decodeRow(pushSmall, plain, MTU, 1400),
  decodeRow(pushSmall, plain, TINY, 7),
  encodeRow(pushLarge, plain),
  decodeRow(pushLarge, plain, STICKY, 64 * 1024),
  decodeRow(pushLarge, plain, MTU, 1400),
  decodeRow(pushLarge, plain, TINY, 7),
  encodeRow(sendSmall, plain),
  decodeRow(sendSmall, plain, STICKY, 64 * 1024),
  encodeRow(sendLarge, plain),
  decodeRow(sendLarge, plain, STICKY, 64 * 1024),
  encodeRow(pushDeflate, deflating),
  decodeRow(pushDeflate, deflating, STICKY, 64 * 1024),
];

// ---------------------------------------------------------------------------
// Timing
// ---------------------------------------------------------------------------

let checksum = 0;

/** Runs `side` for about `ms` milliseconds; returns frames per second. */
function round(side: Side, ms: number): number {
  let calls = 0;
  const start = performance.now();
  let elapsed: number;
  do {
    checksum += side.call();
    calls++;
    elapsed = performance.now() - start;
  } while (elapsed < ms);
  return (calls * side.framesPerCall * 1000) / elapsed;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

interface Result {
  message: string;
  op: string;
  parley: { frameBytes: number; framesPerSec: number; mbPerSec: number; rounds: number[] };
  json: { frameBytes: number; framesPerSec: number; mbPerSec: number; rounds: number[] };
  ratio: number; // of the medians
  ratioRange: [number, number]; // lowest and highest ratio of one Parley round to its paired JSON round
}

function measure(row: Row): Result {
  round(row.parley, WARMUP_MS);
  round(row.json, WARMUP_MS);
  const p: number[] = [];
  const j: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    // Alternate which side goes first, so neither always runs right after the other's garbage.
    if (i % 2 === 0) {
      p.push(round(row.parley, ROUND_MS));
      j.push(round(row.json, ROUND_MS));
    } else {
      j.push(round(row.json, ROUND_MS));
      p.push(round(row.parley, ROUND_MS));
    }
  }
  const side = (s: Side, rounds: number[]): Result['parley'] => {
    const framesPerSec = median(rounds);
    return { frameBytes: s.frameBytes, framesPerSec, mbPerSec: (framesPerSec * s.frameBytes) / 1e6, rounds };
  };
  const parley = side(row.parley, p);
  const json = side(row.json, j);
  const paired = p.map((v, i) => v / j[i]!);
  return {
    message: row.message,
    op: row.op,
    parley,
    json,
    ratio: parley.framesPerSec / json.framesPerSec,
    ratioRange: [Math.min(...paired), Math.max(...paired)],
  };
}

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

function rate(framesPerSec: number): string {
  if (framesPerSec >= 1e6) return `${(framesPerSec / 1e6).toFixed(2)} M`;
  return `${(framesPerSec / 1e3).toFixed(framesPerSec >= 1e5 ? 0 : 1)} k`;
}

function mb(mbPerSec: number): string {
  return mbPerSec >= 100 ? mbPerSec.toFixed(0) : mbPerSec.toFixed(1);
}

function speedTable(results: Result[]): string[][] {
  const head = [
    'message',
    'operation',
    'Parley frames/s',
    'Parley MB/s',
    'JSON frames/s',
    'JSON MB/s',
    'Parley vs JSON',
    'per-round range',
  ];
  return [
    head,
    ...results.map((r) => [
      r.message,
      r.op,
      rate(r.parley.framesPerSec),
      mb(r.parley.mbPerSec),
      rate(r.json.framesPerSec),
      mb(r.json.mbPerSec),
      `${r.ratio.toFixed(2)}x`,
      `${r.ratioRange[0].toFixed(2)}-${r.ratioRange[1].toFixed(2)}x`,
    ]),
  ];
}

function sizeTable(results: Result[]): string[][] {
  const seen = new Set<string>();
  const out = [['message', 'Parley bytes/frame', 'JSON bytes/frame', 'Parley / JSON']];
  for (const r of results) {
    if (seen.has(r.message)) continue;
    seen.add(r.message);
    const share = ((100 * r.parley.frameBytes) / r.json.frameBytes).toFixed(0);
    out.push([r.message, String(r.parley.frameBytes), String(r.json.frameBytes), `${share} %`]);
  }
  return out;
}

const NUMERIC = /^[\d.,-]+( [Mk%])?x?$/;

function textTable(table: string[][]): string {
  const widths = table[0]!.map((_, c) => Math.max(...table.map((line) => line[c]!.length)));
  const fmt = (line: string[]): string =>
    line.map((cell, c) => (NUMERIC.test(cell) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ');
  return [fmt(table[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...table.slice(1).map(fmt)].join('\n');
}

function markdownTable(table: string[][]): string {
  const align = table[1]!.map((cell) => (NUMERIC.test(cell) ? '---:' : '---'));
  return [table[0]!, align, ...table.slice(1)].map((line) => `| ${line.join(' | ')} |`).join('\n');
}

const cpu = cpus();
const env = {
  date: new Date().toISOString(),
  command: `npm run bench -w packages/protocol${QUICK ? ' -- --quick' : ''}`,
  node: process.version,
  v8: process.versions.v8,
  cpu: `${String(cpu.length)} x ${cpu[0]?.model ?? 'unknown'}`,
  loadAverageBefore: loadavg().map((l) => Number(l.toFixed(2))),
  mode: QUICK ? 'quick' : 'full',
  rounds: ROUNDS,
  roundMs: ROUND_MS,
  smallTextBytes: Buffer.byteLength(SMALL_TEXT),
  largeTextBytes: Buffer.byteLength(LARGE_TEXT),
};

const started = performance.now();
console.error(`@parley/protocol codec bench (${env.mode}): ${String(rows.length)} rows x ${String(ROUNDS)} rounds`);
// Run every path once before timing any, so each row sees the same (polymorphic) JIT state
// a server that encodes many message types would.
for (const row of rows) {
  round(row.parley, PREWARM_MS);
  round(row.json, PREWARM_MS);
}
const results: Result[] = [];
for (const row of rows) {
  const result = measure(row);
  results.push(result);
  console.error(`  ${row.message}: ${row.op}: ${result.ratio.toFixed(2)}x JSON`);
}
const seconds = (performance.now() - started) / 1000;

const speed = speedTable(results);
const sizes = sizeTable(results);
const notes = [
  `Median of ${String(ROUNDS)} rounds of ${String(ROUND_MS)} ms per side; Parley and JSON rounds alternate.`,
  '"Parley vs JSON" is the ratio of median frames/s; "per-round range" the lowest and highest ratio of paired rounds.',
  "MB/s = frames/s x that side's frame bytes (1 MB = 10^6 bytes).",
  'Decode = frame splitting + body decode (FrameCodec.decodePush / decodeRequest; JSON: TextDecoder + JSON.parse).',
  `Text: ${String(env.smallTextBytes)} and ${String(env.largeTextBytes)} UTF-8 bytes of chat-like text. The deflated row uses compressAboveBytes: 1024 (level 6) against uncompressed JSON.`,
];

console.log(`\n${textTable(speed)}\n\n${textTable(sizes)}\n`);
console.log(notes.join('\n'));
const loadAfter = loadavg().map((l) => Number(l.toFixed(2)));
console.log(
  `\n${env.cpu}, Node ${env.node}, load average ${env.loadAverageBefore.join(' ')} -> ${loadAfter.join(' ')}, ` +
    `${seconds.toFixed(1)} s (checksum ${String(checksum % 997)})`,
);

const dir = new URL('./results/', import.meta.url);
mkdirSync(dir, { recursive: true });
const base = QUICK ? 'codec.quick' : 'codec';
writeFileSync(
  new URL(`${base}.json`, dir),
  `${JSON.stringify({ ...env, seconds: Number(seconds.toFixed(1)), loadAverageAfter: loadAfter, results }, null, 2)}\n`,
);
writeFileSync(
  new URL(`${base}.md`, dir),
  [
    `# @parley/protocol codec benchmark (${env.mode})`,
    '',
    `${env.date}, \`${env.command}\`, Node ${env.node}, ${env.cpu}, load average ${env.loadAverageBefore.join(' ')}.`,
    '',
    markdownTable(speed),
    '',
    markdownTable(sizes),
    '',
    ...notes.map((n) => `- ${n}`),
    '',
  ].join('\n'),
);
console.error(`results: ${new URL(`${base}.json`, dir).pathname} and .md`);
