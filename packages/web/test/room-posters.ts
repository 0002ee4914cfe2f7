// A child process of the live-room test: N headless SDK clients (TCP) sign in with development
// tokens, join one room, then each posts every `intervalMs` (with jitter) for `durationMs`.
// Prints `ready <n>` once all have joined and a JSON report line at the end.
//
//   node --conditions=@parley/source --import tsx test/room-posters.ts <httpUrl> <tcpPort> <room> <count> <prefix> <intervalMs> <durationMs>
import { ParleyClient, pb } from '@parley/client';
import { tcpTransport } from '@parley/client/node';

const [
  httpUrl = '',
  tcpPort = '0',
  room = 'stage',
  count = '100',
  prefix = 'viewer',
  intervalMs = '3000',
  durationMs = '10000',
] = process.argv.slice(2);

async function devToken(userId: string): Promise<string> {
  const res = await fetch(`${httpUrl}/v1/dev/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId }),
  });
  const body = (await res.json()) as { token?: string };
  if (!body.token) throw new Error(`no dev token for ${userId}: HTTP ${String(res.status)}`);
  return body.token;
}

async function joinOne(i: number): Promise<ParleyClient> {
  const userId = `${prefix}-${String(i)}`;
  const token = await devToken(userId);
  const client = new ParleyClient({
    transport: tcpTransport({ host: '127.0.0.1', port: Number(tcpPort) }),
    token: () => Promise.resolve(token),
    deviceId: `${userId}-device`,
    platform: pb.Platform.SERVER,
    deliveryReceipts: false,
  });
  await client.connect();
  await client.ready({ timeoutMs: 30_000 });
  await client.joinRoom(room, { recentLimit: 0 });
  return client;
}

const clients: ParleyClient[] = [];
const n = Number(count);
for (let i = 0; i < n; i += 20) {
  const batch = await Promise.all(Array.from({ length: Math.min(20, n - i) }, (_, k) => joinOne(i + k)));
  clients.push(...batch);
}
process.stdout.write(`ready ${String(clients.length)}\n`);

let sent = 0;
let failed = 0;
const errors = new Map<string, number>();
const until = Date.now() + Number(durationMs);
const every = Number(intervalMs);
await Promise.all(
  clients.map(async (client, i) => {
    await new Promise((r) => setTimeout(r, Math.random() * every));
    let k = 0;
    while (Date.now() < until) {
      try {
        await client.sendToRoom(room, `${prefix}-${String(i)} says hi #${String(k++)}`);
        sent++;
      } catch (err) {
        failed++;
        const key = err instanceof Error ? err.message : String(err);
        errors.set(key, (errors.get(key) ?? 0) + 1);
      }
      await new Promise((r) => setTimeout(r, every * (0.5 + Math.random())));
    }
  }),
);
process.stdout.write(
  `${JSON.stringify({ joined: clients.length, sent, failed, errors: Object.fromEntries(errors) })}\n`,
);
await Promise.all(clients.map((c) => c.close()));
process.exit(0);
