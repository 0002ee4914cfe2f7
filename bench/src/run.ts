// Runs scenarios: each system in turn (so each has the machine to itself), then writes
// bench/results/<scenario>.{json,md,svg} and prints the table.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAllChildren } from './ipc.js';
import { scenarioMarkdown, scenarioTable } from './report/markdown.js';
import { scenarioSvg } from './report/svg.js';
import type { Column, ScenarioResult, SystemResult } from './results.js';
import type { BenchOptions } from './scenarios/common.js';
import { SYSTEM_LABELS } from './systems.js';
import type { SystemName } from './worker/driver.js';

export interface Scenario {
  name: string;
  describe: string;
  columns: Column[];
  config(options: BenchOptions): Record<string, unknown>;
  run(options: BenchOptions, system: SystemName): Promise<SystemResult>;
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

export async function runScenario(
  scenario: Scenario,
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
    config: { ...scenario.config(options), systems: options.systems.join(' ') },
    columns: scenario.columns,
    systems: [],
    notes: scenario.notes,
  };
  options.log(`${scenario.name}: ${scenario.describe}`);
  for (const system of options.systems) {
    options.log(`- ${SYSTEM_LABELS[system]}`);
    result.systems.push(await scenario.run(options, system));
  }
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
