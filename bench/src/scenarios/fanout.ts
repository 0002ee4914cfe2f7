// fanout: one sender, a group of G members and a chat room of M online members. Parley's group
// is a stored GROUP conversation (each message durably appended once, pushed to every online
// member); its room is a live chat room (memory only). The anchors have one mechanism for
// both: a room (bare Node, Socket.IO), a topic (MQTT) or a MUC room (XMPP). Per message: the
// time from send to its last delivery; for a burst sent at once: deliveries per second.
import { sleep, waitForCount } from '../clock.js';
import { track } from '../progress.js';
import { type Column, type Latency, median, summarize } from '../results.js';
import type { Scenario } from '../run.js';
import type { Collected } from '../worker/worker.js';
import { BENCH_HEARTBEAT_MS } from '../servers/limits.js';
import { type BenchOptions, type Setup, type SystemRun, connectMeasured, size, spread } from './common.js';

export const columns: Column[] = [
  { key: 'groupLastP50', label: 'group: to last delivery p50 ms', better: 'lower', digits: 1 },
  { key: 'groupLastMax', label: 'group: max ms', better: 'lower', digits: 1 },
  { key: 'groupRate', label: 'group: deliveries/s (burst)', better: 'higher', digits: 0 },
  { key: 'roomLastP50', label: 'room: to last delivery p50 ms', better: 'lower', digits: 1 },
  { key: 'roomLastMax', label: 'room: max ms', better: 'lower', digits: 1 },
  { key: 'roomRate', label: 'room: deliveries/s (burst)', better: 'higher', digits: 0 },
  { key: 'memKiB', label: 'server KiB/conn', better: 'lower', digits: 1 },
];

export function config(options: BenchOptions) {
  return {
    group: size(options, 'group', 200, 1_000),
    room: size(options, 'room', 500, 10_000),
    spaced: size(options, 'spaced', 5, 10),
    spacingMs: size(options, 'spacing', 200, 1_000),
    burst: size(options, 'burst', 10, 20),
  };
}

/** A pause before the first message of a round: the joins' (or the previous system's) work settles. */
const QUIET_MS = 500;

interface Phase {
  lastDeliveryMs: number[];
  deliveriesPerSecond: number;
  latency: Latency;
  timeline: [number, number][];
  missing: number;
}

/** Sends `count` messages `intervalMs` apart to `target` and waits for all deliveries. */
async function sendAndCollect(
  run: SystemRun,
  label: string,
  sender: { worker: number; user: string },
  target: string,
  recipients: number,
  count: number,
  intervalMs: number,
): Promise<Phase> {
  const { pool } = run;
  await pool.all('record', {});
  const expected = recipients * count;
  const bar = track(`${run.system.name} ${label}`, expected, async () => (await pool.stats()).received, 'dlv');
  await pool.workers[sender.worker]!.request('burst', { sender: sender.user, target, count, intervalMs }, 300_000);
  await waitForCount(async () => (await pool.stats()).received, expected, 10_000, 120_000 + expected / 10);
  const timeline = await bar.stop();
  const parts = await pool.all<Collected>('collect');
  const received = parts.reduce((n, p) => n + p.received, 0);
  const perMessage = new Map<number, [number, number]>();
  for (const p of parts) {
    for (const [n, sent, last] of p.perMessage) {
      const m = perMessage.get(n);
      perMessage.set(n, m ? [Math.min(m[0], sent), Math.max(m[1], last)] : [sent, last]);
    }
  }
  const firstSent = Math.min(...[...perMessage.values()].map(([s]) => s));
  const lastRecv = Math.max(...parts.map((p) => p.lastRecvUs));
  return {
    lastDeliveryMs: [...perMessage.values()].map(([s, l]) => (l - s) / 1000),
    deliveriesPerSecond: received / Math.max(1e-6, (lastRecv - firstSent) / 1e6),
    latency: summarize(parts.map((p) => p.histogram)),
    timeline,
    missing: expected - received,
  };
}

export function setup(options: BenchOptions): Setup {
  return { workers: Math.max(options.workers, Math.ceil(config(options).room / 15_000)), processes: 1 };
}

export interface FanoutState {
  sender: { worker: number; user: string };
  groupTarget: string;
  roomTarget: string;
}

/** Every member connected, the group made (or joined) and the room joined. */
export async function prepare(options: BenchOptions, run: SystemRun): Promise<FanoutState> {
  const c = config(options);
  const { pool, result, system } = run;
  const workers = pool.workers.length;
  const users = Array.from({ length: Math.max(c.group, c.room) }, (_, i) => `f${String(i)}`);
  const byWorker = spread(users, workers);
  const sender = { worker: 0, user: users[0]! };
  const groupMembers = users.slice(0, c.group);
  const inGroup = new Set(groupMembers);
  const connected = await connectMeasured(run, `connect ${String(users.length)}`, byWorker, {
    size: options.size,
    heartbeatMs: BENCH_HEARTBEAT_MS,
    concurrency: 32,
  });
  result.memoryPerConnection = connected.memoryPerConnection;
  result.figures.memKiB = connected.memoryPerConnection / 1024;

  // The group: a stored GROUP in Parley, a room of G members elsewhere.
  let groupTarget: string;
  if (system.name === 'parley' || system.name === 'baseline') {
    groupTarget = await pool.workers[0]!.request<string>(
      'group',
      { owner: sender.user, members: groupMembers },
      300_000,
    );
  } else {
    const joins = await Promise.all(
      pool.workers.map((w, i) =>
        w.request<string>('join', { room: 'group1', users: byWorker[i]!.filter((u) => inGroup.has(u)) }, 600_000),
      ),
    );
    groupTarget = joins[0]!;
  }
  const roomBar = track(`${system.name} join room ${String(c.room)}`, 0, () => Promise.resolve(0), 'join');
  const joins = await Promise.all(pool.workers.map((w) => w.request<string>('join', { room: 'room1' }, 1_800_000)));
  await roomBar.stop();
  return { sender, groupTarget, roomTarget: joins[0]! };
}

/** Spaced messages and a burst, to the group and then to the room. */
export async function measure(options: BenchOptions, run: SystemRun, state: FanoutState): Promise<void> {
  const c = config(options);
  const { result } = run;
  const name = run.system.name;
  const { sender, groupTarget, roomTarget } = state;
  await sleep(QUIET_MS);
  // Spaced messages (time to the last member) and a burst (deliveries per second) to each target.
  const phases = async (label: string, target: typeof groupTarget, recipients: number) => ({
    spaced: await sendAndCollect(run, `${label} spaced`, sender, target, recipients, c.spaced, c.spacingMs),
    burst: await sendAndCollect(run, `${label} burst`, sender, target, recipients, c.burst, 0),
  });
  const { spaced: group, burst: groupBurst } = await phases(`group ${String(c.group)}`, groupTarget, c.group - 1);
  const { spaced: room, burst: roomBurst } = await phases(`room ${String(c.room)}`, roomTarget, c.room - 1);

  Object.assign(result.figures, {
    groupLastP50: median(group.lastDeliveryMs),
    groupLastMax: Math.max(...group.lastDeliveryMs),
    groupRate: groupBurst.deliveriesPerSecond,
    roomLastP50: median(room.lastDeliveryMs),
    roomLastMax: Math.max(...room.lastDeliveryMs),
    roomRate: roomBurst.deliveriesPerSecond,
  });
  result.latency = {
    'room, spaced messages': room.latency,
    'group, spaced messages': group.latency,
    'room burst': roomBurst.latency,
  };
  result.timeline = roomBurst.timeline;
  for (const [label, phase] of [
    ['group', group],
    ['group burst', groupBurst],
    ['room', room],
    ['room burst', roomBurst],
  ] as const) {
    if (phase.missing > 0) result.notes.push(`${label}: ${String(phase.missing)} deliveries missing after the wait`);
  }
  options.log(
    `  ${name}: group last delivery p50 ${result.figures.groupLastP50!.toFixed(1)} ms, ${result.figures.groupRate!.toFixed(0)} dlv/s; ` +
      `room p50 ${result.figures.roomLastP50!.toFixed(1)} ms, ${result.figures.roomRate!.toFixed(0)} dlv/s`,
  );
}

export const fanoutScenario: Scenario<FanoutState> = {
  name: 'fanout',
  describe:
    'one message to a group of G and to a chat room of M online members: time to the last delivery, deliveries per second',
  columns,
  config,
  setup,
  prepare,
  measure,
  notes: [
    '"to last delivery": per message, from its send to its delivery to the last member (median and max over the spaced messages).',
    '"deliveries/s (burst)": `burst` messages sent at once; all their deliveries divided by the time from the first send to the last delivery.',
    'Parley group = stored GROUP conversation (durable append, then push); Parley room = live chat room (memory). Anchors use one room/topic mechanism for both.',
  ],
};
