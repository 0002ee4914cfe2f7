// 1,000 messages sent while offline, then the network comes back: alice was connected, the
// NAT in front of her goes dark (silently), her heartbeat finds the link dead, she sends
// 1,000 messages into the outbox, and the network returns. Each message is acked once,
// stored once in send order, and reaches bob (and alice's own stream) once, in order.
// (test/outbox.test.ts covers sends made before the first connect, on an in-process server.)
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { texts } from './client-helpers.js';
import { KINDS, sleep, waitFor } from './connection-harness.js';
import {
  assertEachOnce,
  closeAll,
  natProxy,
  pair,
  serverForFile,
  unexpectedErrors,
  waitForAcks,
} from './helpers/resilience.js';

const COUNT = 1000;

const file = serverForFile();

for (const kind of KINDS) {
  describe(`1,000 messages sent offline, then reconnect, over ${kind}`, () => {
    after(closeAll);

    test('each acked once, stored once, received once in order', async () => {
      const { server } = file;
      const proxy = natProxy(server, kind);
      const { alice, bob, conv } = await pair(server, 'offline', kind, { alice: { port: await proxy.listen() } });

      proxy.cut();
      await waitFor(() => alice.client.connection.state !== 'connected', 20_000, 'the dead link is noticed');
      const expected = texts(`offline-${kind}`, COUNT);
      const sent = expected.map((t) => alice.client.send(conv, t));
      await sleep(100);
      assert.equal(alice.client.outbox.pending, COUNT, 'all waiting in the outbox');
      assert.equal(bob.seen.in(conv).length, 0, 'nothing got through');

      proxy.restore();
      await waitForAcks([{ peer: alice, sent }], 120_000, 'every send acked');
      const bySender = new Map([[alice.userId, expected]]);
      await assertEachOnce(server, { conv, peers: [bob, alice], senders: [{ peer: alice, sent }], bySender }, 30_000);
      assert.ok(alice.sockets.maxLive <= 1);
      assert.deepEqual(unexpectedErrors(alice), []);
    });
  });
}
