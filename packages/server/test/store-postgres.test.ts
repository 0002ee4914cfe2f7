// PostgresStore: the shared Store contract against the machine's PostgreSQL, plus what only a
// cluster store has: two nodes (two pools) appending to one conversation, concurrent
// migrations, a connection cut mid-batch (through a TCP proxy, never by stopping the shared
// server) and a server that chats over it. Each run works in fresh schemas it drops afterwards.
import assert from 'node:assert/strict';
import { type Server, type Socket, createServer, connect as netConnect } from 'node:net';
import { after, describe, test } from 'node:test';
import { Command, ErrorCode, ParleyError, pb } from '@parley/protocol';
import pg from 'pg';
import { Metrics } from '../src/metrics.js';
import { GroupCommitter } from '../src/services/group-commit.js';
import { openStore, redactStoreUrl } from '../src/store/open.js';
import { SCHEMA_VERSION } from '../src/store/postgres/migrations.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import type { Store } from '../src/store/types.js';
import { POSTGRES_TEST_URL, TestSchemas, requireTestPostgres, schemaUrl } from './helpers/postgres-schemas.js';
import { POSTGRES } from './helpers/services.js';
import { TestServer } from './helpers/server.js';
import { assertGapless, groupOf, seqOf } from './helpers/store-fixtures.js';
import { message, storeContract } from './store-contract.js';

const schemas = new TestSchemas('parley_test');

async function open(schema: string, options: { poolSize?: number; base?: string } = {}): Promise<PostgresStore> {
  const store = new PostgresStore({ url: schemaUrl(schema, options.base), poolSize: options.poolSize ?? 4 });
  await store.migrate();
  return store;
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_TEST_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const isCode = (code: ErrorCode) => (e: unknown) => e instanceof ParleyError && e.code === code;

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A TCP proxy to PostgreSQL that can cut every connection and refuse new ones, then recover. */
class CuttableProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #up = true;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(target = { host: POSTGRES.host, port: POSTGRES.port }): Promise<CuttableProxy> {
    const server = createServer();
    const proxy = new CuttableProxy(server);
    server.on('connection', (client) => {
      proxy.#pipe(client, target);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    const address = this.#server.address();
    assert.ok(address && typeof address === 'object');
    return address.port;
  }

  /** Drops every open connection mid-stream and refuses new ones until restore(). */
  cut(): void {
    this.#up = false;
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
  }

  restore(): void {
    this.#up = true;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  #pipe(client: Socket, target: { host: string; port: number }): void {
    if (!this.#up) {
      client.destroy();
      return;
    }
    const upstream = netConnect(target);
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      this.#sockets.add(a);
      a.pipe(b);
      a.on('error', () => b.destroy());
      a.on('close', () => {
        b.destroy();
        this.#sockets.delete(a);
      });
    }
  }
}

const skip = await requireTestPostgres();
if (skip) {
  describe('PostgresStore', { skip }, () => {
    test('needs PostgreSQL', () => undefined);
  });
} else {
  registerTests();
}

function registerTests(): void {
  after(() => schemas.dropAll());

  const contractSchema = schemas.fresh();
  storeContract('PostgresStore', () => open(contractSchema), {
    reopen: async (store) => {
      await store.close();
      return open(contractSchema);
    },
  });

  describe('PostgresStore specifics', () => {
    test(
      'two nodes appending to one conversation at once get gapless, distinct seqs',
      { timeout: 120_000 },
      async () => {
        const schema = schemas.fresh();
        const [nodeA, nodeB] = [await open(schema), await open(schema)];
        try {
          const conv = await groupOf(nodeA, ['p1', 'p2']);
          const other = await groupOf(nodeA, ['p1', 'p2']);
          // Four appenders per node; batches also touch a second conversation in both orders,
          // which would deadlock if conversations were not locked in one order.
          const appender = (store: Store, sender: string, lane: number) => async () => {
            const acks: { seq: number; clientMessageId: string }[] = [];
            for (let b = 0; b < 15; b++) {
              const size = 1 + ((b * 7 + lane) % 13);
              const batch = Array.from({ length: size }, (_, i) =>
                message(i % 5 === 4 ? other : conv, sender, `${sender}-${String(lane)}-${String(b)}-${String(i)}`),
              );
              if (lane % 2 === 1) batch.reverse();
              const results = await store.appendMessages(batch);
              results.forEach((r, i) => {
                const input = batch[i]!;
                if (input.conversationId === conv) acks.push({ seq: seqOf(r), clientMessageId: input.clientMessageId });
                else seqOf(r);
              });
            }
            return acks;
          };
          const lanes = [0, 1, 2, 3].flatMap((lane) => [appender(nodeA, 'p1', lane), appender(nodeB, 'p2', lane)]);
          const acks = (await Promise.all(lanes.map((fn) => fn()))).flat();
          const seqs = acks.map((a) => a.seq).sort((x, y) => x - y);
          assert.deepEqual(
            seqs,
            Array.from({ length: acks.length }, (_, i) => i + 1),
          );
          for (const ack of acks)
            assert.equal((await nodeB.getMessage(conv, ack.seq))?.clientMessageId, ack.clientMessageId);
          assert.equal(await assertGapless(nodeB, conv), acks.length);
          await assertGapless(nodeA, other);
          // Both members' sync sees every change once, in version order.
          const page = await nodeB.syncConversations('p1', 0, 10);
          assert.deepEqual(page.items.map((s) => s.conversation.id).sort(), [conv, other].sort());
        } finally {
          await nodeA.close();
          await nodeB.close();
        }
      },
    );

    test('a sync running during writes on two nodes never skips a change', { timeout: 120_000 }, async () => {
      const schema = schemas.fresh();
      const [nodeA, nodeB, reader] = [await open(schema), await open(schema), await open(schema)];
      try {
        const convs: string[] = [];
        for (let i = 0; i < 6; i++) convs.push(await groupOf(nodeA, ['r', 'w1', 'w2']));
        let writing = 2;
        const writer = async (store: Store, user: string) => {
          for (let n = 0; n < 40; n++) {
            const batch = Array.from({ length: 1 + (n % 4) }, (_, i) =>
              message(convs[(n * 5 + i * 7 + user.length) % convs.length]!, user, `${user}-${String(n)}-${String(i)}`),
            );
            for (const r of await store.appendMessages(batch)) seqOf(r);
            if (n % 3 === 0) await store.updateCursor(convs[n % convs.length]!, user, 'read', 1_000_000);
          }
          writing--;
        };
        // The reader pages through its changes while they are being written, as a client would.
        const seen = new Map<string, number>();
        let since = 0;
        const readUntilCaughtUp = async () => {
          for (;;) {
            const page = await reader.syncConversations('r', since, 2);
            for (const s of page.items) seen.set(s.conversation.id, s.conversation.lastSeq);
            since = page.version;
            if (!page.hasMore) return;
          }
        };
        const reading = (async () => {
          while (writing > 0) await readUntilCaughtUp();
        })();
        await Promise.all([writer(nodeA, 'w1'), writer(nodeB, 'w2'), reading]);
        await readUntilCaughtUp();
        for (const c of convs)
          assert.equal(seen.get(c), (await reader.getConversation(c))?.lastSeq, `conversation ${c}`);
        assert.equal(since, await reader.userVersion('r'));
      } finally {
        await Promise.all([nodeA.close(), nodeB.close(), reader.close()]);
      }
    });

    test('a resend racing on two nodes is stored once', async () => {
      const schema = schemas.fresh();
      const [nodeA, nodeB] = [await open(schema), await open(schema)];
      try {
        const conv = await groupOf(nodeA, ['a']);
        const results = await Promise.all(
          Array.from({ length: 6 }, (_, i) => (i % 2 ? nodeA : nodeB).appendMessages([message(conv, 'a', 'same')])),
        );
        const acks = results.flat().map((r) => {
          assert.ok(r.ok);
          return r;
        });
        assert.equal(acks.filter((r) => !r.duplicate).length, 1);
        assert.equal(new Set(acks.map((r) => r.message.messageId)).size, 1);
        assert.equal(await assertGapless(nodeA, conv), 1);
      } finally {
        await nodeA.close();
        await nodeB.close();
      }
    });

    test('nodes migrating at once apply each step exactly once', async () => {
      const schema = schemas.fresh();
      const stores = Array.from({ length: 5 }, () => new PostgresStore({ url: schemaUrl(schema), poolSize: 2 }));
      try {
        await Promise.all(stores.map((s) => s.migrate()));
        const versions = await admin(
          async (c) => (await c.query<{ version: number }>(`SELECT version FROM "${schema}".schema_migrations`)).rows,
        );
        assert.deepEqual(
          versions.map((r) => r.version),
          Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1),
        );
        const conv = await groupOf(stores[0]!, ['a']);
        assert.equal((await stores[4]!.appendMessages([message(conv, 'a', 'x')]))[0]?.ok, true);
        await stores[1]!.migrate(); // again: a no-op
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    });

    test('refuses use before migrate, and a schema newer than this build', async () => {
      const schema = schemas.fresh();
      const early = new PostgresStore(schemaUrl(schema));
      await assert.rejects(early.getConversation('x'), isCode(ErrorCode.UNAVAILABLE));
      await assert.rejects(early.appendMessages([message('x', 'a', 'b')]), isCode(ErrorCode.UNAVAILABLE));
      await early.migrate();
      await early.close();
      await assert.rejects(early.getConversation('x'), /closed/);
      await admin((c) =>
        c.query(`INSERT INTO "${schema}".schema_migrations (version, description) VALUES ($1, 'future')`, [
          SCHEMA_VERSION + 1,
        ]),
      );
      const late = new PostgresStore(schemaUrl(schema));
      await assert.rejects(late.migrate(), /newer than this build/);
      await late.close();
    });

    test('enforces idempotency in the schema, and a reused message id fails its item alone', async () => {
      const schema = schemas.fresh();
      const store = await open(schema);
      try {
        const id = await groupOf(store, ['a']);
        const first = message(id, 'a', 'once');
        const results = await store.appendMessages([
          first,
          message(id, 'a', 'c2', { messageId: first.messageId }),
          message(id, 'a', 'c3', { serverTime: 1.5 }),
          message(id, 'a', 'c4\0nul'),
          message(id, 'a', 'c5'),
        ]);
        assert.equal(seqOf(results[0]), 1);
        for (const bad of results.slice(1, 4)) {
          assert.ok(bad && !bad.ok);
          assert.equal(bad.code, ErrorCode.INVALID_ARGUMENT);
        }
        assert.equal(seqOf(results[4]), 2);
        await admin(async (c) => {
          await assert.rejects(
            c.query(
              `INSERT INTO "${schema}".messages (conversation_id, seq, message_id, sender_id, sender_device_id,
                 client_message_id, server_time, type, content) VALUES ($1, 3, 'other', 'a', 'd', 'once', 1, 1, '')`,
              [id],
            ),
            (e: unknown) => e instanceof pg.DatabaseError && e.code === '23505',
          );
        });
        assert.equal(await assertGapless(store, id), 2);
      } finally {
        await store.close();
      }
    });

    test('bad URLs and an unreachable server give typed errors', async () => {
      for (const url of [
        'postgres://[not-a-host',
        'postgres://u@127.0.0.1/test?schema=Bad-Name',
        'postgres://u@127.0.0.1/test?pool_size=0',
        'postgres:///test',
      ]) {
        await assert.rejects(openStore(url, '/tmp'), isCode(ErrorCode.INVALID_ARGUMENT), url);
      }
      await assert.rejects(openStore('mysql://u@h/db', '/tmp'), isCode(ErrorCode.INVALID_ARGUMENT));
      assert.equal(redactStoreUrl('postgres://u:secret@h:5432/db?schema=x'), 'postgres://u:***@h:5432/db?schema=x');
      assert.equal(redactStoreUrl('sqlite:/data/p.db'), 'sqlite:/data/p.db');
      // A port nobody listens on: connection refused, reported as retryable.
      const probe = createServer();
      await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
      const { port } = probe.address() as { port: number };
      await new Promise((resolve) => probe.close(resolve));
      const store = await openStore(
        schemaUrl(schemas.fresh(), `postgres://postgres@127.0.0.1:${String(port)}/test`),
        '/tmp',
      );
      await assert.rejects(store.migrate(), (e: unknown) => {
        assert.ok(e instanceof ParleyError);
        assert.equal(e.code, ErrorCode.UNAVAILABLE);
        assert.match(e.message, /127\.0\.0\.1:\d+\/test is unavailable/);
        return true;
      });
      await assert.rejects(store.appendMessages([message('c', 'a', 'x')]), isCode(ErrorCode.UNAVAILABLE));
      await store.close();
      const missingDb = new PostgresStore(`postgres://postgres@127.0.0.1:5432/parley_no_such_db_${schemas.run}`);
      await assert.rejects(missingDb.migrate(), isCode(ErrorCode.UNAVAILABLE));
      await missingDb.close();
    });

    test(
      'a connection cut mid-batch rejects appends UNAVAILABLE, never acks falsely, and recovers',
      { timeout: 120_000 },
      async () => {
        const schema = schemas.fresh();
        const direct = await open(schema);
        const proxy = await CuttableProxy.start();
        const proxied = new PostgresStore({
          url: schemaUrl(schema, `postgres://postgres@127.0.0.1:${String(proxy.port)}/test`),
          poolSize: 4,
          connectTimeoutMs: 2000,
        });
        const commits = new GroupCommitter(proxied, new Metrics(), 64);
        try {
          await proxied.migrate();
          const conv = await groupOf(direct, ['s']);
          const acked = new Map<string, number>();
          const failed = new Set<string>();
          const otherErrors: unknown[] = [];
          let sent = 0;
          let stop = false;
          const sender = async (lane: number) => {
            while (!stop) {
              const input = message(conv, 's', `m-${String(lane)}-${String(++sent)}`);
              try {
                acked.set(input.clientMessageId, seqOf(await commits.append(input)));
              } catch (err) {
                if (isCode(ErrorCode.UNAVAILABLE)(err)) failed.add(input.clientMessageId);
                else otherErrors.push(err);
                await new Promise((r) => setTimeout(r, 5));
              }
            }
          };
          const senders = Array.from({ length: 16 }, (_, lane) => sender(lane));

          await waitFor('acks before the cut', () => acked.size >= 300);
          proxy.cut();
          await waitFor('a rejected append', () => failed.size >= 20);
          const ackedWhileDown = acked.size;
          await new Promise((r) => setTimeout(r, 200));
          assert.equal(acked.size, ackedWhileDown, 'no ack while the database is unreachable');
          proxy.restore();
          await waitFor('acks after recovery', () => acked.size >= ackedWhileDown + 300, 60_000);
          stop = true;
          await Promise.all(senders);
          await commits.drain();
          assert.deepEqual(otherErrors, []);

          // Every ack names a stored message at that seq; seqs stay gapless through the cut.
          for (const [clientMessageId, seq] of acked) {
            assert.equal((await direct.getMessage(conv, seq))?.clientMessageId, clientMessageId);
          }
          // A rejected append may or may not have committed (the COMMIT's answer was lost):
          // resending it is what a client does, and it is stored exactly once.
          const resent = await direct.appendMessages([...failed].map((id) => message(conv, 's', id)));
          for (const r of resent) seqOf(r);
          assert.equal(await assertGapless(direct, conv), acked.size + failed.size);
        } finally {
          await commits.drain();
          await proxied.close();
          await proxy.close();
          await direct.close();
        }
      },
    );

    test(
      'a server on a postgres:// store: two clients chat; an outage is a retryable error',
      { timeout: 60_000 },
      async () => {
        const schema = schemas.fresh();
        const proxy = await CuttableProxy.start();
        const ts = await TestServer.start({
          store: schemaUrl(schema, `postgres://postgres@127.0.0.1:${String(proxy.port)}/test`),
        });
        const [alice, bob] = [await ts.login('pg-alice'), await ts.login('pg-bob')];
        const text = (t: string) => ({ type: pb.MessageType.TEXT, text: t });
        const ready = async () => (await fetch(`http://127.0.0.1:${String(ts.port('ws'))}/readyz`)).status;
        try {
          const created = await alice.request(Command.CONV_CREATE, {
            type: pb.ConversationType.DIRECT,
            memberIds: ['pg-bob'],
          });
          const conversationId = created.state?.conversation?.conversationId ?? '';
          for (let i = 1; i <= 3; i++) {
            const ack = await alice.request(Command.SEND, {
              conversationId,
              clientMessageId: `pg-${String(i)}`,
              content: text(`hello ${String(i)}`),
            });
            assert.equal(ack.seq, i);
            const push = await bob.nextPush(Command.MESSAGE);
            assert.equal(push.message?.content?.text, `hello ${String(i)}`);
          }
          const resend = await alice.request(Command.SEND, {
            conversationId,
            clientMessageId: 'pg-2',
            content: text('hello 2'),
          });
          assert.equal(resend.seq, 2);
          const read = await bob.request(Command.CURSOR, { conversationId, kind: pb.CursorKind.READ, seq: 3 });
          assert.equal(read.unread, 0);
          const receipt = await alice.nextPush(Command.CURSOR, { where: (p) => p.kind === pb.CursorKind.READ });
          assert.equal(receipt.seq, 3);

          proxy.cut();
          const during = { conversationId, clientMessageId: 'pg-4', content: text('while down') };
          await assert.rejects(alice.request(Command.SEND, during), (e: unknown) => {
            assert.ok(e instanceof ParleyError);
            assert.equal(e.code, ErrorCode.UNAVAILABLE);
            assert.ok(((e.cause as { retryAfterMs?: number }).retryAfterMs ?? 0) > 0, 'the status says when to retry');
            return true;
          });
          assert.equal(await ready(), 503);
          proxy.restore();
          await waitFor('readiness after the outage', async () => (await ready()) === 200);
          const retried = await alice.request(Command.SEND, during);
          assert.equal(retried.seq, 4);
          assert.equal((await bob.nextPush(Command.MESSAGE)).message?.content?.text, 'while down');
        } finally {
          alice.destroy();
          bob.destroy();
          await ts.stop();
          await proxy.close();
        }
      },
    );
  });
}
