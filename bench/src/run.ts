// Runs scenarios: sets every system up together, then measures one system at a time (so each
// has the load generator and the machine to itself while timed), round after round, then
// writes bench/results/<scenario>.{json,md,svg} and prints the table.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAllChildren } from './ipc.js';
import { scenarioMarkdown, scenarioTable } from './report/markdown.js';
import { scenarioSvg } from './report/svg.js';
import {
  type Column,
  type ScenarioResult,
  type SystemResult,
  anchorRatios,
  copyResult,
  emptyResult,
  mergeRounds,
} from './results.js';
import {
  type BenchOptions,
  type PreparedSystem,
  type Setup,
  type SystemRun,
  prepareSystems,
  releaseSystems,
} from './scenarios/common.js';
import { SYSTEM_LABELS } from './systems.js';
import type { SystemName } from './worker/driver.js';

/**
 * A scenario in two steps: `prepare` once per system (or once per round when
 * `freshEachRound`), with every system set up at the same time, then `measure` one system
 * at a time, round after round, interleaved across systems (ABCABC) to spread the machine's
 * noise over all of them.
 */
export interface Scenario<S = unknown> {
  name: string;
  describe: string;
  columns: Column[];
  /** The sizes in effect (read through `size()`, which is how `--set` keys are known). */
  config(options: BenchOptions): Record<string, unknown>;
  /** Workers and server processes for a system, or why the scenario does not apply to it. */
  setup(options: BenchOptions, system: SystemName): Setup;
  /** Users, logins, groups: everything before the timed part. */
  prepare(options: BenchOptions, run: SystemRun): Promise<S>;
  /** One timed round: fills `run.result`, which starts as a copy of what `prepare` recorded. */
  measure(options: BenchOptions, run: SystemRun, state: S, round: number): Promise<void>;
  /** Start and prepare the systems again for every round (the measurement is the set-up, or leaves state behind). */
  freshEachRound?: boolean;
  /** Notes printed under the table. */
  notes: string[];
}

/** bench/results, beside src/ (and dist/ when built). */
export const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));

function machine(): ScenarioResult['machine'] {
  const list = cpus();
  return {
    cpus: list.length,
    model: list[0]?.model.trim() ?? 'unknown',
    memoryGiB: totalmem() / 2 ** 30,
    loadavg: loadavg(),
    node: process.version,
  };
}

let cleanupInstalled = false;

/** Kills every child on exit or interruption, so a stopped run leaves no servers behind. */
function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', killAllChildren);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping\n`);
      killAllChildren();
      process.exit(130);
    });
  }
}

export async function runScenario<S>(
  scenario: Scenario<S>,
  options: BenchOptions,
  output: { dir: string; write: boolean; print?: boolean } = { dir: RESULTS_DIR, write: true },
): Promise<ScenarioResult> {
  installCleanup();
  const started = Date.now();
  const result: ScenarioResult = {
    scenario: scenario.name,
    quick: options.quick,
    startedAt: new Date(started).toISOString(),
    durationS: 0,
    machine: machine(),
    config: {
      ...scenario.config(options),
      systems: options.systems.join(' '),
      repeat: options.repeat,
      workers: options.workers,
    },
    columns: scenario.columns,
    systems: [],
    ratios: [],
    notes: scenario.notes,
  };
  options.log(`${scenario.name}: ${scenario.describe}`);
  result.systems = await measureRounds(scenario, options);
  result.ratios = anchorRatios(result.systems, scenario.columns);
  result.durationS = Math.round((Date.now() - started) / 1000);
  if (output.write) {
    mkdirSync(output.dir, { recursive: true });
    const base = `${join(output.dir, scenario.name)}${options.quick ? '.quick' : ''}`;
    writeFileSync(`${base}.json`, `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(`${base}.md`, scenarioMarkdown(result));
    writeFileSync(`${base}.svg`, scenarioSvg(result, SYSTEM_LABELS));
    options.log(`wrote ${base}.{json,md,svg}`);
  }
  if (output.print !== false) process.stdout.write(`\n${scenarioTable(result)}\n\n`);
  return result;
}

/** Prepares the systems, measures them round by round, and merges each one's rounds. */
async function measureRounds<S>(scenario: Scenario<S>, options: BenchOptions): Promise<SystemResult[]> {
  const rounds = new Map<SystemName, SystemResult[]>(options.systems.map((name) => [name, []]));
  const notRun = new Map<SystemName, SystemResult>();
  let prepared: PreparedSystem<S>[] | undefined;
  const prepare = async () => {
    const began = performance.now();
    const list = await prepareSystems(
      options,
      (name) => scenario.setup(options, name),
      (run) => scenario.prepare(options, run),
    );
    options.log(`  set-up: ${((performance.now() - began) / 1000).toFixed(1)} s`);
    return list;
  };
  try {
    for (let round = 0; round < options.repeat; round++) {
      if (!prepared || scenario.freshEachRound) {
        if (prepared) await releaseSystems(prepared);
        prepared = await prepare();
      }
      for (const p of prepared) {
        if (p.unavailable || !p.run) {
          if (!notRun.has(p.name)) notRun.set(p.name, p.unavailable ?? emptyResult(p.name, 'not started'));
          continue;
        }
        const label = options.repeat > 1 ? ` (round ${String(round + 1)} of ${String(options.repeat)})` : '';
        options.log(`- ${SYSTEM_LABELS[p.name]}${label}`);
        const began = performance.now();
        const result = copyResult(p.run.result);
        try {
          await scenario.measure(options, { ...p.run, result }, p.state as S, round);
          rounds.get(p.name)!.push(result);
        } catch (err) {
          // A system that breaks mid-run is not measured again; its row says why.
          const message = err instanceof Error ? err.message : String(err);
          options.log(`  ${p.name}: failed: ${message}`);
          result.notes.push(`failed: ${message}`);
          notRun.set(p.name, result);
          await p.run.pool.close();
          await p.run.system.stop();
          p.unavailable = result;
          delete p.run;
        }
        options.log(`  ${p.name}: measured in ${((performance.now() - began) / 1000).toFixed(1)} s`);
      }
    }
  } finally {
    if (prepared) {
      const began = performance.now();
      await releaseSystems(prepared);
      options.log(`  tear-down: ${((performance.now() - began) / 1000).toFixed(1)} s`);
    }
  }
  return options.systems.map((name) => {
    const measured = rounds.get(name)!;
    if (measured.length === 0) return notRun.get(name) ?? emptyResult(name, 'not measured');
    const merged = mergeRounds(measured, scenario.columns);
    const failed = notRun.get(name);
    if (failed) merged.notes = [...new Set([...merged.notes, ...failed.notes])];
    return merged;
  });
}
