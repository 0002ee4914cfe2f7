// Command-line front of the harness, shared by `parley bench` and `npm run bench`.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type Scenario, runScenario } from './run.js';
import { type BenchOptions, DEFAULT_OPTIONS, FRACTIONAL_KEYS } from './scenarios/common.js';
import { connectionsScenario } from './scenarios/connections.js';
import { fanoutScenario } from './scenarios/fanout.js';
import { oneToOneScenario } from './scenarios/one-to-one.js';
import { reconnectStormScenario } from './scenarios/reconnect-storm.js';
import { ALL_SYSTEMS } from './systems.js';
import type { SystemName } from './worker/driver.js';

export const SCENARIOS: Scenario[] = [connectionsScenario, oneToOneScenario, fanoutScenario, reconnectStormScenario];

export const BENCH_USAGE = `usage: bench <scenario|all> [--quick] [--repeat N] [--systems parley,bare,socketio,mosquitto,ejabberd]
             [--size BYTES] [--workers N] [--scale X] [--set key=value,...] [--cpu-prof DIR] [--baseline PATH]
scenarios: ${SCENARIOS.map((s) => s.name).join(', ')}, all (none named: all with --quick)
--quick     each scenario in under a minute (smoke check); without it, the full sizes
--repeat    measure each system N times, interleaved (default 1 with --quick, 3 without):
            the tables show the median and the range
--set       override a scenario's sizes, e.g. --set pairs=100,rate=500 (keys: see BENCHMARKS.md)
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
        workers: { type: 'string' },
        scale: { type: 'string', default: '1' },
        set: { type: 'string', default: '' },
        repeat: { type: 'string' },
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
  const scenarios = names.flatMap((n) => SCENARIOS.filter((s) => s.name === n));
  let overrides: Record<string, number>;
  try {
    overrides = parseSettings(values.set, scenarios);
  } catch (err) {
    log((err as Error).message);
    return 2;
  }
  const numbers = {
    size: Number(values.size),
    // Quick sizes need no more than one load process per system (two in reconnect-storm).
    workers: Number(values.workers ?? (quick ? 1 : 2)),
    scale: Number(values.scale),
    repeat: Number(values.repeat ?? (quick ? 1 : 3)),
  };
  const badNumber = Object.entries(numbers).find(
    ([k, v]) => !Number.isFinite(v) || v <= 0 || (k === 'repeat' && !Number.isInteger(v)),
  );
  if (unknown.length > 0 || badSystems.length > 0 || badNumber) {
    log(
      (unknown.length > 0 ? `unknown scenario: ${unknown.join(', ')}\n` : '') +
        (badSystems.length > 0 ? `unknown system: ${badSystems.join(', ')}\n` : '') +
        (badNumber
          ? `--${badNumber[0]} must be a positive ${badNumber[0] === 'repeat' ? 'whole number' : 'number'}\n`
          : '') +
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
    repeat: numbers.repeat,
    overrides,
    cpuProfileDir: fromCaller(values['cpu-prof']),
    baselineServer: fromCaller(values.baseline),
    log,
  };
  for (const scenario of scenarios) await runScenario(scenario, options);
  return 0;
}

/**
 * The `--set` keys a scenario reads: every size its `config` asks `size()` for, found by
 * handing it overrides that note each key looked up.
 */
export function settingKeys(scenario: Scenario): string[] {
  const keys = new Set<string>();
  const overrides = new Proxy<Record<string, number>>(
    {},
    {
      get: (_, key) => {
        if (typeof key === 'string') keys.add(key);
        return undefined;
      },
    },
  );
  for (const quick of [true, false]) scenario.config({ ...DEFAULT_OPTIONS, quick, overrides });
  return [...keys];
}

/**
 * Parses `--set key=value,...` for the scenarios about to run: a key none of them reads, a
 * value that is not a positive number, or a fraction where a count is meant, is an error that
 * lists the valid keys.
 */
export function parseSettings(text: string, scenarios: Scenario[]): Record<string, number> {
  const valid = new Map(scenarios.map((s) => [s.name, settingKeys(s)]));
  const known = new Set([...valid.values()].flat());
  const listing = [...valid].map(([name, keys]) => `  ${name}: ${keys.join(', ')}`).join('\n');
  const overrides: Record<string, number> = {};
  for (const pair of text.split(',').filter(Boolean)) {
    const [key, value, extra] = pair.split('=');
    if (key === undefined || value === undefined || extra !== undefined || key === '') {
      throw new Error(`--set takes key=value pairs, got "${pair}"; valid keys:\n${listing}`);
    }
    if (!known.has(key)) throw new Error(`--set: unknown key "${key}"; valid keys:\n${listing}`);
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n <= 0) {
      throw new Error(`--set ${key}: "${value}" is not a positive number`);
    }
    if (!FRACTIONAL_KEYS.has(key) && !Number.isInteger(n)) {
      throw new Error(`--set ${key}: "${value}" is not a whole number (${key} counts things)`);
    }
    overrides[key] = n;
  }
  return overrides;
}

/**
 * A path the user typed, resolved against where they typed it: `npm run bench` runs the
 * harness in bench/, but npm keeps the caller's directory in INIT_CWD.
 */
function fromCaller(path: string | undefined): string | undefined {
  return path === undefined ? undefined : resolve(process.env.INIT_CWD ?? process.cwd(), path);
}
