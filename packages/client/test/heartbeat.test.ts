// The smart heartbeat policy, driven with a fake clock through a simulated NAT. Seconds, not minutes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  DEFAULT_HEARTBEAT_CONFIG,
  type HeartbeatTransition,
  SmartHeartbeat,
  type SmartHeartbeatOptions,
} from '../src/heartbeat/index.js';

const S = 1000;
const DAY = 24 * 3600 * S;
/** Mars's shape at a small scale: min 10 s, max 60 s, 10 s steps, 3 s margin. */
const SMALL: SmartHeartbeatOptions = {
  minMs: 10 * S,
  maxMs: 60 * S,
  stepMs: 10 * S,
  marginMs: 3 * S,
  pingTimeoutMs: 2 * S,
  backgroundActiveMs: 60 * S,
};

/** A policy, a fake clock, and a simulated NAT that drops any mapping idle longer than `natMs`. */
class Sim {
  now = 1_700_000_000_000;
  natMs = Infinity;
  heartbeats = 0;
  failures = 0;
  readonly transitions: HeartbeatTransition[] = [];
  readonly hb: SmartHeartbeat;

  constructor(options: SmartHeartbeatOptions = {}) {
    this.hb = new SmartHeartbeat({
      ...SMALL,
      ...options,
      onTransition: (t) => this.transitions.push(t),
    });
    this.hb.onLinkUp();
  }

  /** One heartbeat cycle: stay idle for the interval, PING, then pong or (past the NAT timeout) a dead link and a new one. */
  beat(): 'ok' | 'dead' {
    const interval = this.hb.intervalFor(this.now);
    this.now += interval;
    this.heartbeats++;
    if (interval > this.natMs) {
      this.now += this.hb.pingTimeoutMs;
      this.failures++;
      this.hb.onHeartbeatFailed(this.now, 'timeout', interval);
      this.hb.onLinkUp(); // reconnected
      return 'dead';
    }
    this.hb.onHeartbeatSucceeded(this.now, interval);
    return 'ok';
  }

  beats(count: number): void {
    for (let i = 0; i < count; i++) this.beat();
  }

  /** Beats until the learned state is stable; returns how many it took. */
  untilStable(limit = 1000): number {
    const start = this.heartbeats;
    while (!this.hb.state.stable) {
      if (this.heartbeats - start >= limit) assert.fail(`not stable after ${limit} heartbeats`);
      this.beat();
    }
    return this.heartbeats - start;
  }

  /** The intervals of the next `count` heartbeats. */
  intervals(count: number): number[] {
    const seen: number[] = [];
    for (let i = 0; i < count; i++) {
      seen.push(this.hb.intervalFor(this.now) / S);
      this.beat();
    }
    return seen;
  }

  kinds(): string[] {
    return this.transitions.map((t) => `${t.type} ${t.fromMs / S}->${t.toMs / S}`);
  }
}

describe('SmartHeartbeat defaults', () => {
  test('are the Mars constants', () => {
    assert.deepEqual(
      { ...DEFAULT_HEARTBEAT_CONFIG },
      {
        minMs: 210_000,
        maxMs: 600_000,
        stepMs: 60_000,
        marginMs: 20_000,
        successesToStep: 5,
        stableTestCount: 3,
        maxFailures: 2,
        reprobeAfterMs: 7 * DAY,
        foregroundUsesMin: true,
        backgroundActiveMs: 600_000,
        pingTimeoutMs: 10_000,
        maxNetworks: 20,
        storageKey: 'parley.heartbeat',
      },
    );
    const hb = new SmartHeartbeat();
    assert.equal(hb.intervalFor(0), 210_000);
    assert.equal(hb.pingTimeoutMs, 10_000);
    assert.equal(hb.networkId, 'default');
    assert.equal(hb.appState, 'background');
  });

  test('rejects inconsistent options', () => {
    assert.throws(() => new SmartHeartbeat({ minMs: 20, maxMs: 10 }), RangeError);
    assert.throws(() => new SmartHeartbeat({ minMs: 0 }), RangeError);
    assert.throws(() => new SmartHeartbeat({ stepMs: Number.NaN }), RangeError);
    assert.throws(() => new SmartHeartbeat({ marginMs: -1 }), RangeError);
    assert.throws(() => new SmartHeartbeat({ successesToStep: 0 }), RangeError);
    assert.throws(() => new SmartHeartbeat({ maxFailures: 1.5 }), RangeError);
    assert.throws(() => new SmartHeartbeat({ pingTimeoutMs: 0 }), RangeError);
  });
});

describe('SmartHeartbeat learning', () => {
  test('a new link uses the minimum until its test heartbeats succeed', () => {
    const sim = new Sim();
    sim.untilStable(); // max reached: 57 s
    sim.hb.onLinkUp();
    assert.equal(sim.hb.linkSuccesses, 0);
    assert.deepEqual(sim.intervals(5), [10, 10, 10, 57, 57]);
  });

  test('converges upward step by step from the minimum and settles at max - margin', () => {
    const sim = new Sim();
    // 2 uncounted test heartbeats, then 5 counted at each of 10..50 s, then one survives 60 s.
    assert.equal(sim.untilStable(), 2 + 5 * 5 + 1);
    assert.deepEqual(sim.kinds(), [
      'step-up 10->20',
      'step-up 20->30',
      'step-up 30->40',
      'step-up 40->50',
      'step-up 50->60',
      'max-reached 60->57',
    ]);
    assert.equal(sim.failures, 0);
    assert.deepEqual(sim.hb.state, {
      ...sim.hb.state,
      currentMs: 57 * S,
      lastGoodMs: 60 * S,
      stable: true,
      failures: 0,
      successesAtCurrent: 0,
    });
    sim.beats(200);
    assert.equal(sim.hb.intervalFor(sim.now), 57 * S, 'stays at max - margin');
    assert.equal(sim.transitions.length, 6);
  });

  test('a NAT timeout between steps settles below it, after exactly maxFailures drops, and stays', () => {
    const sim = new Sim();
    sim.natMs = 35 * S;
    const cycles = sim.untilStable();
    // 2 + 5 × (10, 20, 30) counted, 40 s dies, 3 test beats on the new link, 40 s dies again.
    assert.equal(cycles, 2 + 15 + 1 + 3 + 1);
    assert.equal(sim.failures, 2);
    assert.deepEqual(sim.kinds(), ['step-up 10->20', 'step-up 20->30', 'step-up 30->40', 'settled 40->27']);
    assert.equal(sim.hb.state.currentMs, 27 * S, 'last good (30 s) minus the margin');
    assert.ok(sim.hb.state.currentMs < sim.natMs);
    const before = sim.failures;
    assert.deepEqual(sim.intervals(5), [10, 10, 10, 27, 27], 'the new link tests at min first');
    sim.beats(500);
    assert.equal(sim.failures, before, 'no drop once settled');
    assert.equal(sim.hb.intervalFor(sim.now), 27 * S);
  });

  test('converges in a bounded number of cycles for any NAT timeout', () => {
    for (let natS = 11; natS <= 70; natS++) {
      const sim = new Sim();
      sim.natMs = natS * S;
      const cycles = sim.untilStable();
      assert.ok(cycles <= 2 + 5 * 5 + 1 + 2 * 4, `T=${natS}s took ${cycles} cycles`);
      assert.ok(sim.failures <= 2);
      const settled = sim.hb.state.currentMs;
      assert.ok(settled < sim.natMs, `T=${natS}s settled at ${settled}`);
      sim.failures = 0;
      sim.beats(100);
      assert.equal(sim.failures, 0, `T=${natS}s keeps dropping`);
    }
  });

  test('a single failure while computing is forgiven by the next success', () => {
    const sim = new Sim();
    sim.beats(2 + 5 + 5); // now at 30 s
    assert.equal(sim.hb.state.currentMs, 30 * S);
    sim.natMs = 25 * S;
    assert.deepEqual(sim.intervals(1), [30]); // dies
    assert.equal(sim.hb.state.failures, 1);
    sim.natMs = Infinity;
    sim.beats(4); // 3 test beats at min, then 30 s succeeds
    assert.equal(sim.hb.state.failures, 0);
    assert.equal(sim.hb.state.stable, false);
  });

  test('a success counts when its idle fell short of the interval by less than the ping timeout', () => {
    const sim = new Sim();
    sim.beats(2 + 5); // at 20 s
    const { hb } = sim;
    hb.onHeartbeatSucceeded(sim.now, 17.9 * S); // a push 2.1 s before the ping: too short to count
    assert.equal(hb.state.successesAtCurrent, 0);
    hb.onHeartbeatSucceeded(sim.now, 19.5 * S); // the previous answer's round trip
    assert.equal(hb.state.successesAtCurrent, 1);
    assert.equal(hb.state.lastGoodMs, 19.5 * S, 'what was actually survived');
    hb.onHeartbeatFailed(sim.now, 'timeout', 20 * S);
    hb.onHeartbeatFailed(sim.now, 'timeout', 20 * S);
    assert.equal(hb.state.currentMs, 16.5 * S, 'settles a margin below what was survived');
  });

  test('failures at the minimum are ignored', () => {
    const sim = new Sim();
    sim.natMs = 5 * S; // shorter than anything allowed: every heartbeat dies
    sim.beats(20);
    assert.equal(sim.failures, 20);
    assert.deepEqual(sim.hb.state, { ...sim.hb.state, currentMs: 10 * S, stable: false, failures: 0 });
    assert.equal(sim.transitions.length, 0);
  });

  test('only NAT-like failures that tested the current interval count', () => {
    const sim = new Sim();
    sim.beats(2 + 5 + 5); // at 30 s, computing
    const { hb } = sim;
    hb.onHeartbeatFailed(sim.now, 'other', 30 * S);
    hb.onHeartbeatFailed(sim.now, 'timeout', 10 * S); // a test heartbeat at the minimum
    hb.onHeartbeatFailed(sim.now, 'timeout', 3600 * S); // the device slept for an hour
    hb.onHeartbeatFailed(sim.now, 'link-dead-after-idle', 20 * S); // well below the current interval
    assert.equal(hb.state.failures, 0);
    hb.onHeartbeatFailed(sim.now, 'link-dead-after-idle', 28 * S); // within the margin below it
    hb.onHeartbeatFailed(sim.now, 'timeout', 31 * S); // a late timer
    assert.equal(hb.state.stable, true);
    assert.equal(hb.state.currentMs, 17 * S);
  });
});

describe('SmartHeartbeat once settled', () => {
  test('two failures at a settled interval reset to the minimum and recompute', () => {
    const sim = new Sim();
    sim.untilStable(); // 57 s
    sim.natMs = 25 * S; // the network changed behaviour
    sim.beat(); // 57 s dies
    assert.equal(sim.hb.state.failures, 1);
    assert.equal(sim.hb.state.stable, true);
    sim.beats(4); // 3 test beats, then 57 s dies again
    assert.equal(sim.hb.state.currentMs, 10 * S);
    assert.equal(sim.hb.state.stable, false);
    assert.equal(sim.hb.state.lastGoodMs, 0);
    sim.untilStable();
    assert.equal(sim.hb.state.currentMs, 17 * S);
    assert.deepEqual(sim.kinds().slice(6), ['reset 57->10', 'step-up 10->20', 'step-up 20->30', 'settled 30->17']);
  });

  test('one failure at a settled interval followed by a success keeps it', () => {
    const sim = new Sim();
    sim.untilStable();
    sim.natMs = 50 * S;
    sim.beat();
    sim.natMs = Infinity;
    sim.beats(10);
    assert.deepEqual(sim.hb.state, { ...sim.hb.state, currentMs: 57 * S, stable: true, failures: 0 });
  });

  test('re-probes margin higher after reprobeAfterMs and settles back if the NAT has not changed', () => {
    const sim = new Sim();
    sim.natMs = 35 * S;
    sim.untilStable(); // 27 s
    sim.beats(10);
    assert.equal(sim.transitions.length, 4, 'no re-probe before the period');
    sim.now += 7 * DAY;
    sim.beat();
    assert.deepEqual(sim.kinds().slice(4), ['reprobe 27->30']);
    assert.equal(sim.hb.state.stable, false);
    sim.untilStable();
    assert.deepEqual(sim.kinds().slice(5), ['step-up 30->40', 'settled 40->27']);
    assert.equal(sim.hb.state.currentMs, 27 * S);
  });

  test('re-probes after reprobeAfterMs and keeps climbing when the NAT got more generous', () => {
    const sim = new Sim();
    sim.natMs = 35 * S;
    sim.untilStable();
    sim.natMs = Infinity;
    sim.now += 8 * DAY;
    while (sim.hb.state.stable) sim.beat(); // the first counted success re-probes
    sim.untilStable();
    assert.deepEqual(sim.kinds().slice(4), [
      'reprobe 27->30',
      'step-up 30->40',
      'step-up 40->50',
      'step-up 50->60',
      'max-reached 60->57',
    ]);
  });

  test('does not re-probe at max - margin', () => {
    const sim = new Sim({ reprobeAfterMs: 1 });
    sim.untilStable();
    sim.beats(20);
    assert.equal(sim.transitions.at(-1)?.type, 'max-reached');
  });
});

describe('SmartHeartbeat app state', () => {
  test('uses the minimum in the foreground and for backgroundActiveMs after, and learns nothing from it', () => {
    const sim = new Sim();
    sim.natMs = 35 * S;
    sim.untilStable(); // 27 s
    sim.beats(3);
    sim.hb.onAppState('foreground', sim.now);
    assert.equal(sim.hb.isActive(sim.now), true);
    const state = sim.hb.state;
    assert.deepEqual(sim.intervals(20), Array<number>(20).fill(10));
    assert.deepEqual(sim.hb.state, { ...state, usedAt: sim.hb.state.usedAt });
    sim.hb.onAppState('background', sim.now);
    assert.equal(sim.hb.intervalFor(sim.now), 10 * S, 'still active right after backgrounding');
    sim.now += 60 * S;
    assert.equal(sim.hb.intervalFor(sim.now), 27 * S);
  });

  test('foregroundUsesMin: false uses the learned interval in the foreground too', () => {
    const sim = new Sim({ foregroundUsesMin: false, appState: 'foreground' });
    sim.untilStable();
    sim.beats(3);
    assert.equal(sim.hb.intervalFor(sim.now), 57 * S);
  });

  test('learning in the foreground happens only at the minimum', () => {
    const sim = new Sim({ appState: 'foreground' });
    sim.beats(2 + 5);
    assert.equal(sim.hb.state.currentMs, 20 * S); // counted at 10 s, which is what it tested
    sim.beats(50);
    assert.equal(sim.hb.state.currentMs, 20 * S); // 10 s heartbeats say nothing about 20 s
  });
});

describe('SmartHeartbeat networks', () => {
  test('keeps separate learned values per network', () => {
    const sim = new Sim();
    sim.hb.onNetworkChanged('wifi:home', sim.now);
    sim.natMs = 35 * S;
    sim.untilStable();
    assert.equal(sim.hb.state.currentMs, 27 * S);

    sim.hb.onNetworkChanged('cell:operator-a', sim.now);
    assert.equal(sim.hb.linkSuccesses, 0);
    assert.deepEqual(sim.hb.state, { ...sim.hb.state, currentMs: 10 * S, stable: false });
    sim.hb.onLinkUp();
    sim.natMs = 55 * S;
    sim.untilStable();
    assert.equal(sim.hb.state.currentMs, 47 * S);

    sim.hb.onNetworkChanged('wifi:home', sim.now);
    sim.hb.onLinkUp();
    sim.natMs = 35 * S;
    assert.deepEqual(sim.intervals(5), [10, 10, 10, 27, 27]);
    assert.equal(sim.hb.stateOf('cell:operator-a')?.currentMs, 47 * S);
    assert.deepEqual(sim.hb.networkIds().sort(), ['cell:operator-a', 'wifi:home']);
    assert.equal(sim.transitions.at(-1)?.networkId, 'cell:operator-a');
  });

  test('re-probes a stale settled network when the device returns to it', () => {
    const sim = new Sim({ networkId: 'wifi:home' });
    sim.natMs = 35 * S;
    sim.untilStable();
    sim.hb.onNetworkChanged('cell', sim.now);
    sim.now += 1 * DAY;
    sim.hb.onNetworkChanged('wifi:home', sim.now);
    assert.equal(sim.hb.state.stable, true, 'recent enough');
    sim.hb.onNetworkChanged('cell', sim.now);
    sim.now += 7 * DAY;
    sim.hb.onNetworkChanged('wifi:home', sim.now);
    assert.deepEqual(sim.hb.state, { ...sim.hb.state, currentMs: 30 * S, stable: false, lastGoodMs: 27 * S });
    assert.equal(sim.kinds().at(-1), 'reprobe 27->30');
  });

  test('reporting the same network again changes nothing', () => {
    const sim = new Sim({ networkId: 'wifi' });
    sim.beats(5);
    sim.hb.onNetworkChanged('wifi', sim.now);
    assert.equal(sim.hb.linkSuccesses, 5);
  });
});
