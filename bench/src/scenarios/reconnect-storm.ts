// reconnect-storm: R clients drop at once while S senders keep writing to them 1:1, stay away,
// then all reconnect at once and catch up (Parley: login, then SYNC_MESSAGES from the last
// seq each holds; MQTT: persistent sessions resent by the broker; XMPP: offline storage
// handed over on initial presence). Measured: time until every client is back, time until
// every client holds every acknowledged message, messages never delivered, and the server's
// CPU and memory peaks from the drop to the end. Bare Node and Socket.IO store nothing for an
// absent client, so they have nothing to catch up from and are not run.
import { randomBytes } from 'node:crypto';
import { nowUs, sleep, waitForCount } from '../clock.js';
import { track } from '../progress.js';
import { ProcWatch } from '../proc.js';
import type { Column } from '../results.js';
import type { Scenario } from '../run.js';
import type { SystemName } from '../worker/driver.js';
import type { OpenResult, RunResult, WorkerStats } from '../worker/worker.js';
import { BENCH_HEARTBEAT_MS } from '../servers/limits.js';
import { sumOpen, sumStats } from '../pool.js';
import { type BenchOptions, type Setup, type SystemRun, connectMeasured, size, spread } from './common.js';

export const columns: Column[] = [
  { key: 'clients', label: 'clients dropped', digits: 0 },
  { key: 'reconnectS', label: 'all back (s)', better: 'lower', digits: 2 },
  { key: 'catchUpS', label: 'backlog held (s)', better: 'lower', digits: 2 },
  { key: 'allS', label: 'every message held (s)', better: 'lower', digits: 2 },
  { key: 'messages', label: 'messages acked', digits: 0 },
  { key: 'lost', label: 'never delivered', better: 'lower', digits: 0 },
  { key: 'peakCpu', label: 'peak CPU % of a core', better: 'lower', digits: 0 },
  { key: 'peakRssMiB', label: 'peak RSS MiB', better: 'lower', digits: 0 },
];

export function config(options: BenchOptions) {
  return {
    clients: size(options, 'clients', 500, 10_000),
    senders: size(options, 'senders', 10, 100),
    rate: size(options, 'rate', 300, 1_000),
    beforeS: size(options, 'before', 2, 5),
    awayS: size(options, 'away', 2, 5),
    afterS: size(options, 'after', 2, 5),
  };
}

/** No new delivery for this long: what is missing is lost (shorter in quick mode's small storm). */
const stallMs = (options: BenchOptions) => (options.quick ? 5_000 : 10_000);
const NO_STORAGE = 'stores nothing for an absent client: nothing to catch up from';

export function setup(options: BenchOptions, name: SystemName): Setup {
  const c = config(options);
  // Worker 0 holds the senders; the others the clients that drop.
  const workers = Math.max(options.workers, 1 + Math.ceil(c.clients / 15_000));
  return { workers, processes: 1, ...(name === 'bare' || name === 'socketio' ? { supported: NO_STORAGE } : {}) };
}

/**
 * User names of one set-up: new ones every time, so no persistent session (MQTT's live in the
 * machine's broker, across rounds and runs) or offline store carries messages into this one.
 */
let setups = 0;
const runTag = randomBytes(3).toString('hex');

/** Senders and clients connected, each sender with its clients' addresses. */
export async function prepare(options: BenchOptions, run: SystemRun): Promise<void> {
  const c = config(options);
  const { pool, result } = run;
  const prefix = `s${runTag}${String(setups++)}`;
  const senders = Array.from({ length: c.senders }, (_, i) => `${prefix}s${String(i)}`);
  const clients = Array.from({ length: c.clients }, (_, i) => `${prefix}c${String(i)}`);
  const clientWorkers = spread(clients, pool.workers.length - 1);
  await run.system.prepareUsers([...senders, ...clients]);
  const open0 = await pool.open(run.system.endpoint, [senders], {
    size: options.size,
    heartbeatMs: BENCH_HEARTBEAT_MS,
  });
  if (open0.failed > 0) throw new Error(`senders failed to connect: ${open0.firstError ?? ''}`);
  const connected = await connectMeasured(run, `connect ${String(c.clients)}`, [[], ...clientWorkers], {
    size: options.size,
    heartbeatMs: BENCH_HEARTBEAT_MS,
    persistent: true,
    concurrency: 32,
  });
  result.memoryPerConnection = connected.memoryPerConnection;
  const pairs = clients.map((client, j) => [senders[j % senders.length]!, client] as [string, string]);
  await pool.workers[0]!.request('directs', { pairs }, 600_000);
  const owner = new Map(pairs.map(([s, r]) => [r, s]));
  await Promise.all(
    clientWorkers.map((list, i) =>
      pool.workers[i + 1]!.request('expect', { pairs: list.map((r) => [r, owner.get(r)!]) }),
    ),
  );
}

/** Messages flow; the clients drop together, stay away, come back together and catch up. */
export async function measure(options: BenchOptions, run: SystemRun): Promise<void> {
  const c = config(options);
  const { pool, result } = run;
  const name = run.system.name;
  await pool.all('record', { dedup: true });
  const clientPool = pool.workers.slice(1);
  const clientStats = async () => sumStats(await Promise.all(clientPool.map((w) => w.request<WorkerStats>('stats'))));
  const received = async () => (await clientStats()).received;

  const totalS = c.beforeS + c.awayS + c.afterS;
  // Messages stamped before the planned reconnect are the backlog the clients must catch up on.
  await pool.all('mark', { us: nowUs() + (c.beforeS + c.awayS) * 1e6 });
  const bar = track(`${name} storm`, 0, received, 'msg');
  const flowing = pool.workers[0]!.request<RunResult>(
    'run',
    { mode: 'rate', rate: c.rate, durationMs: totalS * 1000, maxInflight: Infinity, reset: false, drain: false },
    (totalS + 60) * 1000,
  );
  await sleep(c.beforeS * 1000);
  const watch = new ProcWatch(run.system.pids());
  const dropped = await Promise.all(clientPool.map((w) => w.request<number>('drop')));
  await sleep(c.awayS * 1000);
  const back = performance.now();
  const reconnects = await Promise.all(
    clientPool.map((w, i) =>
      w.request<OpenResult>('reconnect', { sources: pool.sources(i + 1), concurrency: 64 }, 1_800_000),
    ),
  );
  const reconnectMs = performance.now() - back;
  const backlog = (await pool.workers[0]!.request<WorkerStats>('stats')).sentBeforeMark;
  const backlogHeld = await waitForCount(
    async () => (await clientStats()).receivedBeforeMark,
    backlog,
    stallMs(options),
    120_000,
  );
  const backlogMs = performance.now() - back;
  const flow = await flowing;
  const acked = flow.acked;
  // Every message includes the backlog: if that never completed, neither can this.
  const complete = backlogHeld && (await waitForCount(received, acked, stallMs(options), 120_000));
  const catchUpMs = performance.now() - back;
  result.timeline = await bar.stop();
  const peak = watch.stop();
  const got = await received();
  const reconnect = sumOpen(reconnects);
  if (reconnect.failed > 0)
    result.notes.push(`${String(reconnect.failed)} reconnects failed: ${reconnect.firstError ?? ''}`);
  if (!complete)
    result.notes.push(
      `not every message arrived (nothing new for ${String(stallMs(options) / 1000)} s, or 120 s passed)`,
    );
  if (!backlogHeld) result.notes.push('the backlog never completed');
  Object.assign(result.figures, {
    clients: dropped.reduce((a, b) => a + b, 0),
    reconnectS: reconnectMs / 1000,
    catchUpS: backlogHeld ? backlogMs / 1000 : NaN,
    allS: complete ? catchUpMs / 1000 : NaN,
    messages: acked,
    lost: Math.max(0, acked - got),
    peakCpu: peak.peakCpuPercent,
    peakRssMiB: peak.peakRssBytes / 2 ** 20,
  });
  options.log(
    `  ${name}: ${String(result.figures.clients)} back in ${result.figures.reconnectS!.toFixed(2)} s, ` +
      `backlog of ${String(backlog)} in ${backlogHeld ? (backlogMs / 1000).toFixed(2) : '>120'} s, every message in ` +
      `${complete ? (catchUpMs / 1000).toFixed(2) : '>120'} s; ${String(result.figures.lost)} of ${String(acked)} never delivered`,
  );
}

export const reconnectStormScenario: Scenario = {
  name: 'reconnect-storm',
  describe:
    'R clients drop at once while messages keep flowing, then reconnect and sync: time until every client has every message',
  columns,
  config,
  setup,
  prepare,
  measure,
  // A storm leaves offline stores, sessions and sync positions behind: every round starts afresh.
  freshEachRound: true,
  notes: [
    'Senders (their own worker) write 1:1 to the clients at `rate` msg/s for before + away + after seconds; the clients drop together after `before` s and reconnect together after `away` s.',
    '"backlog held": from the reconnect start until the clients hold (deduplicated) every message sent before it; "every message held": until they hold every message the senders had acknowledged by the end of the flow (so never shorter than what was left of the flow).',
    'XMPP without stream management loses what ejabberd routed to a session whose socket had already gone; MQTT QoS 1 persistent sessions and Parley (sync by seq) do not.',
  ],
};
