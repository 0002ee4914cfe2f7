// A flapping network: for ~10 s the proxy in front of both clients cuts silently and restores
// every few hundred ms (a seeded random schedule) while both send; then it stays up. Every
// message must arrive once, in order, each send acked once, and neither client may ever hold
// two live sockets: counted on the client (its transport) and on the server (the sessions
// its registry routes the device's pushes to, sampled every 2 ms in the server process).
// The three transports flap at the same time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { texts } from './client-helpers.js';
import { KINDS, type Kind, waitFor } from './connection-harness.js';
import {
  assertEachOnce,
  flap,
  natProxy,
  pair,
  serverForFile,
  stream,
  unexpectedErrors,
  waitForAcks,
} from './helpers/resilience.js';

const FLAP_MS = 10_000;
const PER_SENDER = 60;
// Fixed schedules; PARLEY_FLAP_SEED=<n> tries others (the seed is in every failure message).
const BASE_SEED = Number(process.env.PARLEY_FLAP_SEED ?? 0);
const SEEDS: Record<Kind, number> = { tcp: BASE_SEED + 0x7c9, tls: BASE_SEED + 0x715, ws: BASE_SEED + 0x3e5 };

const file = serverForFile();

async function flapWhileSending(kind: Kind): Promise<void> {
  const { server } = file;
  const proxy = natProxy(server, kind);
  const port = await proxy.listen();
  // Short timeouts, so links die and are replaced many times within the flapping.
  const timings = { port, heartbeatMs: 500, timeoutMs: 1_000 };
  const { alice, bob, conv } = await pair(server, 'flap', kind, { alice: timings, bob: timings });
  for (const p of [alice, bob]) await server.watchDevice(p.userId, p.deviceId);
  const aliceTexts = texts(`a-${kind}`, PER_SENDER);
  const bobTexts = texts(`b-${kind}`, PER_SENDER);
  const everyMs = FLAP_MS / PER_SENDER;
  const [cuts, aliceSent, bobSent] = await Promise.all([
    flap(proxy, { seed: SEEDS[kind], durationMs: FLAP_MS, minMs: 100, maxMs: 700 }),
    stream(alice, conv, aliceTexts, everyMs),
    stream(bob, conv, bobTexts, everyMs),
  ]);

  // Stable from here on.
  const senders = [
    { peer: alice, sent: aliceSent },
    { peer: bob, sent: bobSent },
  ];
  for (const sender of senders) {
    await waitForAcks([sender], 40_000, `${kind}: ${sender.peer.userId}'s sends acked`);
  }
  const bySender = new Map([
    [alice.userId, aliceTexts],
    [bob.userId, bobTexts],
  ]);
  await assertEachOnce(server, { conv, peers: [alice, bob], senders, bySender }, 30_000, `${kind}: `);

  const notes: string[] = [];
  for (const p of [alice, bob]) {
    assert.ok(p.sockets.dials > 1, `${kind}: ${p.userId} reconnected during the flapping`);
    assert.ok(p.sockets.maxLive <= 1, `${kind}: ${p.userId} held ${String(p.sockets.maxLive)} sockets at once`);
    await waitFor(() => p.client.connection.state === 'connected', 10_000, `${kind}: ${p.userId} connected`);
    const sessions = await server.sessions(p.userId, p.deviceId);
    assert.ok(sessions.max.registered <= 1, `${kind}: ${p.userId} had ${String(sessions.max.registered)} sessions`);
    assert.equal(sessions.now.registered, 1, `${kind}: ${p.userId} has one session now`);
    assert.deepEqual(unexpectedErrors(p), [], `${kind}: no unexpected error reached ${p.userId}'s app`);
    notes.push(
      `${p.userId}: ${String(p.sockets.dials)} dials, most open server sessions at once ${String(sessions.max.active)}`,
    );
  }
  console.log(`[${kind}] ${String(cuts)} cuts; ${notes.join('; ')}`);
}

test(`~${String(FLAP_MS / 1000)} s of network flapping while both sides send, over ${KINDS.join(', ')} at once`, async () => {
  const results = await Promise.allSettled(
    KINDS.map((kind) =>
      flapWhileSending(kind).catch((err: unknown) => {
        throw new Error(`seed ${String(SEEDS[kind])}: ${err instanceof Error ? err.message : String(err)}`, {
          cause: err,
        });
      }),
    ),
  );
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
  if (failures.length > 0) throw new AggregateError(failures, failures.map((e) => e.message).join('; '));
});
