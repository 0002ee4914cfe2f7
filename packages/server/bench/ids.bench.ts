// Message id generation, before and after the pooled random source (see src/ids.ts):
// ulid's default (one WebCrypto call per character) against newUlid, interleaved in one run.
//
//   node --conditions=@parley/source --import tsx packages/server/bench/ids.bench.ts
import { ulid } from 'ulid';
import { newUlid } from '../src/ids.js';

const N = 200_000;
const ROUNDS = 5;

function rate(make: () => string): number {
  const started = performance.now();
  let sink = 0;
  for (let i = 0; i < N; i++) sink += make().length;
  const ms = performance.now() - started;
  if (sink !== N * 26) throw new Error('unexpected id length');
  return (N / ms) * 1000;
}

// Warm-up, then interleaved rounds so machine load hits both alike.
rate(() => ulid());
rate(newUlid);
const before: number[] = [];
const after: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  before.push(rate(() => ulid()));
  after.push(rate(newUlid));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const b = median(before);
const a = median(after);
process.stdout.write(
  `ulid() default PRNG: ${(b / 1000).toFixed(0)} k ids/s\n` +
    `newUlid() pooled:    ${(a / 1000).toFixed(0)} k ids/s\n` +
    `ratio after/before:  ${(a / b).toFixed(1)}x (median of ${String(ROUNDS)} interleaved rounds)\n`,
);
