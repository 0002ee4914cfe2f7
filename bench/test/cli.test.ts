// The command line refuses what it cannot honour, before anything starts: an unknown --set key
// (listing the valid ones), a value of the wrong kind, a bad --repeat.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SCENARIOS, parseSettings, runBench, settingKeys } from '../src/cli.js';

const scenario = (name: string) => SCENARIOS.find((s) => s.name === name)!;

/** Runs the command line and returns its exit code and what it logged. */
async function bench(...argv: string[]): Promise<{ code: number; output: string }> {
  const lines: string[] = [];
  const code = await runBench(argv, (line) => lines.push(line));
  return { code, output: lines.join('\n') };
}

test('each scenario knows the --set keys its config reads', () => {
  assert.deepEqual(settingKeys(scenario('one-to-one')).sort(), ['duration', 'pairs', 'rate', 'warmup', 'window']);
  assert.deepEqual(settingKeys(scenario('fanout')).sort(), ['burst', 'group', 'room', 'spaced', 'spacing']);
  assert.deepEqual(settingKeys(scenario('connections')).sort(), [
    'anchorConnections',
    'connections',
    'heartbeat',
    'idle',
  ]);
  assert.deepEqual(settingKeys(scenario('reconnect-storm')).sort(), [
    'after',
    'away',
    'before',
    'clients',
    'rate',
    'senders',
  ]);
});

test('valid --set pairs become overrides, fractions allowed where they mean time or rate', () => {
  assert.deepEqual(parseSettings('pairs=10,rate=250.5,duration=1.5', [scenario('one-to-one')]), {
    pairs: 10,
    rate: 250.5,
    duration: 1.5,
  });
  assert.deepEqual(parseSettings('', [scenario('one-to-one')]), {});
});

test('an unknown --set key is an error that lists the valid keys of the scenarios run', async () => {
  assert.throws(
    () => parseSettings('pairs=10,pair=5', [scenario('one-to-one')]),
    (err: Error) => {
      assert.match(err.message, /unknown key "pair"/);
      assert.match(err.message, /one-to-one: pairs, rate, duration, warmup, window/);
      return true;
    },
  );
  // A key of another scenario is unknown to this one.
  assert.throws(() => parseSettings('group=10', [scenario('one-to-one')]), /unknown key "group"/);
  // With several scenarios, a key any of them reads is fine.
  assert.deepEqual(parseSettings('group=10', [scenario('one-to-one'), scenario('fanout')]), { group: 10 });

  const { code, output } = await bench('one-to-one', '--quick', '--set', 'nope=1');
  assert.equal(code, 2);
  assert.match(output, /unknown key "nope"/);
  assert.match(output, /pairs, rate, duration, warmup, window/);
});

test('a --set value of the wrong kind is an error', async () => {
  const o2o = [scenario('one-to-one')];
  assert.throws(() => parseSettings('pairs=abc', o2o), /pairs: "abc" is not a positive number/);
  assert.throws(() => parseSettings('pairs=', o2o), /pairs: "" is not a positive number/);
  assert.throws(() => parseSettings('pairs=-3', o2o), /not a positive number/);
  assert.throws(() => parseSettings('pairs=0', o2o), /not a positive number/);
  assert.throws(() => parseSettings('pairs=2.5', o2o), /pairs: "2.5" is not a whole number/);
  assert.throws(() => parseSettings('pairs', o2o), /takes key=value pairs, got "pairs"/);
  assert.throws(() => parseSettings('pairs=1=2', o2o), /takes key=value pairs/);

  const { code, output } = await bench('fanout', '--set', 'room=many');
  assert.equal(code, 2);
  assert.match(output, /room: "many" is not a positive number/);
});

test('--repeat takes a positive whole number', async () => {
  for (const value of ['0', '1.5', 'x']) {
    const { code, output } = await bench('one-to-one', '--quick', '--repeat', value);
    assert.equal(code, 2, value);
    assert.match(output, /--repeat must be a positive whole number/);
  }
});
