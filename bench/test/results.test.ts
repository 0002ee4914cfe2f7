// Rounds (--repeat) merge into one row per system: medians, their ranges, and ratios of
// medians with the range of the per-round ratios, in the JSON and the Markdown alike.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { scenarioTable } from '../src/report/markdown.js';
import {
  type Column,
  type ScenarioResult,
  type SystemResult,
  anchorRatios,
  median,
  mergeRounds,
} from '../src/results.js';
import type { SystemName } from '../src/worker/driver.js';

const columns: Column[] = [
  { key: 'rate', label: 'msg/s', better: 'higher', digits: 0 },
  { key: 'p50', label: 'p50 ms', better: 'lower', digits: 1 },
];

function round(system: SystemName, rate: number, p50: number, note?: string): SystemResult {
  return {
    system,
    figures: { rate, p50 },
    latency: {},
    timeline: [[0, rate]],
    notes: note === undefined ? [] : [note],
  };
}

test('the median of an odd and an even count, ignoring unknown values', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([NaN, 5]), 5);
  assert.ok(Number.isNaN(median([])));
});

test('one round stays as it is; several become medians with their ranges', () => {
  const single = round('parley', 100, 2);
  assert.equal(mergeRounds([single], columns), single);

  const merged = mergeRounds(
    [round('parley', 100, 2, 'slow'), round('parley', 300, 1), round('parley', 200, 4, 'slow')],
    columns,
  );
  assert.deepEqual(merged.figures, { rate: 200, p50: 2 });
  assert.deepEqual(merged.spread, { rate: [100, 300], p50: [1, 4] });
  assert.deepEqual(merged.rounds, [
    { rate: 100, p50: 2 },
    { rate: 300, p50: 1 },
    { rate: 200, p50: 4 },
  ]);
  // The series drawn is the median round's (by the first column), the notes appear once.
  assert.deepEqual(merged.timeline, [[0, 200]]);
  assert.deepEqual(merged.notes, ['slow']);
});

test('ratios are of the medians, with the range of the per-round ratios', () => {
  const parley = mergeRounds([round('parley', 100, 2), round('parley', 300, 1), round('parley', 200, 4)], columns);
  const bare = mergeRounds([round('bare', 200, 1), round('bare', 300, 1), round('bare', 400, 2)], columns);
  const [ratios] = anchorRatios([parley, bare], columns);
  assert.equal(ratios!.system, 'bare');
  // Medians 200 / 300; rounds 100/200, 300/300, 200/400.
  assert.equal(ratios!.ratios.rate!.ratio, 200 / 300);
  assert.equal(ratios!.ratios.rate!.min, 0.5);
  assert.equal(ratios!.ratios.rate!.max, 1);
  assert.deepEqual(ratios!.ratios.p50, { ratio: 2, min: 1, max: 2 });

  const result: ScenarioResult = {
    scenario: 'test',
    quick: true,
    startedAt: '',
    durationS: 0,
    machine: { cpus: 2, model: 'x', memoryGiB: 1, loadavg: [0, 0, 0], node: 'v20' },
    config: { repeat: 3 },
    columns,
    systems: [parley, bare],
    ratios: anchorRatios([parley, bare], columns),
    notes: [],
  };
  const table = scenarioTable(result);
  assert.match(table, /\| Parley \| 200 \(100–300\) \| 2\.0 \(1\.0–4\.0\) \|/);
  assert.match(table, /\| bare Node [^|]* \| 300 \(200–400\) \| 1\.0 \(1\.0–2\.0\) \|/);
  assert.match(table, /\| bare Node [^|]* \| 0\.67× \(0\.50–1\.00×\) \| 2\.00× \(1\.00–2\.00×\) \|/);
});

test('an anchor at zero gives an infinite ratio, both at zero a ratio of one', () => {
  const parley = round('parley', 5, 0);
  const mosquitto = round('mosquitto', 0, 0);
  const [ratios] = anchorRatios([parley, mosquitto], columns);
  assert.equal(ratios!.ratios.rate!.ratio, Infinity);
  assert.equal(ratios!.ratios.p50!.ratio, 1);
});
