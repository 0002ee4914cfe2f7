// A 30 s cut while sending: the proxy in front of alice drops every packet silently (no FIN,
// no RST; a new dial gets a TCP handshake and nothing after it), as a dead radio or a NAT that
// lost its table does. Alice's heartbeat must find the link dead, her sends must wait in the
// outbox, and after the restore everything (hers and what bob sent meanwhile) must arrive
// once, in order, each send acked once. The three transports' cuts run at the same time, so
// the file costs one cut, not three.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ClientErrorCode, type DisconnectInfo } from '../src/index.js';
import { texts } from './client-helpers.js';
import { KINDS, type Kind, sleep, waitFor } from './connection-harness.js';
import {
  ackProblem,
  assertEachOnce,
  natProxy,
  pair,
  serverForFile,
  stream,
  unexpectedErrors,
  waitForAcks,
} from './helpers/resilience.js';

const CUT_MS = 30_000;
const BEFORE = 10;
const DURING = 30;

const file = serverForFile();

async function cutWhileSending(kind: Kind): Promise<void> {
  const { server } = file;
  const proxy = natProxy(server, kind);
  const { alice, bob, conv } = await pair(server, 'cut', kind, { alice: { port: await proxy.listen() } });
  const drops: DisconnectInfo[] = [];
  alice.client.on('disconnected', (info) => drops.push(info));

  const aliceTexts = [...texts(`a-before-${kind}`, BEFORE), ...texts(`a-during-${kind}`, DURING)];
  const bobTexts = texts(`b-during-${kind}`, DURING);
  const before = await stream(alice, conv, aliceTexts.slice(0, BEFORE), 20);
  await waitFor(() => ackProblem(alice, before) === undefined, 20_000, `${kind}: acks before the cut`);

  proxy.cut();
  const cutAt = Date.now();
  // Both send through the cut, one message every ~0.8 s, stopping a little before the restore.
  const everyMs = (CUT_MS - 5_000) / DURING;
  const streaming = Promise.all([
    stream(alice, conv, aliceTexts.slice(BEFORE), everyMs),
    stream(bob, conv, bobTexts, everyMs),
  ]);
  await waitFor(() => alice.client.connection.state !== 'connected', CUT_MS, `${kind}: the dead link is noticed`);
  const [aliceDuring, bobSent] = await streaming;
  await sleep(Math.max(0, cutAt + CUT_MS - Date.now()));

  // Still cut: alice's sends wait in her outbox, none acked; bob's went through.
  assert.equal(proxy.cutting, true);
  assert.notEqual(alice.client.connection.state, 'connected', `${kind}: alice is offline during the cut`);
  assert.equal(alice.client.outbox.pending, DURING, `${kind}: alice's sends wait in the outbox`);
  assert.equal(ackProblem(bob, bobSent), undefined, `${kind}: bob's sends were acked`);
  const first = drops[0];
  assert.ok(first, `${kind}: a disconnect was reported`);
  assert.equal(
    (first.error as { clientCode?: string }).clientCode,
    ClientErrorCode.PING_TIMEOUT,
    `${kind}: the heartbeat found the link dead (${first.error.message})`,
  );

  proxy.restore();
  const aliceSent = [...before, ...aliceDuring];
  await waitForAcks([{ peer: alice, sent: aliceSent }], 30_000, `${kind}: every send acked`);
  const exchange = {
    conv,
    peers: [alice, bob],
    senders: [
      { peer: alice, sent: aliceSent },
      { peer: bob, sent: bobSent },
    ],
    bySender: new Map([
      [alice.userId, aliceTexts],
      [bob.userId, bobTexts],
    ]),
  };
  await assertEachOnce(server, exchange, 20_000, `${kind}: `);
  assert.ok(alice.sockets.maxLive <= 1, `${kind}: one socket at a time`);
  assert.deepEqual(unexpectedErrors(alice), [], `${kind}: no unexpected error reached the app`);
  console.log(
    `[${kind}] ${String(alice.sockets.dials)} dials; first drop: ${first.error.message}; ` +
      `${String(proxy.mappings().droppedBytes)} bytes dropped by the proxy`,
  );
}

test(`a ${String(CUT_MS / 1000)} s silent cut while sending, over ${KINDS.join(', ')} at once`, async () => {
  const results = await Promise.allSettled(KINDS.map((kind) => cutWhileSending(kind)));
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
  if (failures.length > 0) throw new AggregateError(failures, failures.map((e) => e.message).join('; '));
});
