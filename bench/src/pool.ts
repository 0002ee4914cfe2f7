// The load workers of a scenario and the bookkeeping around them: which users live in which
// worker, which loopback source addresses each worker binds, and summed live counters.
import { type ChildHandle, startChild } from './ipc.js';
import type { Endpoint } from './worker/driver.js';
import type { OpenResult, WorkerStats } from './worker/worker.js';

/**
 * Each loopback source address has ~28,000 ephemeral ports towards one server port, and
 * closed ones linger in TIME_WAIT: every `open` takes a fresh block of addresses.
 */
let block = 10;
const ADDRESSES_PER_WORKER = 4;

export class WorkerPool {
  readonly workers: ChildHandle[];
  /** Users per worker, in the order they were opened. */
  readonly users: string[][];

  constructor(count: number) {
    this.workers = Array.from({ length: count }, (_, i) => startChild(`worker-${String(i)}`, './worker/worker'));
    this.users = this.workers.map(() => []);
  }

  async ready(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.ready));
  }

  sources(worker: number): string[] {
    block = block >= 250 ? 10 : block + 1;
    return Array.from(
      { length: ADDRESSES_PER_WORKER },
      (_, k) => `127.${String(block)}.${String(worker + 1)}.${String(k + 1)}`,
    );
  }

  /**
   * Opens `users[w]` in worker w (server process = index in the whole list modulo the count,
   * unless `servers` says otherwise). Resolves with the summed result.
   */
  async open(
    endpoint: Endpoint,
    users: string[][],
    options: { size: number; heartbeatMs: number; persistent?: boolean; servers?: number[][]; concurrency?: number },
  ): Promise<OpenResult> {
    const results = await Promise.all(
      this.workers.map((w, i) => {
        const list = users[i] ?? [];
        this.users[i]!.push(...list);
        if (list.length === 0) return Promise.resolve<OpenResult>({ ok: 0, failed: 0, firstError: undefined, ms: 0 });
        return w.request<OpenResult>(
          'open',
          {
            endpoint,
            users: list,
            servers: options.servers?.[i] ?? list.map((_, k) => k % endpoint.ports.length),
            sources: this.sources(i),
            concurrency: options.concurrency ?? 64,
            size: options.size,
            heartbeatMs: options.heartbeatMs,
            persistent: options.persistent ?? false,
          },
          30 * 60_000,
        );
      }),
    );
    return sumOpen(results);
  }

  /** The same request to every worker. */
  all<T>(type: string, body: object = {}, timeoutMs = 10 * 60_000): Promise<T[]> {
    return Promise.all(this.workers.map((w) => w.request<T>(type, body, timeoutMs)));
  }

  async stats(): Promise<WorkerStats> {
    const all = await this.all<WorkerStats>('stats', {}, 30_000);
    return sumStats(all);
  }

  async close(): Promise<void> {
    await Promise.all(
      this.workers.map((w, i) => w.request('close', { sources: this.sources(i) }, 120_000).catch(() => null)),
    );
    await Promise.all(this.workers.map((w) => w.stop()));
  }
}

export function sumOpen(results: OpenResult[]): OpenResult {
  return {
    ok: results.reduce((n, r) => n + r.ok, 0),
    failed: results.reduce((n, r) => n + r.failed, 0),
    firstError: results.find((r) => r.firstError !== undefined)?.firstError,
    ms: Math.max(0, ...results.map((r) => r.ms)),
  };
}

export function sumStats(all: WorkerStats[]): WorkerStats {
  const sum: WorkerStats = {
    sentBeforeMark: 0,
    receivedBeforeMark: 0,
    connected: 0,
    sent: 0,
    acked: 0,
    ackFailed: 0,
    received: 0,
    drops: 0,
  };
  for (const s of all) for (const key of Object.keys(sum) as (keyof WorkerStats)[]) sum[key] += s[key];
  return sum;
}
