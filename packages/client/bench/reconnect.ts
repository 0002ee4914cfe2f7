// Reconnect time after a server restart: stop the server (GOAWAY to every client, sockets
// closed), start it again on the same ports and data dir, and time the client until it is
// connected and synced again. Two figures per run: from the server listening again, and from
// the stop. The client uses its default backoff (1 s first ceiling, full jitter) with each run
// counted as a fresh outage (`resetAfterMs: 0`: back-to-back restarts would otherwise climb
// the backoff ladder towards its 60 s cap, which is the point of a backoff but not of this
// figure); the server hints a 0 ms GOAWAY delay and the client adds up to `--jitter-ms`.
//   npm run bench -- [--runs 100] [--transport tcp|tls|ws] [--jitter-ms 500]
import { parseArgs } from 'node:util';
import { pb } from '@parley/protocol';
import { FixedHeartbeat, ParleyClient } from '../src/index.js';
import { Harness, KINDS, type Kind } from '../test/connection-harness.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '100' },
    transport: { type: 'string', default: 'tcp' },
    'jitter-ms': { type: 'string', default: '500' },
  },
});
const runs = Number(values.runs);
const kind = values.transport as Kind;
if (!KINDS.includes(kind)) {
  console.error(`--transport must be one of ${KINDS.join(', ')}, not ${values.transport}`);
  process.exit(2);
}
const jitterMs = Number(values['jitter-ms']);

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

function summary(name: string, samples: number[]): string {
  const s = [...samples].sort((a, b) => a - b);
  const f = (n: number) => `${n.toFixed(0)} ms`;
  return `${name}: p50 ${f(percentile(s, 50))}, p99 ${f(percentile(s, 99))}, min ${f(s[0] ?? 0)}, max ${f(s.at(-1) ?? 0)}`;
}

const h = await Harness.start({ shutdown: { goawayDelayMs: 0 } });
const client = new ParleyClient({
  token: () => h.token('bench-reconnect'),
  deviceId: 'bench-reconnect',
  platform: pb.Platform.DESKTOP,
  heartbeat: new FixedHeartbeat({ intervalMs: 30_000, pingTimeoutMs: 5_000 }),
  connection: { backoff: { goawayJitterMs: jitterMs, resetAfterMs: 0 }, watchOnline: false },
  transport: h.transport(kind),
});
let synced = 0;
client.on('synced', () => synced++);
await client.connect();
await client.ready();

const fromListening: number[] = [];
const fromStop: number[] = [];
for (let i = 0; i < runs; i++) {
  const before = synced;
  const stopAt = performance.now();
  await h.stop();
  await h.restart();
  const listeningAt = performance.now();
  await new Promise<void>((resolve) => {
    const check = (): void => {
      if (client.connection.state === 'connected' && synced > before) resolve();
      else setTimeout(check, 1);
    };
    check();
  });
  const doneAt = performance.now();
  fromListening.push(doneAt - listeningAt);
  fromStop.push(doneAt - stopAt);
  process.stdout.write(`\r${String(i + 1)}/${String(runs)}`);
}
process.stdout.write('\n');
console.log(
  `reconnect after a server restart over ${kind}, ${String(runs)} runs (GOAWAY jitter ${String(jitterMs)} ms, default backoff, resetAfterMs 0)`,
);
console.log(summary('from listening again to connected+synced', fromListening));
console.log(summary('from the stop to connected+synced', fromStop));
await client.close();
await h.close();
