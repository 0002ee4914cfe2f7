// Token expiry mid-session: alice's async token provider hands out tokens that live 2 s. The
// server keeps a logged-in session going past its token's expiry, so the expiry shows when
// the link is lost (here the NAT in front of her forgets the mapping silently) and the client
// logs in again with its cached, now expired token: the server refuses it (TOKEN_EXPIRED),
// the client asks the provider again and logs in on the same link, and the app sees no error
// while its sends carry on. Twice in a row, over TCP, TLS and WebSocket.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { OutboxMessage } from '../src/index.js';
import { texts } from './client-helpers.js';
import { KINDS, sleep, waitFor } from './connection-harness.js';
import { ackProblem, assertEachOnce, closeAll, natProxy, pair, serverForFile, stream } from './helpers/resilience.js';

const TTL_SECONDS = 2;
const ROUNDS = 2;
const PER_ROUND = 10;

const file = serverForFile();

for (const kind of KINDS) {
  describe(`token expiry mid-session over ${kind}`, () => {
    after(closeAll);

    test('an expired token is renewed from the async provider at re-login, unseen by the app; sends continue', async () => {
      const { server } = file;
      const proxy = natProxy(server, kind);
      const issued: number[] = [];
      const logins: boolean[] = [];
      const token = async () => {
        await sleep(30); // an app server round trip
        issued.push(Date.now());
        return server.token(`alice-token-${kind}`, { ttlSeconds: TTL_SECONDS });
      };
      const { alice, bob, conv } = await pair(server, 'token', kind, {
        alice: { port: await proxy.listen(), token },
        beforeLogin: (a) => a.client.on('connected', (s) => logins.push(s.reconnected)),
      });

      const aliceTexts: string[] = [];
      const aliceSent: OutboxMessage[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const batch = texts(`a-${kind}-${String(round)}`, PER_ROUND);
        aliceTexts.push(...batch);
        const requestsBefore = alice.tokenRequests;
        const loginsBefore = logins.length;
        // Half the batch on the old session, with its token expiring underneath it.
        aliceSent.push(...(await stream(alice, conv, batch.slice(0, PER_ROUND / 2), 50)));
        await sleep((TTL_SECONDS + 1) * 1000 - (Date.now() - (issued.at(-1) ?? 0)));
        assert.equal(alice.client.connection.state, 'connected', 'the session outlives its token');
        // The NAT forgets the link; the other half is sent while the client finds out and reconnects.
        proxy.cut(0);
        aliceSent.push(...(await stream(alice, conv, batch.slice(PER_ROUND / 2), 50)));
        await waitFor(() => logins.length > loginsBefore, 20_000, 'logged in again');
        await waitFor(() => ackProblem(alice, aliceSent) === undefined, 20_000, 'sends acked');
        assert.equal(alice.tokenRequests, requestsBefore + 1, 'the provider was asked once more');
      }

      const bySender = new Map([[alice.userId, aliceTexts]]);
      const senders = [{ peer: alice, sent: aliceSent }];
      await assertEachOnce(server, { conv, peers: [alice, bob], senders, bySender }, 20_000);
      assert.deepEqual(logins, [false, ...Array<boolean>(ROUNDS).fill(true)], 'one login per link');
      assert.deepEqual(alice.seen.errors, [], 'no error reached the app');
      assert.ok(alice.sockets.maxLive <= 1);
    });
  });
}
