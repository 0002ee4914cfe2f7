// A flapping network: for ~10 s the proxy in front of both clients cuts silently and restores
// every few hundred ms (a seeded random schedule) while both send; then it stays up. Every
// message must arrive once, in order, each send acked once, and neither client may ever hold
// two live sockets: counted on the client (its transport) and on the server (the sessions
// its registry routes the device's pushes to, sampled every 2 ms in the server process).
// The three transports flap at the same time.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { texts } from './client-helpers.js';
import { KINDS, type Kind, sleep, waitFor } from './connection-harness.js';
import { NatProxy } from './helpers/nat-proxy.js';
import {
  UNLIMITED,
  ackProblem,
  closePeers,
  converse,
  flap,
  makePeer,
  online,
  serverPort,
  storeProblem,
  stream,
  streamProblem,
  unexpectedErrors,
} from './helpers/resilience.js';
import { ServerProcess, killAllServers } from './helpers/server-process.js';

const FLAP_MS = 10_000;
const PER_SENDER = 60;
// Fixed schedules; PARLEY_FLAP_SEED=<n> tries others (the seed is in every failure message).
const BASE_SEED = Number(process.env.PARLEY_FLAP_SEED ?? 0);
const SEEDS: Record<Kind, number> = { tcp: BASE_SEED + 0x7c9, tls: BASE_SEED + 0x715, ws: BASE_SEED + 0x3e5 };

let server: ServerProcess;
const proxies: NatProxy[] = [];

before(async () => {
  server = await ServerProcess.start({ limits: UNLIMITED });
});
after(async () => {
  await closePeers();
  await Promise.all(proxies.map((p) => p.close()));
  await server?.close();
  await killAllServers();
});

async function flapWhileSending(kind: Kind): Promise<void> {
  const proxy = new NatProxy({
    idleTimeoutMs: Infinity,
    target: { host: '127.0.0.1', port: serverPort(server, kind) },
  });
  proxies.push(proxy);
  const port = await proxy.listen();
  // Short timeouts, so links die and are replaced many times within the flapping.
  const timings = { port, heartbeatMs: 500, timeoutMs: 1_000 };
  const alice = makePeer(server, `alice-flap-${kind}`, kind, timings);
  const bob = makePeer(server, `bob-flap-${kind}`, kind, timings);
  await online(alice, bob);
  for (const p of [alice, bob]) await server.watchDevice(p.userId, p.deviceId);
  const conv = await converse(alice, bob);
  const aliceTexts = texts(`a-${kind}`, PER_SENDER);
  const bobTexts = texts(`b-${kind}`, PER_SENDER);
  const everyMs = FLAP_MS / PER_SENDER;
  const [cuts, aliceSent, bobSent] = await Promise.all([
    flap(proxy, { seed: SEEDS[kind], durationMs: FLAP_MS, minMs: 100, maxMs: 700 }),
    stream(alice, conv, aliceTexts, everyMs),
    stream(bob, conv, bobTexts, everyMs),
  ]);

  // Stable from here on.
  for (const [p, sent] of [
    [alice, aliceSent],
    [bob, bobSent],
  ] as const) {
    await waitFor(() => ackProblem(p, sent) === undefined, 40_000, `${kind}: ${p.userId}'s sends acked`).catch(
      (err: unknown) => {
        throw new Error(`${String(err)}: ${String(ackProblem(p, sent))}`);
      },
    );
  }
  const bySender = new Map([
    [alice.userId, aliceTexts],
    [bob.userId, bobTexts],
  ]);
  for (const p of [alice, bob]) {
    await waitFor(() => p.seen.in(conv).length >= 2 * PER_SENDER, 30_000, `${kind}: ${p.userId} got everything`).catch(
      (err: unknown) => {
        const seqs = p.seen.in(conv).map((m) => m.seq);
        const missing = Array.from({ length: 2 * PER_SENDER }, (_, i) => i + 1).filter((n) => !seqs.includes(n));
        const view = p.client.conversation(conv);
        throw new Error(
          `${String(err)}: ${String(seqs.length)} seen, missing seqs ${missing.join(',')}; ` +
            `state ${p.client.connection.state}, cache lastSeq ${String(view?.lastSeq)}, ` +
            `order ${String(streamProblem(p.seen.in(conv), bySender))}`,
        );
      },
    );
  }
  await sleep(200); // a duplicate arriving late would show now
  assert.equal(streamProblem(alice.seen.in(conv), bySender), undefined, `${kind}: alice`);
  assert.equal(streamProblem(bob.seen.in(conv), bySender), undefined, `${kind}: bob`);
  assert.equal(ackProblem(alice, aliceSent), undefined, `${kind}: alice acks`);
  assert.equal(ackProblem(bob, bobSent), undefined, `${kind}: bob acks`);
  assert.equal(
    storeProblem(await server.messages(conv), [
      { peer: alice, sent: aliceSent },
      { peer: bob, sent: bobSent },
    ]),
    undefined,
    `${kind}: store`,
  );

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
