// PostgresPushStore: the PushStore contract against the machine's PostgreSQL, two nodes (two
// pools) claiming from one queue at once, and a server on PostgreSQL that notifies an offline
// user end to end. Each store works in a fresh schema of this run, dropped afterwards.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Command, pb } from '@parley/protocol';
import { PostgresPushStore } from '../src/push/postgres-push-store.js';
import type { PushEnqueueItem } from '../src/push/types.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { PushEnv, hexToken, waitFor } from './helpers/push-env.js';
import { TestServer } from './helpers/server.js';
import { TestSchemas, requireTestPostgres, schemaUrl } from './helpers/postgres-schemas.js';
import { type StorePair, pushStoreContract } from './push-store-contract.js';
import { uid } from './store-contract.js';

const schemas = new TestSchemas('parley_push');

async function openPair(schema: string): Promise<StorePair & { store: PostgresStore; push: PostgresPushStore }> {
  const store = new PostgresStore({ url: schemaUrl(schema), poolSize: 4 });
  await store.migrate();
  const push = new PostgresPushStore(store);
  await push.migrate();
  // Twice: migrations are safe on every start.
  await push.migrate();
  return { store, push };
}

const schemaOf = new WeakMap<object, string>();

async function openFresh(): Promise<StorePair> {
  const schema = schemas.fresh();
  const pair = await openPair(schema);
  schemaOf.set(pair.store, schema);
  return pair;
}

const skip = await requireTestPostgres();
if (skip) {
  describe('PostgresPushStore', { skip }, () => {
    test('needs PostgreSQL', () => undefined);
  });
} else {
  registerTests();
}

function registerTests(): void {
  after(() => schemas.dropAll());

  pushStoreContract('PostgreSQL', openFresh, {
    reopen: async ({ store }) => {
      const schema = schemaOf.get(store) ?? '';
      await store.close();
      const pair = await openPair(schema);
      schemaOf.set(pair.store, schema);
      return pair;
    },
  });

  describe('PostgresPushStore on several nodes', () => {
    const opened: PostgresStore[] = [];
    after(async () => {
      for (const s of opened) await s.close();
    });
    const nodes = async (n: number) => {
      const schema = schemas.fresh();
      const pairs = [];
      // Concurrent first migrations: one applies, the others queue on the lock and find it done.
      for (const p of await Promise.all(Array.from({ length: n }, () => openPair(schema)))) {
        opened.push(p.store);
        pairs.push(p);
      }
      return pairs;
    };

    test('two nodes claiming from one queue at once never get the same job', { timeout: 120_000 }, async () => {
      const [a, b] = await nodes(2);
      assert.ok(a && b);
      const jobs = 600;
      const items: PushEnqueueItem[] = Array.from({ length: jobs }, (_, i) => ({
        userId: `u${String(i % 50)}`,
        deviceId: 'phone',
        conversationId: `c${String(i)}`,
        seq: 1,
        mentioned: false,
        dueAt: 0,
      }));
      await a.push.enqueue(items, 0);
      assert.equal(await b.push.pendingCount(), jobs);

      const claimed = new Map<number, string>();
      let doubles = 0;
      const drain = async (pair: typeof a, owner: string) => {
        for (;;) {
          const got = await pair.push.claim(owner, Date.now(), 60_000, 7);
          if (got.length === 0) return;
          for (const job of got) {
            if (claimed.has(job.id)) doubles++;
            claimed.set(job.id, owner);
          }
          // Settle some right away so claims and deletes interleave across the nodes.
          for (const job of got.filter((j) => j.id % 2 === 0)) assert.ok(await pair.push.complete(job.id, owner));
        }
      };
      // Several claimers per node, as a worker's passes overlap with its sends.
      await Promise.all([
        ...[1, 2, 3].map((i) => drain(a, `a${String(i)}`)),
        ...[1, 2, 3].map((i) => drain(b, `b${String(i)}`)),
      ]);
      assert.equal(doubles, 0, 'a job was claimed twice');
      assert.equal(claimed.size, jobs, 'every job was claimed once');
      const owners = new Set([...claimed.values()].map((o) => o[0]));
      assert.deepEqual([...owners].sort(), ['a', 'b'], 'both nodes took part');
      // The other node cannot settle a job it does not hold.
      const [oddId, owner] = [...claimed].find(([id]) => id % 2 === 1) ?? [0, ''];
      const other = owner.startsWith('a') ? b : a;
      assert.equal(await other.push.complete(oddId, 'intruder'), false);
    });

    test('enqueues for one device from two nodes at once coalesce into one waiting job', async () => {
      const [a, b] = await nodes(2);
      assert.ok(a && b);
      const user = uid('u');
      const conv = uid('c');
      const burst = (pair: typeof a, from: number) =>
        Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            pair.push.enqueue(
              [{ userId: user, deviceId: 'phone', conversationId: conv, seq: from + i, mentioned: false, dueAt: 10 }],
              5,
            ),
          ),
        );
      await Promise.all([burst(a, 1), burst(b, 21)]);
      assert.equal(await a.push.pendingCount(), 1);
      assert.equal(await b.push.queuedThrough(conv), 40);
      const [job] = await b.push.claim('w', 10, 1_000, 10);
      assert.deepEqual([job?.firstSeq, job?.lastSeq, job?.count], [1, 40, 40]);
    });

    test('a retry racing a new enqueue on another node folds into one job', async () => {
      const [a, b] = await nodes(2);
      assert.ok(a && b);
      const user = uid('u');
      const conv = uid('c');
      const item = (seq: number): PushEnqueueItem => ({
        userId: user,
        deviceId: 'phone',
        conversationId: conv,
        seq,
        mentioned: false,
        dueAt: 0,
      });
      await a.push.enqueue([item(1)], 0);
      const [job] = await a.push.claim('wa', 0, 60_000, 1);
      assert.ok(job);
      await Promise.all([a.push.retry(job.id, 'wa', 100), b.push.enqueue([item(2)], 1)]);
      assert.equal(await a.push.pendingCount(), 1);
      const [folded] = await b.push.claim('wb', 100, 1_000, 5);
      assert.deepEqual([folded?.firstSeq, folded?.lastSeq, folded?.count, folded?.attempts], [1, 2, 2, 1]);
    });
  });

  describe('a server on PostgreSQL', () => {
    test('an offline user gets exactly one notification for a message', { timeout: 60_000 }, async () => {
      const env = await PushEnv.start();
      const ts = await TestServer.start({ store: schemaUrl(schemas.fresh()), push: env.push });
      try {
        assert.ok(ts.server.ctx.push.pushStore instanceof PostgresPushStore, 'push runs on the PostgreSQL store');
        const phone = await ts.login('bob', 'tcp', { deviceId: 'iphone' });
        await phone.request(Command.PUSH_REGISTER, { provider: pb.PushProvider.APNS, token: hexToken('pg-bob') });
        await phone.close();
        const alice = await ts.login('alice');
        const conv =
          (await alice.request(Command.CONV_CREATE, { type: pb.ConversationType.DIRECT, memberIds: ['bob'] })).state
            ?.conversation?.conversationId ?? '';
        await alice.request(Command.SEND, {
          conversationId: conv,
          clientMessageId: 'pg-1',
          content: { type: pb.MessageType.TEXT, text: 'hello from postgres' },
        });
        const delivered = () => env.apns.delivered.filter((d) => d.deviceToken === hexToken('pg-bob'));
        const [got] = await waitFor('APNs notification', () => (delivered().length ? delivered() : undefined));
        assert.deepEqual(got?.payload.aps.alert, { title: 'alice', body: 'hello from postgres' });
        assert.equal(got?.payload.aps.badge, 1);
        // Longer than the coalescing window and a few worker polls: nothing more comes.
        await new Promise((r) => setTimeout(r, 2_500));
        assert.equal(delivered().length, 1);
        assert.equal(await ts.server.ctx.push.pushStore.pendingCount(), 0);
        alice.destroy();
      } finally {
        await ts.stop();
        await env.close();
      }
    });

    test(
      'two servers on one database: each offline device gets exactly one notification',
      { timeout: 90_000 },
      async () => {
        // Both workers poll often, so both claim from the one queue as the jobs come due.
        const env = await PushEnv.start({ coalesceMs: 300, pollMs: 50 });
        const schema = schemas.fresh();
        const a = await TestServer.start({ store: schemaUrl(schema), push: env.push, nodeId: 'pg-a' });
        const b = await TestServer.start({ store: schemaUrl(schema), push: env.push, nodeId: 'pg-b' });
        try {
          const users = Array.from({ length: 20 }, (_, i) => `pg-user-${String(i)}`);
          for (const user of users) {
            const c = await b.login(user, 'tcp', { deviceId: 'phone' });
            await c.request(Command.PUSH_REGISTER, { provider: pb.PushProvider.APNS, token: hexToken(user) });
            await c.close();
          }
          const alice = await a.login('alice');
          for (const user of users) {
            const conv =
              (await alice.request(Command.CONV_CREATE, { type: pb.ConversationType.DIRECT, memberIds: [user] })).state
                ?.conversation?.conversationId ?? '';
            await alice.request(Command.SEND, {
              conversationId: conv,
              clientMessageId: `${user}-1`,
              content: { type: pb.MessageType.TEXT, text: 'hi' },
            });
          }
          const count = (user: string) => env.apns.delivered.filter((d) => d.deviceToken === hexToken(user)).length;
          await waitFor('every device notified', () => users.every((u) => count(u) > 0));
          await new Promise((r) => setTimeout(r, 1_500));
          assert.deepEqual(
            users.map(count),
            users.map(() => 1),
          );
          assert.equal(await a.server.ctx.push.pushStore?.pendingCount(), 0);
          alice.destroy();
        } finally {
          await a.stop();
          await b.stop();
          await env.close();
        }
      },
    );
  });
}
