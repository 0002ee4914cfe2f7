// SqliteStore: the shared Store contract on a real file and in memory, plus what only SQLite
// has: pragmas, migrations, restarts, a kill -9 mid-write and two processes on one file.
// This file is also the child those last tests spawn (PARLEY_STORE_CHILD selects the mode).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ErrorCode, ParleyError } from '@parley/protocol';
import Database from 'better-sqlite3';
import { SCHEMA_VERSION } from '../src/store/sqlite/migrations.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { assertGapless, groupOf, seqOf } from './helpers/store-fixtures.js';
import { message, storeContract } from './store-contract.js';

interface ChildTask {
  path: string;
  conversationId: string;
  senderId: string;
  /** Messages to append, then exit; 0 = append until killed. */
  count: number;
  batch: number;
}

async function open(path: string): Promise<SqliteStore> {
  const store = new SqliteStore(path);
  await store.migrate();
  return store;
}

/** The child: appends and prints "seq clientMessageId" for each ack, only after it resolved. */
async function child(task: ChildTask): Promise<void> {
  const store = await open(task.path);
  for (let sent = 0; task.count === 0 || sent < task.count;) {
    const n = task.count === 0 ? task.batch : Math.min(task.batch, task.count - sent);
    const batch = Array.from({ length: n }, (_, i) =>
      message(task.conversationId, task.senderId, `${task.senderId}-${String(sent + i)}`),
    );
    const results = await store.appendMessages(batch);
    const lines = results.map((r, i) => `${String(seqOf(r))} ${batch[i]!.clientMessageId}\n`).join('');
    writeSync(1, lines);
    sent += n;
  }
  await store.close();
}

const childTask = process.env.PARLEY_STORE_CHILD;
if (childTask) {
  await child(JSON.parse(childTask) as ChildTask);
} else {
  registerTests();
}

function spawnChild(task: ChildTask) {
  const env: NodeJS.ProcessEnv = { ...process.env, PARLEY_STORE_CHILD: JSON.stringify(task) };
  delete env.NODE_TEST_CONTEXT;
  const proc = spawn(
    process.execPath,
    ['--conditions=@parley/source', '--import', 'tsx', fileURLToPath(import.meta.url)],
    {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const acks: { seq: number; clientMessageId: string }[] = [];
  let buffered = '';
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      const [seq = '', clientMessageId = ''] = line.split(' ');
      acks.push({ seq: Number(seq), clientMessageId });
    }
  });
  const exited = once(proc, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return { proc, acks, exited };
}

function registerTests(): void {
  const root = mkdtempSync(join(tmpdir(), 'parley-store-'));
  let files = 0;
  const nextPath = () => join(root, `db-${String(++files)}.sqlite`);
  after(() => {
    rmSync(root, { recursive: true, force: true });
  });

  storeContract('SqliteStore on a file', () => open(nextPath()), {
    reopen: async (store) => {
      assert.ok(store instanceof SqliteStore);
      await store.close();
      return open(store.path);
    },
  });
  storeContract('SqliteStore in memory', () => open(':memory:'));

  describe('SqliteStore specifics', () => {
    test('runs in WAL mode with synchronous = FULL, foreign keys and a busy timeout', async () => {
      const store = await open(nextPath());
      assert.deepEqual(store.settings(), {
        journalMode: 'wal',
        synchronous: 2,
        foreignKeys: true,
        busyTimeoutMs: 5000,
      });
      await store.close();
    });

    test('creates the parent directory of its file', async () => {
      const path = join(root, 'nested', 'deeper', 'parley.db');
      const store = await open(path);
      await store.close();
      const raw = new Database(path, { readonly: true });
      assert.equal(raw.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      raw.close();
    });

    test('migrations are idempotent and keep data', async () => {
      const path = nextPath();
      const first = await open(path);
      await first.migrate();
      const id = await groupOf(first, ['a']);
      await first.appendMessages([message(id, 'a', 'm1')]);
      const second = await open(path); // a second connection migrates the same file
      assert.equal((await second.getConversation(id))?.lastSeq, 1);
      await second.close();
      await first.close();
      const third = await open(path);
      assert.equal((await third.getMessage(id, 1))?.clientMessageId, 'm1');
      await third.close();
    });

    test('refuses use before migrate, and a schema newer than this build', async () => {
      const path = nextPath();
      const early = new SqliteStore(path);
      await assert.rejects(
        early.getConversation('x'),
        (e: unknown) => e instanceof ParleyError && e.code === ErrorCode.UNAVAILABLE,
      );
      await early.close();
      const raw = new Database(path);
      raw.pragma(`user_version = ${String(SCHEMA_VERSION + 1)}`);
      raw.close();
      const late = new SqliteStore(path);
      await assert.rejects(late.migrate(), /newer than this build/);
      await late.close();
    });

    test('enforces idempotency in the schema, not only in code', async () => {
      const path = nextPath();
      const store = await open(path);
      const id = await groupOf(store, ['a']);
      await store.appendMessages([message(id, 'a', 'once')]);
      const raw = new Database(path);
      assert.throws(
        () =>
          raw
            .prepare(
              `INSERT INTO messages (conversation_id, seq, message_id, sender_id, sender_device_id, client_message_id,
                 server_time, type, content) VALUES (?, 2, 'other', 'a', 'd', 'once', 1, 1, x'')`,
            )
            .run(id),
        (e: unknown) => e instanceof Error && 'code' in e && e.code === 'SQLITE_CONSTRAINT_UNIQUE',
      );
      raw.close();
      await store.close();
    });

    test('a reused message id fails its item alone; the rest of the batch commits', async () => {
      const store = await open(nextPath());
      const id = await groupOf(store, ['a']);
      const first = message(id, 'a', 'c1');
      const results = await store.appendMessages([
        first,
        message(id, 'a', 'c2', { messageId: first.messageId }),
        message(id, 'a', 'c3'),
      ]);
      assert.equal(seqOf(results[0]), 1);
      assert.equal(results[1]?.ok, false);
      assert.equal(seqOf(results[2]), 2);
      assert.equal(await assertGapless(store, id), 2);
      await store.close();
    });

    test('the version counter only grows, across restarts too', async () => {
      const path = nextPath();
      let store = await open(path);
      const id = await groupOf(store, ['a', 'b']);
      const versions: number[] = [];
      for (let i = 0; i < 5; i++) {
        const [r] = await store.appendMessages([message(id, 'a', `v${String(i)}`)]);
        assert.ok(r?.ok);
        versions.push(r.conversationVersion);
        versions.push((await store.updateCursor(id, 'b', 'read', i + 1)).version);
      }
      await store.close();
      store = await open(path);
      versions.push((await store.updateMember(id, 'b', { notificationsMuted: true })).version);
      for (let i = 1; i < versions.length; i++)
        assert.ok(versions[i]! > versions[i - 1]!, `versions ${versions.join(',')}`);
      await store.close();
    });

    test('a store reopened after close keeps every acked message', async () => {
      const path = nextPath();
      let store = await open(path);
      const ids = [await groupOf(store, ['a']), await groupOf(store, ['a'])];
      const acked = (
        await Promise.all(
          Array.from({ length: 10 }, (_, b) =>
            store.appendMessages(
              Array.from({ length: 64 }, (_, i) => message(ids[i % 2]!, 'a', `r${String(b)}-${String(i)}`)),
            ),
          ),
        )
      ).flat();
      await store.close();
      store = await open(path);
      for (const r of acked) {
        assert.ok(r.ok);
        assert.deepEqual(await store.getMessage(r.message.conversationId, r.message.seq), r.message);
      }
      assert.equal((await assertGapless(store, ids[0]!)) + (await assertGapless(store, ids[1]!)), 640);
      await store.close();
    });

    test('every ack printed before a kill -9 is on disk after restart', { timeout: 60_000 }, async () => {
      const path = nextPath();
      const setup = await open(path);
      const conversationId = await groupOf(setup, ['crasher']);
      await setup.close();

      const { proc, acks, exited } = spawnChild({ path, conversationId, senderId: 'crasher', count: 0, batch: 16 });
      const deadline = Date.now() + 30_000;
      while (acks.length < 400 && Date.now() < deadline && proc.exitCode === null) {
        await new Promise((r) => setTimeout(r, 5));
      }
      proc.kill('SIGKILL');
      const [, signal] = await exited;
      assert.equal(signal, 'SIGKILL');
      assert.ok(acks.length >= 400, `only ${String(acks.length)} acks before the deadline`);

      const store = await open(path);
      for (const ack of acks) {
        const stored = await store.getMessage(conversationId, ack.seq);
        assert.equal(stored?.clientMessageId, ack.clientMessageId, `acked seq ${String(ack.seq)}`);
      }
      assert.ok((await assertGapless(store, conversationId)) >= acks.length);
      await store.close();
    });

    test('two processes appending to one file get gapless, distinct seqs', { timeout: 60_000 }, async () => {
      const path = nextPath();
      const setup = await open(path);
      const conversationId = await groupOf(setup, ['p1', 'p2']);
      await setup.close();

      const children = ['p1', 'p2'].map((senderId) =>
        spawnChild({ path, conversationId, senderId, count: 400, batch: 7 }),
      );
      for (const c of children) assert.deepEqual(await c.exited, [0, null]);
      const seqs = children.flatMap((c) => c.acks.map((a) => a.seq)).sort((x, y) => x - y);
      assert.deepEqual(
        seqs,
        Array.from({ length: 800 }, (_, i) => i + 1),
      );
      const store = await open(path);
      assert.equal(await assertGapless(store, conversationId), 800);
      await store.close();
    });
  });
}
