// one-to-one: P pairs, each sender writing to its own recipient. Parley stores every message
// durably (SQLite, WAL, group commit) and acks it before the push; each anchor uses its own
// acknowledgement (bare: forwarded; Socket.IO: ack callback; MQTT: PUBACK; XMPP: none). Two
// timed runs: a fixed offered load (latency, corrected for coordinated omission) and
// saturation (each pair keeps a window of messages in flight: messages per second).
import { summarize, type Column } from '../results.js';
import type { Scenario } from '../run.js';
import { readProc } from '../proc.js';
import { track } from '../progress.js';
import type { RunResult } from '../worker/worker.js';
import { type BenchOptions, type Setup, type SystemRun, connectMeasured, size, spread } from './common.js';
import { BENCH_HEARTBEAT_MS } from '../servers/limits.js';

export const columns: Column[] = [
  { key: 'saturation', label: 'msg/s at saturation', better: 'higher', digits: 0 },
  { key: 'rateP50', label: 'p50 ms (fixed rate)', better: 'lower', digits: 2 },
  { key: 'rateP99', label: 'p99 ms', better: 'lower', digits: 2 },
  { key: 'rateP999', label: 'p99.9 ms', better: 'lower', digits: 2 },
  { key: 'rateMax', label: 'max ms', better: 'lower', digits: 1 },
  { key: 'satP50', label: 'p50 ms (saturation)', better: 'lower', digits: 1 },
  { key: 'satP99', label: 'p99 ms (saturation)', better: 'lower', digits: 1 },
  { key: 'cpuUsPerMsg', label: 'server CPU µs/msg (saturation)', better: 'lower', digits: 0 },
  { key: 'memKiB', label: 'server KiB/conn', better: 'lower', digits: 1 },
];

export function config(options: BenchOptions) {
  return {
    pairs: size(options, 'pairs', 50, 500),
    rate: size(options, 'rate', 1_000, 2_000),
    durationS: size(options, 'duration', 2, 15),
    warmupS: size(options, 'warmup', 1, 5),
    window: size(options, 'window', 8, 8),
    size: options.size,
  };
}

export function setup(options: BenchOptions): Setup {
  return { workers: Math.max(1, options.workers), processes: 1 };
}

/** Pairs per worker: connected, each sender with its recipient's address. */
export async function prepare(options: BenchOptions, run: SystemRun): Promise<void> {
  const c = config(options);
  const pairs = Array.from({ length: c.pairs }, (_, i) => [`oa${String(i)}`, `ob${String(i)}`] as const);
  const byWorker = spread(pairs, run.pool.workers.length);
  const connected = await connectMeasured(
    run,
    'connect',
    byWorker.map((ps) => ps.flat()),
    { size: c.size, heartbeatMs: BENCH_HEARTBEAT_MS },
  );
  run.result.memoryPerConnection = connected.memoryPerConnection;
  run.result.figures.memKiB = connected.memoryPerConnection / 1024;
  await Promise.all(run.pool.workers.map((w, i) => w.request('directs', { pairs: byWorker[i] }, 10 * 60_000)));
}

/** A warm-up, then a fixed offered load (latency), then saturation (throughput). */
export async function measure(options: BenchOptions, { system, pool, result }: SystemRun): Promise<void> {
  const c = config(options);
  const name = system.name;
  const workers = pool.workers.length;
  const timed = async (label: string, body: object, durationS: number) => {
    const bar = track(`${name} ${label}`, 0, async () => (await pool.stats()).received);
    const runs = await pool.all<RunResult>('run', { ...body, durationMs: durationS * 1000 }, (durationS + 60) * 1000);
    const timeline = await bar.stop();
    return { runs, timeline };
  };
  const perWorkerRate = c.rate / workers;
  // No more in flight per worker than 10 s of its offered load: past that the system is overloaded.
  const maxInflight = Math.max(1_000, perWorkerRate * 10);
  await timed('warm-up', { mode: 'rate', rate: perWorkerRate, maxInflight }, c.warmupS);

  const fixed = await timed('fixed rate', { mode: 'rate', rate: perWorkerRate, maxInflight }, c.durationS);
  result.latency['fixed rate'] = summarize(fixed.runs.map((r) => r.histogram));
  const l = result.latency['fixed rate'];
  Object.assign(result.figures, { rateP50: l.p50Ms, rateP99: l.p99Ms, rateP999: l.p999Ms, rateMax: l.maxMs });
  const offered = fixed.runs.reduce((n, r) => n + r.sent, 0) / c.durationS;
  result.figures.offered = offered;
  if (fixed.runs.some((r) => r.overloaded)) result.notes.push(`could not keep up with ${String(c.rate)} msg/s`);
  const lost = fixed.runs.reduce((n, r) => n + r.sent - r.received, 0);
  if (lost > 0) result.notes.push(`fixed rate: ${String(lost)} messages not delivered within 15 s of the end`);

  const cpuBefore = system.pids().reduce((sum, pid) => sum + (readProc(pid)?.cpuSeconds ?? 0), 0);
  const sat = await timed('saturation', { mode: 'saturate', window: c.window, maxInflight }, c.durationS);
  const cpuAfter = system.pids().reduce((sum, pid) => sum + (readProc(pid)?.cpuSeconds ?? 0), 0);
  const delivered = sat.runs.reduce((n, r) => n + r.received, 0);
  result.figures.cpuUsPerMsg = delivered > 0 ? ((cpuAfter - cpuBefore) * 1e6) / delivered : NaN;
  result.latency.saturation = summarize(sat.runs.map((r) => r.histogram));
  result.figures.saturation = sat.runs.reduce((n, r) => n + r.receivedInWindow, 0) / c.durationS;
  result.figures.satP50 = result.latency.saturation.p50Ms;
  result.figures.satP99 = result.latency.saturation.p99Ms;
  result.timeline = sat.timeline;
  const failed = sat.runs.reduce((n, r) => n + r.ackFailed, 0) + fixed.runs.reduce((n, r) => n + r.ackFailed, 0);
  if (failed > 0) result.notes.push(`${String(failed)} sends were refused or timed out`);
  options.log(
    `  ${name}: ${result.figures.saturation.toFixed(0)} msg/s at saturation; fixed ${offered.toFixed(0)} msg/s p50 ${l.p50Ms.toFixed(2)} ms p99 ${l.p99Ms.toFixed(2)} ms`,
  );
}

export const oneToOneScenario: Scenario = {
  name: 'one-to-one',
  describe: 'P pairs exchanging messages (durable storage and acks in Parley): msg/s and end-to-end latency',
  columns,
  config,
  setup,
  prepare,
  measure,
  notes: [
    'Fixed rate: the offered load is spread evenly over the pairs and each message is stamped with its scheduled send time, so latency includes any time a stalled system kept the sender waiting (coordinated omission corrected).',
    'Saturation: each pair keeps `window` messages in flight (sent, not yet received by the recipient); msg/s counts deliveries inside the timed window; its latency is from the actual send.',
    "Server CPU µs/msg: the server processes' CPU time (user + system, from /proc) during the saturation run, including its drain, divided by the messages delivered in it. For Mosquitto the broker is shared with nothing else; for ejabberd it is the Erlang VM.",
    'Acks: Parley acks after the durable SQLite commit (WAL, synchronous=FULL); bare Node after forwarding; Socket.IO by ack callback; Mosquitto by PUBACK; XMPP has no ack without stream management (counted when written).',
  ],
};
