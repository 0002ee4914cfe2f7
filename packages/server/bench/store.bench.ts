// Group commit in numbers: durable appends per second into a SQLite file (WAL, synchronous =
// FULL) with one message per transaction versus batches of 64 and 512. Every batch is one
// fsynced transaction, so the ratio is what group commit buys. With --postgres the same runs
// go to PostgreSQL too (a fresh schema per size, dropped afterwards), reported against SQLite.
//
//   node --conditions=@parley/source --import tsx packages/server/bench/store.bench.ts [--seconds N]
//     [--postgres [URL]]   (URL default postgres://postgres@127.0.0.1:5432/test)
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pb } from '@parley/protocol';
import pg from 'pg';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { AppendInput, Store } from '../src/store/types.js';

const BATCH_SIZES = [1, 64, 512];
const CONVERSATIONS = 16;
const secondsArg = process.argv.indexOf('--seconds');
const SECONDS = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 2;
const postgresArg = process.argv.indexOf('--postgres');
const maybeUrl = postgresArg > 0 ? process.argv[postgresArg + 1] : undefined;
const POSTGRES_URL =
  postgresArg < 0
    ? undefined
    : maybeUrl && !maybeUrl.startsWith('--')
      ? maybeUrl
      : 'postgres://postgres@127.0.0.1:5432/test';
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

/** Where a run appends: a fresh store per batch size. */
interface Backend {
  name: string;
  /** A store on the data named `label` (created on first open). */
  open(label: string): Promise<Store>;
  cleanup(): Promise<void>;
}

interface Result {
  backend: string;
  batch: number;
  messages: number;
  perSecond: number;
  commitP50Ms: number;
  commitP99Ms: number;
}

/**
 * Appends batches of `batch` for SECONDS. `nodes` stores (separate pools, like cluster nodes)
 * on the same data each run `lanes` appenders at once; by default one store, one appender.
 */
async function measure(backend: Backend, batch: number, nodes = 1, lanes = 1): Promise<Result> {
  const label = nodes * lanes > 1 ? `${String(nodes)}x${String(lanes)}-${String(batch)}` : String(batch);
  const stores: Store[] = [];
  for (let n = 0; n < nodes; n++) stores.push(await backend.open(label));
  const convs: string[] = [];
  for (let i = 0; i < CONVERSATIONS; i++) {
    const id = `g${String(i)}`;
    await stores[0]?.createConversation({
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
  const appendBatch = async (store: Store, lane: number) => {
    // Concurrent appenders write to disjoint conversations, so they contend only on the version counter.
    const share = Math.max(1, Math.floor(CONVERSATIONS / (nodes * lanes)));
    const inputs = Array.from({ length: batch }, (_, i) =>
      input(convs[(lane * share + (i % share)) % CONVERSATIONS] ?? 'g0'),
    );
    const results = await store.appendMessages(inputs);
    if (results.some((r) => !r.ok)) throw new Error('append failed');
  };
  const latencies: number[] = [];
  let messages = 0;
  const loop = async (lane: number, until: number, record: boolean) => {
    const store = stores[lane % nodes] as Store;
    while (performance.now() < until) {
      const t = performance.now();
      await appendBatch(store, lane);
      if (!record) continue;
      latencies.push(performance.now() - t);
      messages += batch;
    }
  };
  const all = (until: number, record: boolean) =>
    Promise.all(Array.from({ length: nodes * lanes }, (_, lane) => loop(lane, until, record)));

  // Warm-up: page cache, statement caches, WAL growth.
  await all(performance.now() + 300, false);
  const started = performance.now();
  await all(started + SECONDS * 1000, true);
  const elapsed = (performance.now() - started) / 1000;
  for (const store of stores) await store.close();
  latencies.sort((x, y) => x - y);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
  return {
    backend: nodes * lanes > 1 ? `${backend.name}, ${String(nodes)} nodes x ${String(lanes)} appenders` : backend.name,
    batch,
    messages,
    perSecond: messages / elapsed,
    commitP50Ms: pct(0.5),
    commitP99Ms: pct(0.99),
  };
}

function sqliteBackend(): Backend {
  const dir = mkdtempSync(join(tmpdir(), 'parley-store-bench-'));
  return {
    name: 'SQLite (WAL, synchronous=FULL)',
    open: async (label) => {
      const store = new SqliteStore(join(dir, `bench-${label}.db`));
      await store.migrate();
      return store;
    },
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    },
  };
}

function postgresBackend(url: string): Backend {
  const prefix = `parley_bench_${randomUUID().slice(0, 8)}`;
  const schemas: string[] = [];
  return {
    name: 'PostgreSQL',
    open: async (label) => {
      const schema = `${prefix}_${label.replace(/\W/g, '_')}`;
      if (!schemas.includes(schema)) schemas.push(schema);
      const withSchema = new URL(url);
      withSchema.searchParams.set('schema', schema);
      const store = new PostgresStore({ url: withSchema.toString(), poolSize: 2 });
      await store.migrate();
      return store;
    },
    cleanup: async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    },
  };
}

const backends = [sqliteBackend(), ...(POSTGRES_URL ? [postgresBackend(POSTGRES_URL)] : [])];
try {
  const results: Result[] = [];
  for (const backend of backends) {
    for (const batch of BATCH_SIZES) results.push(await measure(backend, batch));
  }
  // What a cluster sees: two nodes (two pools), four appenders each, all on one database.
  const postgres = backends[1];
  if (postgres) for (const batch of [1, 64]) results.push(await measure(postgres, batch, 2, 4));
  const rate = (backend: string, batch: number) =>
    results.find((r) => r.backend === backend && r.batch === batch)?.perSecond ?? Number.NaN;
  const sqlite = backends[0]?.name ?? '';
  console.log(`Durable appends, ${String(SECONDS)} s per size, one appender, ${String(CONVERSATIONS)} conversations`);
  console.table(
    results.map((r) => ({
      store: r.backend,
      'batch size': r.batch,
      'messages/s': Math.round(r.perSecond),
      'vs batch 1': `${(r.perSecond / rate(r.backend, 1)).toFixed(1)}x`,
      'vs SQLite': `${(r.perSecond / rate(sqlite, r.batch)).toFixed(2)}x`,
      'commit p50 ms': r.commitP50Ms.toFixed(2),
      'commit p99 ms': r.commitP99Ms.toFixed(2),
    })),
  );
} finally {
  for (const backend of backends) await backend.cleanup();
}
