// Command-line front of the harness, shared by `parley bench` and `npm run bench`.
import { parseArgs } from 'node:util';
import { type Scenario, runScenario } from './run.js';
import type { BenchOptions } from './scenarios/common.js';
import { connectionsScenario } from './scenarios/connections.js';
import { fanoutScenario } from './scenarios/fanout.js';
import { oneToOneScenario } from './scenarios/one-to-one.js';
import { reconnectStormScenario } from './scenarios/reconnect-storm.js';
import { ALL_SYSTEMS } from './systems.js';
import type { SystemName } from './worker/driver.js';

export const SCENARIOS: Scenario[] = [connectionsScenario, oneToOneScenario, fanoutScenario, reconnectStormScenario];

export const BENCH_USAGE = `usage: bench <scenario|all> [--quick] [--systems parley,bare,socketio,mosquitto,ejabberd]
             [--size BYTES] [--workers N] [--scale X] [--set key=value,...] [--cpu-prof DIR] [--baseline PATH]
scenarios: ${SCENARIOS.map((s) => s.name).join(', ')}, all (none named: all with --quick)
--quick     each scenario in under a minute (smoke check); without it, the full sizes
--set       override a scenario's sizes, e.g. --set pairs=100,rate=500 (see BENCHMARKS.md)
--cpu-prof  write V8 CPU profiles of the Parley server processes into DIR/parley (and DIR/baseline)
--baseline  also measure another Parley server build, given as the path of its src/index.ts
            (e.g. a \`git archive\` of an earlier commit under bench/.baseline/), as "Parley baseline"`;

/** Parses arguments and runs; resolves with the exit code. */
export async function runBench(
  argv: string[],
  log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        quick: { type: 'boolean', default: false },
        systems: { type: 'string' },
        size: { type: 'string', default: '128' },
        workers: { type: 'string', default: '2' },
        scale: { type: 'string', default: '1' },
        set: { type: 'string', default: '' },
        'cpu-prof': { type: 'string' },
        baseline: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    log(`${(err as Error).message}\n${BENCH_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    log(BENCH_USAGE);
    return 0;
  }
  // No scenario named: a quick pass over all of them (a smoke check, a few minutes).
  const quick = values.quick || positionals.length === 0;
  if (positionals.length === 0 && !values.quick) log('no scenario named: running all of them with --quick');
  const names = positionals.length === 0 || positionals.includes('all') ? SCENARIOS.map((s) => s.name) : positionals;
  const unknown = names.filter((n) => !SCENARIOS.some((s) => s.name === n));
  const listed = (values.systems?.split(',') ?? ALL_SYSTEMS) as SystemName[];
  // The baseline build runs right before the current one, with the same load.
  const systems = values.baseline && !listed.includes('baseline') ? (['baseline', ...listed] as SystemName[]) : listed;
  const badSystems = systems.filter((s) => !ALL_SYSTEMS.includes(s) && !(s === 'baseline' && values.baseline));
  const overrides: Record<string, number> = {};
  for (const pair of values.set.split(',').filter(Boolean)) {
    const [key, value] = pair.split('=');
    if (key === undefined || value === undefined || !Number.isFinite(Number(value)) || Number(value) <= 0) {
      log(`--set takes key=value pairs with positive numbers, got "${pair}"`);
      return 2;
    }
    overrides[key] = Number(value);
  }
  const numbers = { size: Number(values.size), workers: Number(values.workers), scale: Number(values.scale) };
  const badNumber = Object.entries(numbers).find(([, v]) => !Number.isFinite(v) || v <= 0);
  if (unknown.length > 0 || badSystems.length > 0 || badNumber) {
    log(
      (unknown.length > 0 ? `unknown scenario: ${unknown.join(', ')}\n` : '') +
        (badSystems.length > 0 ? `unknown system: ${badSystems.join(', ')}\n` : '') +
        (badNumber ? `--${badNumber[0]} must be a positive number\n` : '') +
        BENCH_USAGE,
    );
    return 2;
  }
  if (numbers.size < 32) {
    log('--size must be at least 32 bytes (the latency stamp)');
    return 2;
  }
  const options: BenchOptions = {
    quick,
    systems,
    size: Math.round(numbers.size),
    workers: Math.round(numbers.workers),
    scale: numbers.scale,
    overrides,
    cpuProfileDir: values['cpu-prof'],
    baselineServer: values.baseline,
    log,
  };
  for (const name of names)
    await runScenario(
      SCENARIOS.find((s) => s.name === name)!,
      options,
    );
  return 0;
}
