// 1:1 message throughput and latency across two cluster nodes (Redis bus, sender on one node,
// recipient on the other) against the same on one node (in-process bus), in one run and one
// process, over one SQLite store. Latency is SEND written → MESSAGE push read by the recipient.
//
//   node --conditions=@parley/source --import tsx packages/server/bench/cluster-routing.ts \
//     [--pairs 10] [--messages 500] [--window 8] [--redis redis://127.0.0.1:6379]
//
// Clients and servers share this process's CPU: read the ratio between the two rows, not the
// absolute numbers. Keys go under a prefix of this run's own and are deleted at the end.
import { parseArgs } from 'node:util';
import { Command, pb } from '@parley/protocol';
import { SharedStore, deleteKeys, startNode, uniquePrefix } from '../test/helpers/cluster.js';
import type { TestServer } from '../test/helpers/server.js';
import type { TestClient } from '../test/helpers/test-client.js';

const { values: args } = parseArgs({
  options: {
    pairs: { type: 'string', default: '10' },
    messages: { type: 'string', default: '500' },
    window: { type: 'string', default: '8' },
    redis: { type: 'string', default: 'redis://127.0.0.1:6379' },
  },
});
const pairs = Number(args.pairs);
const perPair = Number(args.messages);
const window = Number(args.window);

interface Row {
  name: string;
  messages: number;
  seconds: number;
  p50: number;
  p99: number;
}

async function run(name: string, senderNode: TestServer, receiverNode: TestServer, tag: string): Promise<Row> {
  const clients: TestClient[] = [];
  try {
    const latencies: number[] = [];
    const work = await Promise.all(
      Array.from({ length: pairs }, async (_, i) => {
        const from = `${tag}-s${String(i)}`;
        const to = `${tag}-r${String(i)}`;
        const sender = await senderNode.login(from);
        const receiver = await receiverNode.login(to);
        clients.push(sender, receiver);
        const created = await sender.request(Command.CONV_CREATE, {
          type: pb.ConversationType.DIRECT,
          memberIds: [to],
        });
        return { sender, receiver, conv: created.state?.conversation?.conversationId ?? '' };
      }),
    );
    const started = performance.now();
    await Promise.all(
      work.map(async ({ sender, receiver, conv }) => {
        const sentAt = new Map<number, number>();
        const receiving = (async () => {
          for (let n = 0; n < perPair; n++) {
            const push = await receiver.nextPush(Command.MESSAGE, { timeoutMs: 30_000 });
            const text = push.message?.content?.text ?? '';
            latencies.push(performance.now() - (sentAt.get(Number(text)) ?? NaN));
          }
        })();
        let next = 0;
        const lane = async () => {
          while (next < perPair) {
            const n = next++;
            sentAt.set(n, performance.now());
            await sender.request(Command.SEND, {
              conversationId: conv,
              clientMessageId: `${tag}-${String(n)}`,
              content: { type: pb.MessageType.TEXT, text: String(n) },
            });
          }
        };
        await Promise.all(Array.from({ length: window }, lane));
        await receiving;
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
    return { name, messages: latencies.length, seconds, p50: at(0.5), p99: at(0.99) };
  } finally {
    for (const c of clients) c.destroy();
  }
}

const prefix = uniquePrefix();
const shared = new SharedStore();
const limits = { overrides: { limits: { sendsPerSecond: 1e6, sendBurst: 1e6 } } };
const single = await startNode(shared, { redisUrl: 'memory', prefix, nodeId: 'single', ...limits });
const a = await startNode(shared, { redisUrl: args.redis, prefix, nodeId: 'a', ...limits });
const b = await startNode(shared, { redisUrl: args.redis, prefix, nodeId: 'b', ...limits });
try {
  // Warm-up on both setups, then the measured runs.
  await run('warm-up', single, single, 'w1');
  await run('warm-up', a, b, 'w2');
  const rows = [
    await run('one node (memory bus)', single, single, 'one'),
    await run('two nodes (Redis bus)', a, b, 'two'),
  ];
  console.log(`1:1 chat: ${String(pairs)} pairs x ${String(perPair)} messages, ${String(window)} in flight per sender`);
  console.log('setup                    msgs/s     p50 ms   p99 ms');
  for (const r of rows) {
    const rate = r.messages / r.seconds;
    console.log(
      `${r.name.padEnd(24)} ${rate.toFixed(0).padStart(7)} ${r.p50.toFixed(2).padStart(9)} ${r.p99.toFixed(2).padStart(8)}`,
    );
  }
  const [one, two] = rows as [Row, Row];
  console.log(
    `two nodes / one node: throughput x${(two.messages / two.seconds / (one.messages / one.seconds)).toFixed(2)}, p99 x${(two.p99 / one.p99).toFixed(2)}`,
  );
} finally {
  for (const n of [single, a, b]) await n.stop();
  await shared.close();
  await deleteKeys(args.redis, prefix);
}
