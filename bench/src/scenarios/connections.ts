// connections: N authenticated idle connections with heartbeats. Connect rate (open and log
// in, all workers together), server memory per connection (RSS growth after forced GCs in our
// Node servers), and server CPU while the connections sit idle and heartbeat. Parley and the
// Node anchors spread connections over several server processes when one would pass the
// per-process file limit (20,000 here); Mosquitto and ejabberd are single processes, so
// their N is capped below that limit.
import { sleep } from '../clock.js';
import { track } from '../progress.js';
import { ProcWatch } from '../proc.js';
import type { Column } from '../results.js';
import type { Scenario } from '../run.js';
import type { SystemName } from '../worker/driver.js';
import { type BenchOptions, type Setup, type SystemRun, connectMeasured, size, spread } from './common.js';

/** Connections one process (server or worker) holds at most: the file limit less headroom. */
const PER_PROCESS = 15_000;
/** Mosquitto's and our ejabberd's limit: one process each, 20,000 files. */
const SINGLE_PROCESS_CAP = 15_000;

export const columns: Column[] = [
  { key: 'connections', label: 'connections', digits: 0 },
  { key: 'connectRate', label: 'connect+login /s', better: 'higher', digits: 0 },
  { key: 'memKiB', label: 'server KiB/conn', better: 'lower', digits: 2 },
  { key: 'idleCpu', label: 'idle CPU % of a core', better: 'lower', digits: 1 },
  { key: 'cpuPer10k', label: 'idle CPU % per 10k conns', better: 'lower', digits: 2 },
  { key: 'drops', label: 'dropped', digits: 0 },
];

export function config(options: BenchOptions) {
  return {
    connections: size(options, 'connections', 500, 100_000),
    anchorConnections: size(options, 'anchorConnections', 500, 15_000),
    heartbeatS: size(options, 'heartbeat', 10, 60),
    idleS: size(options, 'idle', 2, 30),
  };
}

/** How many connections a system holds here, over how many server processes and workers. */
function plan(options: BenchOptions, name: SystemName) {
  const c = config(options);
  const single = name === 'mosquitto' || name === 'ejabberd';
  const n = name === 'parley' ? c.connections : Math.min(c.anchorConnections, single ? SINGLE_PROCESS_CAP : Infinity);
  const processes = single ? 1 : Math.ceil(n / PER_PROCESS);
  const workers = Math.max(options.workers, Math.ceil(n / PER_PROCESS));
  return { c, n, processes, workers };
}

export function setup(options: BenchOptions, name: SystemName): Setup {
  const { processes, workers } = plan(options, name);
  return { workers, processes };
}

function usersOf(options: BenchOptions, run: SystemRun): string[][] {
  const { n } = plan(options, run.system.name);
  return spread(
    Array.from({ length: n }, (_, i) => `c${String(i)}`),
    run.pool.workers.length,
  );
}

/** Only the users (ejabberd's accounts): connecting is what this scenario measures. */
export async function prepare(options: BenchOptions, run: SystemRun): Promise<void> {
  await run.system.prepareUsers(usersOf(options, run).flat());
}

/** Connect N (rate, memory), then sit idle with heartbeats (CPU). */
export async function measure(options: BenchOptions, run: SystemRun): Promise<void> {
  const { c, n, processes, workers } = plan(options, run.system.name);
  const { system, pool, result } = run;
  const name = system.name;
  const users = usersOf(options, run);
  // Users of one worker take the server processes in turn.
  const servers = users.map((list, w) => list.map((_, k) => (k * workers + w) % processes));
  const heartbeatMs = c.heartbeatS * 1000;
  const connected = await connectMeasured(run, `connect ${String(n)}`, users, {
    size: options.size,
    heartbeatMs,
    servers,
    concurrency: 32,
  });
  result.memoryPerConnection = connected.memoryPerConnection;
  result.timeline = connected.timeline;
  await pool.all('heartbeat', { everyMs: heartbeatMs });
  // Let the connect burst's work settle before measuring idle CPU.
  await sleep(options.quick ? 1_000 : 2_000);
  const watch = new ProcWatch(system.pids());
  const bar = track(`${name} idle`, 0, async () => (await pool.stats()).connected, 'conn');
  await sleep(c.idleS * 1000);
  await bar.stop();
  const cpu = watch.stop();
  await pool.all('heartbeat', { everyMs: 0 });
  const stats = await pool.stats();
  Object.assign(result.figures, {
    connections: connected.open.ok,
    connectRate: connected.open.ok / (connected.open.ms / 1000),
    memKiB: connected.memoryPerConnection / 1024,
    idleCpu: cpu.meanCpuPercent,
    cpuPer10k: (cpu.meanCpuPercent / connected.open.ok) * 10_000,
    drops: stats.drops,
  });
  if (processes > 1) result.notes.push(`${String(processes)} server processes`);
  options.log(
    `  ${name}: ${String(connected.open.ok)} up at ${result.figures.connectRate!.toFixed(0)}/s, ` +
      `${result.figures.memKiB!.toFixed(2)} KiB each, idle CPU ${cpu.meanCpuPercent.toFixed(1)}%`,
  );
}

export const connectionsScenario: Scenario = {
  name: 'connections',
  describe: 'N authenticated idle connections with heartbeats: connect rate, server RSS per connection, CPU at idle',
  columns,
  config,
  setup,
  prepare,
  measure,
  // Connecting is the measurement, and a server that held connections before reuses their memory.
  freshEachRound: true,
  notes: [
    'Heartbeats: Parley PING with a seq (answered), bare Node the same, XMPP whitespace keepalives, MQTT PINGREQ at the keepalive interval (mqtt.js), Socket.IO its own server-driven ping.',
    'Memory per connection: server RSS after minus before connecting, after forced GCs in the Node servers, divided by the connections; Mosquitto and ejabberd are read without a GC.',
    'Parley and bare Node reach the full N over several server processes (at most 15,000 connections each); the single-process anchors stop at `anchorConnections` (their own 20,000-file limit).',
  ],
};
