// What every scenario shares: options, starting the systems with their workers (together:
// set-up is not measured), measuring server memory around connecting, and the helpers the
// scenarios' rounds use. Measuring itself runs one system at a time (see run.ts).
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
  /** Measured rounds per system, interleaved across systems (ABCABC); figures are their median. */
  repeat: number;
  /** Overrides of a scenario's sizes, e.g. connections=20000. */
  overrides: Record<string, number>;
  /** Write CPU profiles of the Parley server processes here. */
  cpuProfileDir: string | undefined;
  /** Another Parley server build to measure as the `baseline` system (its src/index.ts). */
  baselineServer: string | undefined;
  log: (line: string) => void;
}

/** Options with every default: what a scenario's `config` is read with to learn its `--set` keys. */
export const DEFAULT_OPTIONS: BenchOptions = {
  quick: false,
  systems: [],
  size: 128,
  workers: 2,
  scale: 1,
  repeat: 1,
  overrides: {},
  cpuProfileDir: undefined,
  baselineServer: undefined,
  log: () => undefined,
};

/** `--set` keys that take fractions (seconds, rates, intervals); every other key counts things. */
export const FRACTIONAL_KEYS = new Set([
  'rate',
  'duration',
  'warmup',
  'heartbeat',
  'idle',
  'before',
  'away',
  'after',
  'spacing',
]);

/** A scenario's size: override, else the quick or full default times the scale. */
export function size(options: BenchOptions, key: string, quick: number, full: number): number {
  const override = options.overrides[key];
  if (override !== undefined) return override;
  return Math.max(1, Math.round((options.quick ? quick : full) * options.scale));
}

export interface SystemRun {
  system: RunningSystem;
  pool: WorkerPool;
  /** Where the figures go: the set-up's result in `prepare`, the round's own in `measure`. */
  result: SystemResult;
}

/** What one system needs from the harness for a scenario. */
export interface Setup {
  /** Load worker processes. */
  workers: number;
  /** Server processes (Parley and the Node anchors; one process holds at most ~20,000 files). */
  processes: number;
  /** Set when the scenario does not apply to the system: why (the row says "not run"). */
  supported?: string;
}

/** One system made ready for a scenario's rounds, or the reason it cannot run them. */
export interface PreparedSystem<S> {
  name: SystemName;
  /** Set when the system is up and prepared. */
  run?: SystemRun;
  state?: S;
  /** The row of a system that was not run or whose set-up failed. */
  unavailable?: SystemResult;
}

const seconds = (since: number) => ((performance.now() - since) / 1000).toFixed(1);

/**
 * Starts every system with its own load workers, all at once (set-up is not measured, so it
 * may overlap: starting ejabberd, Erlang's boot, and logging users in take longest), then
 * runs `prepare` on each (users, logins, groups; what it records, such as memory per
 * connection, lands in the set-up result each round starts from). A system that cannot run
 * or fails to start gets a row saying why; the others go on.
 */
export async function prepareSystems<S>(
  options: BenchOptions,
  setup: (name: SystemName) => Setup,
  prepare: (run: SystemRun) => Promise<S>,
): Promise<PreparedSystem<S>[]> {
  return Promise.all(
    options.systems.map(async (name): Promise<PreparedSystem<S>> => {
      const wanted = setup(name);
      if (wanted.supported !== undefined) return { name, unavailable: emptyResult(name, wanted.supported) };
      const available = await availability(name);
      if (!available.ok) {
        options.log(`  ${name}: skipped (${available.reason})`);
        return { name, unavailable: emptyResult(name, available.reason) };
      }
      const result = emptyResult(name);
      const began = performance.now();
      let system: RunningSystem | undefined;
      let pool: WorkerPool | undefined;
      try {
        // Both at once; whichever succeeded is stopped below if the other failed.
        const [started, workers] = await Promise.allSettled([
          startSystem(name, {
            processes: wanted.processes,
            cpuProfileDir: options.cpuProfileDir,
            baselineServer: options.baselineServer,
          }),
          (async () => {
            pool = new WorkerPool(wanted.workers);
            await pool.ready();
            return pool;
          })(),
        ]);
        if (started.status === 'fulfilled') system = started.value;
        if (started.status === 'rejected') throw started.reason;
        if (workers.status === 'rejected') throw workers.reason;
        const run: SystemRun = { system: started.value, pool: workers.value, result };
        const up = performance.now();
        const state = await prepare(run);
        options.log(
          `  ${name}: ready in ${seconds(began)} s (start ${((up - began) / 1000).toFixed(1)} s, then ${seconds(up)} s to prepare)`,
        );
        return { name, run, state };
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        options.log(`  ${name}: failed: ${message}`);
        result.notes.push(`failed: ${message}`);
        await pool?.close();
        await system?.stop();
        return { name, unavailable: result };
      }
    }),
  );
}

/** Stops every prepared system and its workers, all at once. */
export async function releaseSystems(prepared: PreparedSystem<unknown>[]): Promise<void> {
  await Promise.all(
    prepared.map(async (p) => {
      if (!p.run) return;
      await p.run.pool.close();
      await p.run.system.stop();
    }),
  );
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
  // Let a server settle before each memory reading; a few hundred connections need little.
  const settleMs = total < 100 ? 100 : total <= 500 ? 250 : 500;
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
