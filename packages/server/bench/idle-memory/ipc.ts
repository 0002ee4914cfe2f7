// What the idle-memory bench's processes say to each other over the Node IPC channel, and the
// memory sampling the two server processes share. Requests carry an id; the child answers each
// with the same id. A child's first message is `ready`; a child exits when its parent goes.
import type { ChildProcess } from 'node:child_process';
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

interface Reply {
  id: number;
  result?: unknown;
  error?: string;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** The parent's side of one child: its `ready` message, and requests answered by id. */
export class ChildHandle {
  readonly ready: Promise<unknown>;
  readonly #pending = new Map<number, Pending>();
  #next = 1;
  #exited: Error | undefined;
  #readyReject: (err: Error) => void = () => undefined;

  constructor(
    readonly name: string,
    readonly process: ChildProcess,
  ) {
    let resolveReady: (value: unknown) => void = () => undefined;
    this.ready = new Promise((resolve, reject) => {
      resolveReady = resolve;
      this.#readyReject = reject;
    });
    process.on('message', (message: unknown) => {
      const m = message as { type?: string } & Reply;
      if (m.type === 'ready') {
        resolveReady(m);
        return;
      }
      const pending = this.#pending.get(m.id);
      if (!pending) return;
      this.#pending.delete(m.id);
      clearTimeout(pending.timer);
      if (m.error !== undefined) pending.reject(new Error(`${name}: ${m.error}`));
      else pending.resolve(m.result);
    });
    process.on('exit', (code, signal) => {
      this.#exited = new Error(`${name} exited (${signal ?? `code ${String(code)}`})`);
      this.#readyReject(this.#exited);
      for (const p of this.#pending.values()) {
        clearTimeout(p.timer);
        p.reject(this.#exited);
      }
      this.#pending.clear();
    });
  }

  get alive(): boolean {
    return this.#exited === undefined && this.process.exitCode === null && this.process.signalCode === null;
  }

  /** Sends a request; resolves with the child's answer. */
  request<T>(type: string, body: object = {}, timeoutMs = 60_000): Promise<T> {
    if (this.#exited) return Promise.reject(this.#exited);
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${this.name}: no answer to ${type} in ${String(timeoutMs)} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      this.process.send({ ...body, type, id });
    });
  }

  /** Kills the child if it still runs. */
  kill(): void {
    if (this.alive) this.process.kill('SIGKILL');
  }
}

/**
 * The child's side: announces `ready` with `info`, then answers each request with what
 * `handle` returns (or the message of what it throws). Exits when the parent goes away.
 */
export function serveParent(
  info: object,
  handle: (request: { type: string } & Record<string, unknown>) => unknown,
): void {
  const send = process.send?.bind(process);
  if (!send) throw new Error('this module runs as a child of bench/idle-memory.ts');
  process.on('disconnect', () => process.exit(0));
  process.on('message', (message: unknown) => {
    const request = message as { type: string; id: number } & Record<string, unknown>;
    Promise.resolve()
      .then(() => handle(request))
      .then(
        (result: unknown) => send({ id: request.id, result: result ?? null }),
        (err: unknown) => send({ id: request.id, error: err instanceof Error ? err.message : String(err) }),
      );
  });
  send({ ...info, type: 'ready' });
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
