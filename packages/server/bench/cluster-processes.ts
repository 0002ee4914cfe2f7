// 1:1 message throughput and latency across two `parley serve` processes (sender on node 1,
// recipient on node 2, routed through Redis) against the same on one process (both on node 1),
// on PostgreSQL + Redis, in one run. The two setups alternate (ABAB...) over the same two node
// processes, and each turn runs the same two phases:
//   - offered load: every pair sends at a fixed rate, latency from the intended send time;
//   - saturation: every sender keeps `window` SENDs in flight; throughput and latency at the limit.
// Latency is SEND written → MESSAGE push read by the recipient, on this process's clock.
//
//   node --conditions=@parley/source --import tsx packages/server/bench/cluster-processes.ts \
//     [--pairs 20] [--rate 100] [--seconds 5] [--window 8] [--rounds 4] [--pool-size 10] \
//     [--postgres postgres://postgres@127.0.0.1:5432/test] [--redis redis://127.0.0.1:6379]
//
// The schema and Redis key prefix are this run's own and are removed at the end. Clients run in
// this process; the CPU column shows whether they, a node, or neither was the limit.
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Command, pb } from '@parley/protocol';
import { deleteKeys } from '../test/helpers/cluster.js';
import { dropSchema, newClusterRun, runToken } from '../test/helpers/parley-processes.js';
import { ServedNode } from '../test/helpers/served-node.js';
import { TestClient } from '../test/helpers/test-client.js';

const { values: args } = parseArgs({
  options: {
    pairs: { type: 'string', default: '20' },
    rate: { type: 'string', default: '100' },
    seconds: { type: 'string', default: '5' },
    window: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '4' },
    'pool-size': { type: 'string', default: '10' },
    postgres: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/test' },
    redis: { type: 'string', default: 'redis://127.0.0.1:6379' },
  },
});
const PAIRS = Number(args.pairs);
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);
const WINDOW = Number(args.window);
const ROUNDS = Number(args.rounds);
const DRAIN_MS = 30_000;
const NO_LIMITS = {
  PARLEY_LIMITS_SENDS_PER_SECOND: '1000000',
  PARLEY_LIMITS_SEND_BURST: '1000000',
  PARLEY_LIMITS_REQUESTS_PER_SECOND: '1000000',
  PARLEY_LIMITS_REQUEST_BURST: '1000000',
  PARLEY_LOG_LEVEL: 'warn',
};

interface Pair {
  sender: TestClient;
  receiver: TestClient;
  conv: string;
  /** Client message counter, also the message text. */
  next: number;
  /** Message number → when it was (meant to be) sent. */
  sentAt: Map<number, number>;
}

type Load = { kind: 'offered'; rate: number } | { kind: 'saturation'; window: number };

interface PhaseResult {
  delivered: number;
  seconds: number;
  latencies: number[];
  /** CPU seconds per process during the phase. */
  cpu: { clients: number; node1: number; node2: number };
}

/** utime + stime of a process, in seconds (Linux, USER_HZ 100). */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const fields =
    readFileSync(`/proc/${String(pid)}/stat`, 'utf8')
      .split(') ')[1]
      ?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const selfCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

async function openPairs(
  run: ReturnType<typeof newClusterRun>,
  tag: string,
  senderNode: ServedNode,
  receiverNode: ServedNode,
): Promise<Pair[]> {
  const login = async (node: ServedNode, userId: string) => {
    const client = await TestClient.connect({ transport: 'tcp', host: '127.0.0.1', port: node.ports.tcp });
    // The longest heartbeat the server accepts: idle receivers send nothing for the whole run.
    await client.login(await runToken(run, userId), {
      platform: pb.Platform.DESKTOP,
      heartbeatIntervalMs: 15 * 60_000,
    });
    return client;
  };
  return Promise.all(
    Array.from({ length: PAIRS }, async (_, i) => {
      const from = `${tag}-s${String(i)}`;
      const to = `${tag}-r${String(i)}`;
      const sender = await login(senderNode, from);
      const receiver = await login(receiverNode, to);
      const created = await sender.request(Command.CONV_CREATE, { type: pb.ConversationType.DIRECT, memberIds: [to] });
      const conv = created.state?.conversation?.conversationId ?? '';
      return { sender, receiver, conv, next: 0, sentAt: new Map() };
    }),
  );
}

function send(pair: Pair, at: number): Promise<unknown> {
  const n = pair.next++;
  pair.sentAt.set(n, at);
  return pair.sender.request(
    Command.SEND,
    {
      conversationId: pair.conv,
      clientMessageId: `m${String(n)}`,
      content: { type: pb.MessageType.TEXT, text: String(n) },
    },
    { timeoutMs: DRAIN_MS },
  );
}

async function phase(pairs: Pair[], load: Load, nodes: ServedNode[]): Promise<PhaseResult> {
  const latencies: number[] = [];
  let delivered = 0;
  let lastDelivery = 0;
  const cpu0 = { clients: selfCpu(), node1: cpuSeconds(nodes[0]?.child.pid), node2: cpuSeconds(nodes[1]?.child.pid) };
  const started = performance.now();
  // Each receiver reads until the "end" message its sender writes after the phase: pushes of one
  // conversation arrive in seq order, so everything sent before it has arrived by then.
  const receiving = Promise.all(
    pairs.map(async (pair) => {
      for (;;) {
        const push = await pair.receiver.nextPush(Command.MESSAGE, { timeoutMs: DRAIN_MS });
        const text = push.message?.content?.text ?? '';
        if (text === 'end') return;
        const at = pair.sentAt.get(Number(text));
        if (at === undefined) continue;
        pair.sentAt.delete(Number(text));
        lastDelivery = performance.now();
        latencies.push(lastDelivery - at);
        delivered++;
      }
    }),
  );
  // Awaited after the sends; a receiver failing meanwhile must not be an unhandled rejection.
  receiving.catch(() => undefined);
  const until = started + SECONDS * 1000;
  if (load.kind === 'saturation') {
    await Promise.all(
      pairs.map((pair) =>
        Promise.all(
          Array.from({ length: load.window }, async () => {
            while (performance.now() < until) await send(pair, performance.now());
          }),
        ),
      ),
    );
  } else {
    // Open loop: each pair's i-th message is due at started + i / perPair; latency counts from then.
    const perPairMs = (1000 * pairs.length) / load.rate;
    const acks: Promise<unknown>[] = [];
    let sent = 0;
    while (performance.now() < until) {
      const due = Math.floor((performance.now() - started) / perPairMs) + 1;
      for (; sent < due; sent++) {
        for (const pair of pairs) {
          const ack = send(pair, started + sent * perPairMs);
          ack.catch(() => undefined); // awaited below with the rest
          acks.push(ack);
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await Promise.all(acks);
  }
  await Promise.all(
    pairs.map((pair) =>
      pair.sender.request(Command.SEND, {
        conversationId: pair.conv,
        clientMessageId: `end${String(pair.next++)}`,
        content: { type: pb.MessageType.TEXT, text: 'end' },
      }),
    ),
  );
  await receiving;
  const seconds = (lastDelivery - started) / 1000;
  return {
    delivered,
    seconds,
    latencies,
    cpu: {
      clients: selfCpu() - cpu0.clients,
      node1: cpuSeconds(nodes[0]?.child.pid) - cpu0.node1,
      node2: cpuSeconds(nodes[1]?.child.pid) - cpu0.node2,
    },
  };
}

const at = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  return Number.isInteger(mid)
    ? ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2
    : (sorted[Math.floor(mid)] ?? NaN);
};

interface Summary {
  rate: number;
  /** Slowest and fastest round. */
  rates: [number, number];
  /** CPU time of both node processes per delivered message, µs. */
  nodeCpuPerMessage: number;
  p50: number;
  p99: number;
  cpu: PhaseResult['cpu'];
}

/** Rounds of one setup and load: the median round's rate, percentiles over every round's samples, CPU % per process. */
function summarize(results: PhaseResult[]): Summary {
  const all = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const seconds = results.reduce((s, r) => s + r.seconds, 0);
  const cpu = (key: keyof PhaseResult['cpu']) => (100 * results.reduce((s, r) => s + r.cpu[key], 0)) / seconds;
  const rates = results.map((r) => r.delivered / r.seconds);
  return {
    rate: median(rates),
    rates: [Math.min(...rates), Math.max(...rates)],
    nodeCpuPerMessage:
      (1e6 * results.reduce((t, r) => t + r.cpu.node1 + r.cpu.node2, 0)) / results.reduce((n, r) => n + r.delivered, 0),
    p50: at(all, 0.5),
    p99: at(all, 0.99),
    cpu: { clients: cpu('clients'), node1: cpu('node1'), node2: cpu('node2') },
  };
}

const run = newClusterRun(args.postgres, args.redis);
const nodes: ServedNode[] = [];
// Whatever ends this process, the nodes end with it.
process.once('exit', () => {
  for (const n of nodes) n.child.kill('SIGKILL');
});
process.once('SIGINT', () => process.exit(130));
const pairs: Pair[] = [];
try {
  const options = { env: NO_LIMITS, storeParams: `pool_size=${args['pool-size']}` };
  nodes.push(await ServedNode.start(run, 'bench-1', options));
  nodes.push(await ServedNode.start(run, 'bench-2', options));
  const [node1, node2] = nodes as [ServedNode, ServedNode];
  const setups = [
    { name: 'one node', pairs: await openPairs(run, 'one', node1, node1) },
    { name: 'two nodes', pairs: await openPairs(run, 'two', node1, node2) },
  ];
  pairs.push(...setups.flatMap((s) => s.pairs));
  const loads: Load[] = [
    { kind: 'offered', rate: RATE },
    { kind: 'saturation', window: WINDOW },
  ];
  // Warm-up: JIT, pools and presence caches on both nodes, not measured.
  for (const setup of setups) await phase(setup.pairs, { kind: 'saturation', window: WINDOW }, nodes);
  const results = new Map<string, PhaseResult[]>();
  const load1: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    for (const setup of setups) {
      for (const load of loads) {
        const r = await phase(setup.pairs, load, nodes);
        const key = `${setup.name}|${load.kind}`;
        results.set(key, [...(results.get(key) ?? []), r]);
        load1.push(loadavg()[0] ?? 0);
        const lat = [...r.latencies].sort((a, b) => a - b);
        console.error(
          `round ${String(round)} ${setup.name.padEnd(9)} ${load.kind.padEnd(10)} ${(r.delivered / r.seconds).toFixed(0).padStart(6)} msgs/s` +
            `  p50 ${at(lat, 0.5).toFixed(1)} ms  p99 ${at(lat, 0.99).toFixed(1)} ms`,
        );
      }
    }
  }
  const lost = pairs.reduce((n, p) => n + p.sentAt.size, 0);

  console.log(
    `\n1:1 chat on PostgreSQL + Redis, real processes: ${String(PAIRS)} pairs; offered load ${String(RATE)} msgs/s in total;` +
      ` saturation ${String(WINDOW)} SENDs in flight per sender; ${String(SECONDS)} s per phase; ${String(ROUNDS)} rounds (ABAB);` +
      ` PostgreSQL pool ${args['pool-size']} per node`,
  );
  console.log(
    'one node: sender and recipient on node 1; two nodes: sender on node 1, recipient on node 2 (through Redis)',
  );
  console.log('\nmsgs/s: median round (slowest–fastest); p50/p99 over every round; CPU % of one core');
  console.log(
    'phase       setup        msgs/s (rounds)     p50 ms   p99 ms   CPU % clients / node 1 / node 2   node CPU µs/msg',
  );
  for (const load of loads) {
    const [one, two] = setups.map((s) => summarize(results.get(`${s.name}|${load.kind}`) ?? [])) as [Summary, Summary];
    for (const [name, s] of [
      ['one node', one],
      ['two nodes', two],
    ] as const) {
      console.log(
        `${load.kind.padEnd(11)} ${name.padEnd(10)} ${s.rate.toFixed(0).padStart(8)} ${`(${s.rates.map((r) => r.toFixed(0)).join('–')})`.padEnd(10)} ${s.p50.toFixed(2).padStart(8)} ${s.p99.toFixed(2).padStart(8)}` +
          `   ${s.cpu.clients.toFixed(0).padStart(3)} / ${s.cpu.node1.toFixed(0).padStart(3)} / ${s.cpu.node2.toFixed(0).padStart(3)}` +
          `   ${s.nodeCpuPerMessage.toFixed(0).padStart(8)}`,
      );
    }
    console.log(
      `${load.kind.padEnd(11)} two / one  x${(two.rate / one.rate).toFixed(2).padEnd(17)}  x${(two.p50 / one.p50).toFixed(2).padEnd(6)} x${(two.p99 / one.p99).toFixed(2).padEnd(44)}` +
        ` x${(two.nodeCpuPerMessage / one.nodeCpuPerMessage).toFixed(2)}`,
    );
  }
  console.log(
    `\nmessages never delivered: ${String(lost)}; load average (1 min) during the phases: ${Math.min(...load1).toFixed(2)}–${Math.max(...load1).toFixed(2)} on 2 cores`,
  );
} finally {
  for (const p of pairs) {
    p.sender.destroy();
    p.receiver.destroy();
  }
  await Promise.all(nodes.map((n) => n.stop()));
  await dropSchema(run);
  await deleteKeys(args.redis, run.prefix);
}
