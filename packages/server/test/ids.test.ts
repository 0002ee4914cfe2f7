import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeTime, isValid } from 'ulid';
import { newUlid } from '../src/ids.js';

test('newUlid makes valid, unique, time-ordered ULIDs', () => {
  const before = Date.now();
  const ids = Array.from({ length: 20_000 }, () => newUlid());
  const after = Date.now();
  for (const id of ids) assert.ok(isValid(id), id);
  assert.equal(new Set(ids).size, ids.length);
  const first = decodeTime(ids[0]!);
  const last = decodeTime(ids.at(-1)!);
  assert.ok(first >= before && last <= after && first <= last);
});

test('newUlid spreads its random part over the whole alphabet (pool refills included)', () => {
  // 20,000 ids x 16 random characters use the pool of 4 KiB dozens of times over.
  const counts = new Map<string, number>();
  for (let i = 0; i < 20_000; i++) {
    for (const ch of newUlid().slice(10)) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  }
  assert.equal(counts.size, 32);
  const expected = (20_000 * 16) / 32;
  for (const [ch, n] of counts) assert.ok(Math.abs(n - expected) < expected * 0.1, `${ch}: ${String(n)}`);
});
