// What the idle-memory bench's processes share besides the harness's IPC (../ipc.ts): where
// clients connect, what the servers count, and the memory sampling both server processes use.
import { getHeapSpaceStatistics } from 'node:v8';

export type Transport = 'tcp' | 'tls' | 'ws';

/** Heartbeat interval of the bench's sessions (server default and client request): idle clients never ping. */
export const HEARTBEAT_MS = 10 * 60_000;

/** Where clients connect. */
export interface Target {
  transport: Transport;
  host: string;
  port: number;
  /** WebSocket path. */
  path: string;
}

/** Medians of `process.memoryUsage()` after forced GCs, in bytes. `newSpace` is V8's young generation. */
export interface MemorySample {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  newSpace: number;
}

/** What a server process counts: open sockets and logged-in ones. */
export interface ServerCount {
  open: number;
  loggedIn: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How the RSS moved while waiting for it to settle (diagnostics): [ms since start, RSS bytes]. */
export let lastSettle: [number, number][] = [];

/**
 * Waits until V8 has handed back what it no longer needs. After a burst of allocation, V8's
 * memory reducer shrinks the young generation and frees pooled pages in a few GCs spread over
 * seconds; a reading taken before that counts them. Forces a full GC every `stepMs` and returns
 * once RSS has not fallen by more than 1 MiB for `quietMs`, or after `maxMs`.
 */
export async function settle(quietMs: number, maxMs: number, stepMs = 500): Promise<void> {
  const collect = gcFunction();
  const started = performance.now();
  let lastDrop = started;
  let low = Number.POSITIVE_INFINITY;
  lastSettle = [];
  for (;;) {
    collect();
    const rss = process.memoryUsage.rss();
    const now = performance.now();
    lastSettle.push([Math.round(now - started), rss]);
    if (rss < low - 2 ** 20) lastDrop = now;
    low = Math.min(low, rss);
    if (now - lastDrop >= quietMs || now - started >= maxMs) return;
    await sleep(stepMs);
  }
}

function gcFunction(): () => void {
  const collect = globalThis.gc;
  if (!collect) throw new Error('start the server process with --expose-gc');
  return () => {
    collect();
  };
}

/**
 * Memory after garbage collection: `samples` rounds of two forced full GCs, a pause, and a
 * reading; the median of each field. Needs `--expose-gc`.
 */
export async function sampleMemory(samples = 5): Promise<MemorySample> {
  const collect = gcFunction();
  const rows: MemorySample[] = [];
  for (let i = 0; i < samples; i++) {
    collect();
    await sleep(20);
    collect();
    const m = process.memoryUsage();
    const young = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    rows.push({
      rss: m.rss,
      heapUsed: m.heapUsed,
      heapTotal: m.heapTotal,
      external: m.external,
      arrayBuffers: m.arrayBuffers,
      newSpace: young?.space_size ?? 0,
    });
    await sleep(100);
  }
  const median = (key: keyof MemorySample): number => {
    const sorted = rows.map((r) => r[key]).sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)] ?? 0;
  };
  return {
    rss: median('rss'),
    heapUsed: median('heapUsed'),
    heapTotal: median('heapTotal'),
    external: median('external'),
    arrayBuffers: median('arrayBuffers'),
    newSpace: median('newSpace'),
  };
}
