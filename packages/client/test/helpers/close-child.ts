// The child side of test/client-close.test.ts: ParleyClients with the short link on, whose long
// link (WebSocket) and short link (HTTP) both go to a port that accepts and never answers (a
// silently cut NAT). One has a short-link call hanging in flight when it is closed; the other's
// call is waiting for a token that arrives only after close(). Prints the handles and timers
// that are still alive after close() beyond those the process started with, then ends by
// itself: the parent fails the test if it does not exit.
import { ParleyClient } from '../../src/index.js';
import { nodeWebSocketTransport } from '../../src/node.js';

const port = Number(process.env.PARLEY_CLOSE_PORT);
const LONG = 120_000; // far beyond the parent's patience: a timer left running keeps the process up

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await sleep(10);
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

function makeClient(token: () => Promise<string>): ParleyClient {
  const client = new ParleyClient({
    transport: nodeWebSocketTransport({ url: `ws://127.0.0.1:${String(port)}/ws` }),
    token,
    deviceId: `close-${String(Math.random()).slice(2, 10)}`,
    connection: {
      connectTimeoutMs: 100,
      backoff: { baseMs: 20, capMs: 50, resetAfterMs: 60_000 },
      tasks: { timeoutMs: LONG, retryDelayMs: LONG },
      watchOnline: false,
    },
    outbox: { timeoutMs: LONG, retryBaseMs: LONG, retryCapMs: LONG },
    shortLink: { afterFailures: 1, afterMs: 50, pollMs: LONG, timeoutMs: LONG },
  });
  client.on('error', () => undefined);
  return client;
}

const baseline = process.getActiveResourcesInfo();

// 1. A short-link call (the SEND and the first sync) hanging in flight.
const inFlight = makeClient(() => Promise.resolve('token'));
await inFlight.connect();
inFlight.send('conv-1', 'hello');
await until(() => (inFlight.shortLink?.stats.calls ?? 0) > 0 && inFlight.outbox.pending > 0, 'a short-link call');

// 2. A short-link call waiting for the app's token provider, which answers after close().
let release: (token: string) => void = () => undefined;
let asked = false;
const waiting = makeClient(
  () =>
    new Promise<string>((resolve) => {
      asked = true;
      release = resolve;
    }),
);
await waiting.connect();
waiting.send('conv-2', 'hello');
await until(() => asked, 'the token request');

await Promise.all([inFlight.close(), waiting.close()]);
release('token');
await sleep(200); // whatever close() left behind would have started by now

const left = [...process.getActiveResourcesInfo()];
for (const name of baseline) {
  const i = left.indexOf(name);
  if (i !== -1) left.splice(i, 1);
}
process.stdout.write(`${JSON.stringify({ left })}\n`);
