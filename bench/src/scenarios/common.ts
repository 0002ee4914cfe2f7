// What every scenario shares: options, starting a system with its workers, measuring server
// memory around connecting, and running one system at a time so each gets the machine alone.
import { sleep } from '../clock.js';
import { WorkerPool } from '../pool.js';
import { readProc } from '../proc.js';
import { type SystemResult, emptyResult } from '../results.js';
import { type RunningSystem, availability, startSystem } from '../systems.js';
import { track } from '../progress.js';
import type { OpenResult } from '../worker/worker.js';
import type { SystemName } from '../worker/driver.js';

export interface BenchOptions {
  quick: boolean;
  systems: SystemName[];
  /** Message text size in bytes, the same for every system. */
  size: number;
  /** Load worker processes (at least; scenarios add more for many connections). */
  workers: number;
  /** Scale factor on the scenario's default sizes (connections, pairs, members). */
  scale: number;
  /** Overrides of a scenario's sizes, e.g. connections=20000. */
  overrides: Record<string, number>;
  /** Write CPU profiles of the Parley server processes here. */
  cpuProfileDir: string | undefined;
  /** Another Parley server build to measure as the `baseline` system (its src/index.ts). */
  baselineServer: string | undefined;
  log: (line: string) => void;
}

/** A scenario's size: override, else the quick or full default times the scale. */
export function size(options: BenchOptions, key: string, quick: number, full: number): number {
  const override = options.overrides[key];
  if (override !== undefined) return override;
  return Math.max(1, Math.round((options.quick ? quick : full) * options.scale));
}

export interface SystemRun {
  system: RunningSystem;
  pool: WorkerPool;
  result: SystemResult;
}

/**
 * Runs `body` against one system: checks it can run, starts it and `workers` load workers,
 * stops both whatever happens. A failure becomes a note on the system's row.
 */
export async function withSystem(
  options: BenchOptions,
  name: SystemName,
  setup: { workers: number; processes: number; supported?: string },
  body: (run: SystemRun) => Promise<void>,
): Promise<SystemResult> {
  if (setup.supported !== undefined) return emptyResult(name, setup.supported);
  const available = await availability(name);
  if (!available.ok) {
    options.log(`  ${name}: skipped (${available.reason})`);
    return emptyResult(name, available.reason);
  }
  const result = emptyResult(name);
  let system: RunningSystem | undefined;
  let pool: WorkerPool | undefined;
  try {
    system = await startSystem(name, {
      processes: setup.processes,
      cpuProfileDir: options.cpuProfileDir,
      baselineServer: options.baselineServer,
    });
    pool = new WorkerPool(setup.workers);
    await pool.ready();
    await body({ system, pool, result });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    options.log(`  ${name}: failed: ${message}`);
    result.notes.push(`failed: ${message}`);
  } finally {
    await pool?.close();
    await system?.stop();
  }
  return result;
}

export function serverRss(system: RunningSystem): number {
  return system.pids().reduce((sum, pid) => sum + (readProc(pid)?.rssBytes ?? 0), 0);
}

/**
 * Connects `users[w]` in worker w with a progress bar, reading the servers' RSS before and
 * after (after forced GCs where the server is ours): memory per connection.
 */
export async function connectMeasured(
  run: SystemRun,
  label: string,
  users: string[][],
  options: { size: number; heartbeatMs: number; persistent?: boolean; servers?: number[][]; concurrency?: number },
): Promise<{ open: OpenResult; memoryPerConnection: number; timeline: [number, number][] }> {
  const total = users.reduce((n, u) => n + u.length, 0);
  await run.system.prepareUsers(users.flat());
  // Let a server settle before each memory reading; a few dozen connections need little.
  const settleMs = total < 100 ? 100 : 500;
  await run.system.gc();
  await sleep(settleMs);
  const before = serverRss(run.system);
  const bar = track(`${run.system.name} ${label}`, total, async () => (await run.pool.stats()).connected, 'conn');
  const open = await run.pool.open(run.system.endpoint, users, options);
  const timeline = await bar.stop();
  if (open.failed > 0)
    run.result.notes.push(`${String(open.failed)} of ${String(total)} connections failed: ${open.firstError ?? ''}`);
  if (open.ok === 0) throw new Error(`no connection succeeded: ${open.firstError ?? 'unknown error'}`);
  await sleep(2 * settleMs);
  await run.system.gc();
  await sleep(settleMs);
  const after = serverRss(run.system);
  return { open, memoryPerConnection: Math.max(0, after - before) / open.ok, timeline };
}

/** Splits `items` round-robin over `n` lists. */
export function spread<T>(items: T[], n: number): T[][] {
  const out: T[][] = Array.from({ length: n }, () => []);
  items.forEach((item, i) => out[i % n]!.push(item));
  return out;
}
