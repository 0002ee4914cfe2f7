// The server process gets SIGKILL (no GOAWAY, no flush) while two clients exchange a stream of
// messages, and is started again on the same ports and SQLite file; twice. Every message acked
// before a kill survives it, every send is acked exactly once, and both clients see every message
// of the conversation exactly once, in seq order. Over TCP, TLS and WebSocket.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { texts } from './client-helpers.js';
import { KINDS, sleep, waitFor } from './connection-harness.js';
import {
  assertEachOnce,
  closeAll,
  pair,
  serverForFile,
  stream,
  unexpectedErrors,
  waitForAcks,
} from './helpers/resilience.js';

const PER_SENDER = 150;

const file = serverForFile();

for (const kind of KINDS) {
  describe(`server process killed mid-stream over ${kind}`, () => {
    after(closeAll);

    test('SIGKILL and restart on the same port and data: acked messages survive, each arrives once, in order', async () => {
      const { server } = file;
      const { alice, bob, conv } = await pair(server, 'kill', kind);
      const aliceTexts = texts(`a-${kind}`, PER_SENDER);
      const bobTexts = texts(`b-${kind}`, PER_SENDER);
      const streaming = Promise.all([stream(alice, conv, aliceTexts, 15), stream(bob, conv, bobTexts, 15)]);

      // Two kills: one while both stream, one while the outboxes catch up after the first restart.
      const ackedAtKill: { localId: string; seq: number | undefined }[] = [];
      const killedAt: number[] = [];
      for (const more of [20, 10]) {
        const floor = [alice, bob].map((p) => p.seen.reached('sent').size + more);
        await waitFor(
          () =>
            alice.seen.reached('sent').size >= (floor[0] as number) &&
            bob.seen.reached('sent').size >= (floor[1] as number),
          30_000,
          `${String(more)} more acks each`,
        );
        const oldPid = server.pid;
        await server.kill('SIGKILL');
        // What was acked when the process died: all of it must be stored, at the acked seq.
        const acked = [alice, bob].flatMap((p) =>
          p.client.outbox
            .list(conv)
            .filter((m) => m.state !== 'sending')
            .map((m) => ({ localId: m.localId, seq: m.seq })),
        );
        assert.ok(acked.length < 2 * PER_SENDER, 'the kill came mid-stream');
        ackedAtKill.push(...acked);
        killedAt.push(acked.length);
        await sleep(200);
        await server.restart();
        assert.notEqual(server.pid, oldPid);
      }

      const [aliceSent, bobSent] = await streaming;
      const senders = [
        { peer: alice, sent: aliceSent },
        { peer: bob, sent: bobSent },
      ];
      await waitForAcks(senders, 60_000, 'every send acked');
      const bySender = new Map([
        [alice.userId, aliceTexts],
        [bob.userId, bobTexts],
      ]);
      const rows = await assertEachOnce(server, { conv, peers: [alice, bob], senders, bySender }, 30_000);
      for (const acked of ackedAtKill) {
        assert.equal(rows.find((r) => r.clientMessageId === acked.localId)?.seq, acked.seq, 'acked before a kill');
      }
      assert.ok(alice.sockets.maxLive <= 1 && bob.sockets.maxLive <= 1, 'one socket per client at a time');
      assert.deepEqual(unexpectedErrors(alice), []);
      assert.deepEqual(unexpectedErrors(bob), []);
      console.log(`[${kind}] ${killedAt.join(' and ')} of ${String(2 * PER_SENDER)} acked at the kills`);
    });
  });
}
