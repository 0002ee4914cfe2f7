// Group commit in numbers: durable appends per second into a SQLite file (WAL, synchronous =
// FULL) with one message per transaction versus batches of 64 and 512. Every batch is one
// fsynced transaction, so the ratio is what group commit buys.
//
//   node --conditions=@parley/source --import tsx packages/server/bench/store.bench.ts [--seconds N]
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pb } from '@parley/protocol';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { AppendInput } from '../src/store/types.js';

const BATCH_SIZES = [1, 64, 512];
const CONVERSATIONS = 16;
const secondsArg = process.argv.indexOf('--seconds');
const SECONDS = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 2;
const content = pb.MessageContent.encode({ type: pb.MessageType.TEXT, text: 'x'.repeat(120) }).finish();

let clientIds = 0;
function input(conversationId: string): AppendInput {
  return {
    conversationId,
    messageId: randomUUID(),
    senderId: 'bench',
    senderDeviceId: 'bench-1',
    clientMessageId: String(++clientIds),
    serverTime: Date.now(),
    type: pb.MessageType.TEXT,
    content,
    mentions: [],
  };
}

interface Result {
  batch: number;
  messages: number;
  perSecond: number;
  commitP50Ms: number;
  commitP99Ms: number;
}

async function measure(dir: string, batch: number): Promise<Result> {
  const store = new SqliteStore(join(dir, `bench-${String(batch)}.db`));
  await store.migrate();
  const convs: string[] = [];
  for (let i = 0; i < CONVERSATIONS; i++) {
    const id = `g${String(i)}`;
    await store.createConversation({
      id,
      type: pb.ConversationType.GROUP,
      name: id,
      attributes: '',
      ownerId: 'bench',
      members: [
        { userId: 'bench', role: pb.MemberRole.OWNER },
        ...['m1', 'm2', 'm3'].map((userId) => ({ userId, role: pb.MemberRole.MEMBER })),
      ],
      now: Date.now(),
    });
    convs.push(id);
  }
  const next = (i: number) => input(convs[i % CONVERSATIONS] ?? 'g0');
  const appendBatch = async () => {
    const results = await store.appendMessages(Array.from({ length: batch }, (_, i) => next(i)));
    if (results.some((r) => !r.ok)) throw new Error('append failed');
  };

  // Warm-up: page cache, statement caches, WAL growth.
  const warmUntil = performance.now() + 300;
  while (performance.now() < warmUntil) await appendBatch();

  const latencies: number[] = [];
  let messages = 0;
  const started = performance.now();
  const until = started + SECONDS * 1000;
  while (performance.now() < until) {
    const t = performance.now();
    await appendBatch();
    latencies.push(performance.now() - t);
    messages += batch;
  }
  const elapsed = (performance.now() - started) / 1000;
  await store.close();
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
  return { batch, messages, perSecond: messages / elapsed, commitP50Ms: pct(0.5), commitP99Ms: pct(0.99) };
}

const dir = mkdtempSync(join(tmpdir(), 'parley-store-bench-'));
try {
  const results: Result[] = [];
  for (const batch of BATCH_SIZES) results.push(await measure(dir, batch));
  const base = results[0]?.perSecond ?? 1;
  console.log(`SQLite durable appends (WAL, synchronous=FULL), ${String(SECONDS)} s per size, dir ${tmpdir()}`);
  console.table(
    results.map((r) => ({
      'batch size': r.batch,
      'messages/s': Math.round(r.perSecond),
      'vs batch 1': `${(r.perSecond / base).toFixed(1)}x`,
      'commit p50 ms': r.commitP50Ms.toFixed(2),
      'commit p99 ms': r.commitP99Ms.toFixed(2),
    })),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
