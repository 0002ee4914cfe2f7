// Idle memory per logged-in connection: how much a Parley server's RSS and heap grow per idle,
// authenticated connection, against a bare Node server (same framing, a LOGIN answered, nothing
// else) holding the same number in the same run; and how fast each opens and logs them in.
//
//   npm run bench:idle -- [--connections 10000] [--transport tcp|tls|ws] [--quick] [--repeat 3] [--workers 4]
//
// --quick: 2,000 connections. Writes bench/results/idle-memory-<transport>.{json,md}.
//
// Each server runs in its own process and reports its memory over IPC after forced GCs. The
// clients run in worker processes (one process may hold 20,000 files), each connecting from a
// few loopback source addresses (one address has ~28,000 ephemeral ports). Every run starts
// new server processes: memory a process freed earlier is reused without growing its RSS.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ConnectResult, WorkerStatus } from './idle-memory/client-worker.js';
import type { MemorySample, ServerCount, Target, Transport } from './idle-memory/memory.js';
import { type ChildHandle, startChild } from './ipc.js';
import {
  type Machine,
  type Results,
  type Run,
  TARGET_BYTES,
  formatMarkdown,
  formatTable,
  perConnection,
  summarize,
} from './idle-memory/report.js';

const { values: args } = parseArgs({
  options: {
    connections: { type: 'string' },
    transport: { type: 'string', default: 'tcp' },
    quick: { type: 'boolean', default: false },
    repeat: { type: 'string', default: '3' },
    workers: { type: 'string', default: '4' },
    sources: { type: 'string', default: '4' },
    concurrency: { type: 'string', default: '64' },
  },
});
const transport = args.transport as Transport;
if (!['tcp', 'tls', 'ws'].includes(transport)) throw new Error('--transport is tcp, tls or ws');
const CONNECTIONS = Number(args.connections ?? (args.quick ? 2_000 : 10_000));
const REPEAT = Number(args.repeat);
const WORKERS = Number(args.workers);
const SOURCES = Number(args.sources);
const CONCURRENCY = Number(args.concurrency);
for (const [name, n] of Object.entries({ CONNECTIONS, REPEAT, WORKERS, SOURCES, CONCURRENCY })) {
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name.toLowerCase()} must be a positive integer`);
}
/** Opened and logged in on each server before the first reading and kept open: JIT, caches, pools. */
const WARMUP = Math.max(100, Math.min(500, Math.round(CONNECTIONS / 20)));
// Workers hold both servers' connections at the end of a run.
if ((2 * (CONNECTIONS + WARMUP)) / WORKERS > 18_000) throw new Error('too many connections per worker; add --workers');

const SERVER_FLAGS = ['--expose-gc'];
/**
 * Before each reading a server settles: after a burst of allocation V8's memory reducer gives
 * back the young generation and pooled pages in a few GCs some 5 to 10 s apart, so a reading is
 * taken once RSS has not fallen for 12 s (45 s at most). Read earlier, a server counts tens of
 * MiB its last burst left, as much as 10,000 idle connections cost.
 */
const SETTLE_QUIET_MS = 12_000;
const SETTLE_MAX_MS = 45_000;

/** bench/results, beside src/ (as the scenarios'). */
const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'parley-idle-'));
const children: ChildHandle[] = [];

function start(name: string, module: string, argv: string[], server: boolean): ChildHandle {
  const child = startChild(name, `./idle-memory/${module}`, argv, server ? SERVER_FLAGS : []);
  children.push(child);
  return child;
}

function cleanUp(): void {
  for (const child of children) child.kill();
  rmSync(dataDir, { recursive: true, force: true });
}
process.on('exit', cleanUp);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    process.stderr.write(`\n${signal}: stopping\n`);
    process.exit(130);
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (line: string) => process.stderr.write(`${line}\n`);
const int = (n: number) => n.toFixed(0);

interface Batch {
  ok: number;
  failed: number;
  firstError: string | undefined;
  /** From the first connect to the last login response, all workers together. */
  ms: number;
}

let batches = 0;

/** Opens `count` connections over all workers and logs them in; resolves once all have answered. */
async function openBatch(workers: ChildHandle[], target: Target, secret: string, count: number): Promise<Batch> {
  const batch = ++batches;
  const shares = workers.map((_, w) => Math.floor(count / workers.length) + (w < count % workers.length ? 1 : 0));
  await Promise.all(
    workers.map((w, i) => w.request('prepare', { count: shares[i], secret, prefix: `b${String(batch)}w${String(i)}` })),
  );
  const started = performance.now();
  const results = await Promise.all(
    workers.map((w, i) => {
      // Fresh addresses per batch: earlier batches' closed ports sit in TIME_WAIT.
      const sources = Array.from(
        { length: SOURCES },
        (_, k) => `127.${String(batch)}.${String(i + 1)}.${String(k + 2)}`,
      );
      return w.request<ConnectResult>('connect', { target, sources, concurrency: CONCURRENCY }, 10 * 60_000);
    }),
  );
  return {
    ok: results.reduce((n, r) => n + r.ok, 0),
    failed: results.reduce((n, r) => n + r.failed, 0),
    firstError: results.find((r) => r.firstError !== undefined)?.firstError,
    ms: performance.now() - started,
  };
}

async function closeAll(workers: ChildHandle[], servers: ChildHandle[]): Promise<void> {
  await Promise.all(workers.map((w) => w.request('close')));
  const deadline = Date.now() + 30_000;
  for (const server of servers) {
    for (;;) {
      const count = await server.request<ServerCount>('count');
      if (count.open === 0 && count.loggedIn === 0) break;
      if (Date.now() > deadline) throw new Error(`${server.name} still counts ${JSON.stringify(count)} after close`);
      await sleep(100);
    }
  }
}

interface Reading extends MemorySample {
  /** RSS while settling: [ms, bytes]. */
  trajectory: [number, number][];
}

/** Settles and reads every server (in parallel: the waiting is most of it). */
function readAll(servers: ChildHandle[]): Promise<Reading[]> {
  const body = { quietMs: SETTLE_QUIET_MS, maxMs: SETTLE_MAX_MS };
  return Promise.all(servers.map((s) => s.request<Reading>('measure', body, SETTLE_MAX_MS + 30_000)));
}

interface Contender {
  label: string;
  server: ChildHandle;
  target: Target;
}

/**
 * One run on newly started servers: warm-up connections opened on each and kept, both settle
 * and are read, N connections opened on each in turn (timed alone), both settle and are read.
 * Nothing is closed before the second reading.
 */
async function measureRun(contenders: Contender[], workers: ChildHandle[], secret: string): Promise<Run[]> {
  for (const { label, target } of contenders) {
    const warm = await openBatch(workers, target, secret, WARMUP);
    if (warm.failed > 0)
      throw new Error(`${label}: ${String(warm.failed)} warm-up connects failed: ${warm.firstError}`);
  }
  const servers = contenders.map((c) => c.server);
  const countsBefore = await Promise.all(servers.map((s) => s.request<ServerCount>('count')));
  const before = await readAll(servers);
  const opened: Batch[] = [];
  for (const { target } of contenders) opened.push(await openBatch(workers, target, secret, CONNECTIONS));
  const countsAfter = await Promise.all(servers.map((s) => s.request<ServerCount>('count')));
  const after = await readAll(servers);
  const statuses = await Promise.all(workers.map((w) => w.request<WorkerStatus>('status')));
  await closeAll(workers, servers);

  return contenders.map(({ label, target }, i) => {
    const batch = opened[i]!;
    const held = countsAfter[i]!.loggedIn - countsBefore[i]!.loggedIn;
    const mine = statuses.map((s) => s[String(target.port)]);
    const run: Run = {
      before: before[i]!,
      after: after[i]!,
      held,
      failed: batch.failed,
      firstError: batch.firstError,
      dropped: mine.reduce((n, s) => n + (s?.dropped ?? 0), 0),
      strayFrames: mine.reduce((n, s) => n + (s?.strayFrames ?? 0), 0),
      connectMs: batch.ms,
      connectsPerSecond: batch.ok / (batch.ms / 1000),
      perConnection: perConnection(before[i]!, after[i]!, held),
    };
    log(
      `  ${label}: ${String(held)} held, ${String(batch.failed)} failed, ${int(run.connectsPerSecond)}/s; ` +
        `per connection ${int(run.perConnection.rss)} B RSS, ${int(run.perConnection.heapUsed)} B heap`,
    );
    return run;
  });
}

async function main(): Promise<Results> {
  const loadAverageStart = loadavg();
  const workers = Array.from({ length: WORKERS }, (_, i) =>
    start(`client worker ${String(i)}`, 'client-worker', [], false),
  );
  await Promise.all(workers.map((w) => w.ready));
  const bareLabel = `bare ${transport === 'tcp' ? 'node:net' : transport === 'tls' ? 'node:tls' : 'ws'}`;
  const runs: { bare: Run[]; parley: Run[] } = { bare: [], parley: [] };

  for (let i = 1; i <= REPEAT; i++) {
    log(`run ${String(i)}/${String(REPEAT)}: ${String(CONNECTIONS)} ${transport} connections per server`);
    const parley = start('parley server', 'parley-server', [dataDir], true);
    const ready = (await parley.ready) as { tcp?: number; tls?: number; http: number; secret: string };
    // Started after Parley: on TLS it uses the development certificate Parley made in dataDir.
    const bare = start('bare server', 'bare-server', [transport, dataDir], true);
    const bareReady = (await bare.ready) as { port: number };
    const parleyPort = transport === 'tcp' ? ready.tcp : transport === 'tls' ? ready.tls : ready.http;
    if (parleyPort === undefined) throw new Error(`the Parley ${transport} gateway is off`);
    const target = (port: number): Target => ({ transport, host: '127.0.0.1', port, path: '/ws' });
    const [bareRun, parleyRun] = await measureRun(
      [
        { label: bareLabel, server: bare, target: target(bareReady.port) },
        { label: 'Parley', server: parley, target: target(parleyPort) },
      ],
      workers,
      ready.secret,
    );
    runs.bare.push(bareRun!);
    runs.parley.push(parleyRun!);
    await Promise.all([parley.request('stop', {}, 30_000), bare.request('stop')]);
  }

  const bare = summarize(bareLabel, runs.bare);
  const parley = summarize('Parley', runs.parley);
  const machine: Machine = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    totalMemoryBytes: totalmem(),
    node: process.version,
    loadAverageStart,
    loadAverageEnd: loadavg(),
  };
  return {
    bench: 'idle-memory',
    date: new Date().toISOString(),
    command: ['npm run bench:idle --', ...process.argv.slice(2)].join(' '),
    transport,
    connections: CONNECTIONS,
    repeat: REPEAT,
    workers: WORKERS,
    sourcesPerWorker: SOURCES,
    concurrencyPerWorker: CONCURRENCY,
    warmupConnections: WARMUP,
    serverFlags: SERVER_FLAGS,
    settleQuietMs: SETTLE_QUIET_MS,
    machine,
    bare,
    parley,
    ratio: {
      rss: parley.perConnection.rss / bare.perConnection.rss,
      heapUsed: parley.perConnection.heapUsed / bare.perConnection.heapUsed,
      connectsPerSecond: parley.connectsPerSecond / bare.connectsPerSecond,
    },
    target: {
      bytes: TARGET_BYTES,
      appliesTo: 'tcp',
      pass: transport === 'tcp' ? parley.perConnection.rss <= TARGET_BYTES : undefined,
    },
  };
}

try {
  const results = await main();
  const dir = RESULTS_DIR;
  mkdirSync(dir, { recursive: true });
  const base = join(dir, `idle-memory-${transport}`);
  writeFileSync(`${base}.json`, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(`${base}.md`, formatMarkdown(results));
  process.stdout.write(`\n${formatTable(results)}\n\nWrote ${base}.json and .md\n`);
  const broken = [results.bare, results.parley].some((s) => s.runs.some((r) => r.failed > 0 || r.dropped > 0));
  process.exitCode = broken ? 1 : 0;
} catch (err) {
  process.stderr.write(
    `idle-memory bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exitCode = 1;
} finally {
  cleanUp();
}
