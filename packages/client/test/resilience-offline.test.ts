// 1,000 messages sent while offline, then the network comes back: alice was connected, the
// NAT in front of her goes dark (silently), her heartbeat finds the link dead, she sends
// 1,000 messages into the outbox, and the network returns. Each message is acked once,
// stored once in send order, and reaches bob (and alice's own stream) once, in order.
// (test/outbox.test.ts covers sends made before the first connect, on an in-process server.)
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { texts } from './client-helpers.js';
import { KINDS, sleep, waitFor } from './connection-harness.js';
import { NatProxy } from './helpers/nat-proxy.js';
import {
  UNLIMITED,
  ackProblem,
  closePeers,
  converse,
  makePeer,
  online,
  serverPort,
  storeProblem,
  streamProblem,
  unexpectedErrors,
} from './helpers/resilience.js';
import { ServerProcess, killAllServers } from './helpers/server-process.js';

const COUNT = 1000;

let server: ServerProcess;
before(async () => {
  server = await ServerProcess.start({ limits: UNLIMITED });
});
after(async () => {
  await closePeers();
  await server?.close();
  await killAllServers();
});

for (const kind of KINDS) {
  describe(`1,000 messages sent offline, then reconnect, over ${kind}`, () => {
    let proxy: NatProxy;
    before(() => {
      proxy = new NatProxy({ idleTimeoutMs: Infinity, target: { host: '127.0.0.1', port: serverPort(server, kind) } });
    });
    after(async () => {
      await closePeers();
      await proxy.close();
    });

    test('each acked once, stored once, received once in order', async () => {
      const alice = makePeer(server, `alice-offline-${kind}`, kind, { port: await proxy.listen() });
      const bob = makePeer(server, `bob-offline-${kind}`, kind);
      await online(alice, bob);
      const conv = await converse(alice, bob);

      proxy.cut();
      await waitFor(() => alice.client.connection.state !== 'connected', 20_000, 'the dead link is noticed');
      const expected = texts(`offline-${kind}`, COUNT);
      const sent = expected.map((t) => alice.client.send(conv, t));
      await sleep(100);
      assert.equal(alice.client.outbox.pending, COUNT, 'all waiting in the outbox');
      assert.equal(bob.seen.in(conv).length, 0, 'nothing got through');

      proxy.restore();
      await waitFor(() => ackProblem(alice, sent) === undefined, 120_000, 'every send acked').catch((err: unknown) => {
        throw new Error(`${String(err)}: ${String(ackProblem(alice, sent))}`);
      });
      for (const p of [alice, bob]) {
        await waitFor(() => p.seen.in(conv).length >= COUNT, 30_000, `${p.userId} got everything`);
      }
      await sleep(200); // a duplicate arriving late would show now
      const bySender = new Map([[alice.userId, expected]]);
      assert.equal(streamProblem(bob.seen.in(conv), bySender), undefined, 'bob');
      assert.equal(streamProblem(alice.seen.in(conv), bySender), undefined, 'alice');
      assert.equal(ackProblem(alice, sent), undefined);
      assert.equal(storeProblem(await server.messages(conv), [{ peer: alice, sent }]), undefined);
      assert.ok(alice.sockets.maxLive <= 1);
      assert.deepEqual(unexpectedErrors(alice), []);
    });
  });
}
