import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { Command, pb } from '@parley/protocol';
import { issueToken } from '../src/index.js';
import { PushEnv, hexToken, waitFor } from './helpers/push-env.js';
import { TestClient } from './helpers/test-client.js';

interface Child {
  process: ChildProcess;
  tcp: number;
  http: number;
  secret: string;
}

/** Starts a server in a child process (test/helpers/push-crash-child.ts) and reads its ports. */
async function startChild(config: unknown): Promise<Child> {
  const child = spawn(
    process.execPath,
    ['--conditions=@parley/source', '--import', 'tsx', join(import.meta.dirname, 'helpers', 'push-crash-child.ts')],
    { env: { ...process.env, PARLEY_TEST_CONFIG: JSON.stringify(config) }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout });
  const first = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error('child server did not start'));
    }, 60_000);
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve(line);
    });
    child.once('exit', (code) => {
      reject(new Error(`child server exited (${String(code)})`));
    });
  });
  const info = JSON.parse(first) as { tcp: number; http: number; secret: string };
  return { process: child, ...info };
}

function kill9(child: Child): Promise<void> {
  return new Promise((resolve) => {
    if (child.process.exitCode !== null || child.process.signalCode !== null) {
      resolve();
      return;
    }
    child.process.once('exit', () => {
      resolve();
    });
    child.process.kill('SIGKILL');
  });
}

async function login(child: Child, userId: string, deviceId: string): Promise<TestClient> {
  const c = await TestClient.connect({ transport: 'tcp', host: '127.0.0.1', port: child.tcp });
  await c.login(await issueToken({ secret: child.secret, userId }), { deviceId, platform: pb.Platform.IOS });
  return c;
}

async function queued(child: Child): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${String(child.http)}/metrics`)).text();
  return Number(/^parley_push_queued_total (\d+)/m.exec(text)?.[1] ?? 0);
}

let env: PushEnv;
let dataDir: string;
const children: Child[] = [];

before(async () => {
  env = await PushEnv.start({ coalesceMs: 1_000, leaseMs: 2_000 });
  dataDir = mkdtempSync(join(tmpdir(), 'parley-push-crash-'));
});
after(async () => {
  for (const c of children) await kill9(c);
  await env.close();
  rmSync(dataDir, { recursive: true, force: true });
});

test('a server killed with SIGKILL mid-queue loses no push: the next start sends them all', async () => {
  const config = { dataDir, tcpPort: 0, tlsPort: 0, httpPort: 0, tls: false, logLevel: 'silent', push: env.push };
  const first = await startChild(config);
  children.push(first);
  const users = Array.from({ length: 8 }, (_, i) => `crash-${String(i)}`);
  for (const u of users) {
    const c = await login(first, u, 'iphone');
    await c.request(Command.PUSH_REGISTER, { provider: pb.PushProvider.APNS, token: hexToken(u) });
    await c.close();
  }
  const alice = await login(first, 'crash-alice', 'desk');
  const send = async (to: string, text: string) => {
    const conv = await alice.request(Command.CONV_CREATE, { type: pb.ConversationType.DIRECT, memberIds: [to] });
    await alice.request(Command.SEND, {
      conversationId: conv.state?.conversation?.conversationId ?? '',
      clientMessageId: `c-${to}`,
      content: { type: pb.MessageType.TEXT, text },
    });
  };

  // The provider holds every request: the first five notifications are in flight (leased) ...
  env.apns.delayMs = 120_000;
  for (const u of users.slice(0, 5)) await send(u, `to ${u}`);
  await waitFor('five requests held at the provider', () => env.apns.held === 5);
  // ... and three more are durable in the queue, inside their coalescing window.
  for (const u of users.slice(5)) await send(u, `to ${u}`);
  await waitFor('eight queued', async () => (await queued(first)) === 8);
  assert.equal(env.apns.delivered.length, 0);

  await kill9(first);
  alice.destroy();
  env.apns.delayMs = 0;
  await waitFor('held requests dropped', () => env.apns.held === 0);

  const second = await startChild(config);
  children.push(second);
  // Leased jobs come back when their lease runs out; queued ones when due.
  await waitFor(
    'every device notified',
    () => users.every((u) => env.apns.delivered.some((d) => d.deviceToken === hexToken(u))),
    30_000,
  );
  await new Promise((r) => setTimeout(r, 1_500));
  for (const u of users) {
    const got = env.apns.delivered.filter((d) => d.deviceToken === hexToken(u));
    assert.equal(got.length, 1, `${u}: exactly one notification`);
    assert.equal(got[0]!.payload.aps.alert?.body, `to ${u}`);
  }
  await kill9(second);
});
