// Keeps the harness working: one-to-one and fanout in tiny configurations against Parley and
// the bare Node anchor (no external anchors: nothing to install), with their files written.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { makePayload, readPayload } from '../src/payload.js';
import { runScenario } from '../src/run.js';
import type { BenchOptions } from '../src/scenarios/common.js';
import { fanoutScenario } from '../src/scenarios/fanout.js';
import { oneToOneScenario } from '../src/scenarios/one-to-one.js';

const dir = mkdtempSync(join(tmpdir(), 'parley-bench-smoke-'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function options(overrides: Record<string, number>, repeat = 1): BenchOptions {
  return {
    quick: true,
    systems: ['parley', 'bare'],
    size: 128,
    workers: 1,
    scale: 1,
    repeat,
    overrides,
    cpuProfileDir: undefined,
    baselineServer: undefined,
    log: () => undefined,
  };
}

test('a payload carries its stamp and has the requested size', () => {
  const text = makePayload({ sentUs: 123456789, sender: 'a~b', n: 7 }, 128);
  assert.equal(text.length, 128);
  assert.deepEqual(readPayload(text), { sentUs: 123456789, sender: 'a~b', n: 7 });
  assert.equal(readPayload('hello'), undefined);
  assert.equal(readPayload('x|y|z|'), undefined);
});

test('one-to-one runs two rounds end to end on Parley and bare Node and writes JSON, Markdown and SVG', async () => {
  const result = await runScenario(oneToOneScenario, options({ pairs: 10, duration: 1, rate: 200, warmup: 1 }, 2), {
    dir,
    write: true,
    print: false,
  });
  for (const system of result.systems) {
    assert.equal(system.skipped, undefined);
    assert.deepEqual(
      system.notes.filter((n) => n.startsWith('failed')),
      [],
    );
    assert.ok(system.figures.saturation! > 0, `${system.system} delivered nothing at saturation`);
    assert.ok(system.latency['fixed rate']!.count > 0);
    assert.ok(system.latency['fixed rate']!.p50Ms > 0);
    // Two rounds: the row is their median, with each round's figures and the range kept.
    assert.equal(system.rounds?.length, 2);
    const [low, high] = system.spread!.saturation!;
    assert.ok(low <= system.figures.saturation! && system.figures.saturation! <= high);
  }
  assert.equal(result.ratios.length, 1);
  assert.equal(result.ratios[0]!.system, 'bare');
  assert.ok(result.ratios[0]!.ratios.saturation!.ratio > 0);
  const md = readFileSync(join(dir, 'one-to-one.quick.md'), 'utf8');
  assert.match(md, /\| Parley \|/);
  assert.match(md, /Parley ÷/);
  const svg = readFileSync(join(dir, 'one-to-one.quick.svg'), 'utf8');
  assert.match(svg, /^<\?xml[^>]*>\n<svg /);
  assert.match(svg, /<\/svg>\n$/);
  assert.ok(existsSync(join(dir, 'one-to-one.quick.json')));
});

test('fanout delivers every message to every member of a group and a room', async () => {
  const result = await runScenario(
    fanoutScenario,
    options({ group: 20, room: 30, spaced: 2, spacing: 100, burst: 3 }),
    { dir, write: false, print: false },
  );
  for (const system of result.systems) {
    assert.deepEqual(system.notes, [], `${system.system}: ${system.notes.join('; ')}`);
    assert.ok(system.figures.groupRate! > 0 && system.figures.roomRate! > 0);
    // Every delivery is in the histograms: (members - 1) per message.
    assert.equal(system.latency['group, spaced messages']!.count, 19 * 2);
    assert.equal(system.latency['room, spaced messages']!.count, 29 * 2);
  }
});
