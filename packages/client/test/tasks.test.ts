import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { Command, ErrorCode, ParleyError } from '@parley/protocol';
import { ClientError, ClientErrorCode, type Connection, Priority, isRetryable } from '../src/index.js';
import { tcpTransport } from '../src/node.js';
import {
  FrameProxy,
  Harness,
  closeAll,
  makeConnection,
  next,
  sampleMax,
  sleep,
  waitFor,
} from './connection-harness.js';

const isClientError = (clientCode: string, code?: ErrorCode) => (err: unknown) =>
  err instanceof ClientError && err.clientCode === clientCode && (code === undefined || err.code === code);

const PQ = Command.PRESENCE_QUERY;

describe('tasks: queueing, timeouts, retries, cancellation', () => {
  let h: Harness;
  let proxy: FrameProxy;
  before(async () => {
    h = await Harness.start({ limits: { requestsPerSecond: 10_000, requestBurst: 10_000 } });
  });
  afterEach(async () => {
    closeAll();
    await proxy.close();
  });
  after(async () => {
    await h.close();
  });

  /** A connection through a fresh proxy, with quick retries. */
  function viaProxy(user: string, tasks = {}): Connection {
    return makeConnection(h, user, tcpTransport({ host: '127.0.0.1', port: proxy.port }), {
      tasks: { retryDelayMs: 30, ...tasks },
    });
  }
  async function connected(user: string, tasks = {}): Promise<Connection> {
    proxy = await FrameProxy.start(h.port('tcp'));
    const conn = viaProxy(user, tasks);
    conn.connect();
    await conn.ready();
    return conn;
  }
  const queries = () => proxy.seen('up', PQ);

  test('tasks made while offline wait, then go out once connected', async () => {
    proxy = await FrameProxy.start(h.port('tcp'));
    const conn = viaProxy('offline');
    const pending = [conn.request(PQ, { userIds: ['offline'] }), conn.request(PQ, { userIds: ['offline'] })];
    await sleep(50);
    assert.equal(conn.queuedTasks, 2);
    conn.connect();
    const answers = await Promise.all(pending);
    assert.equal(answers[1]?.users[0]?.userId, 'offline');
    assert.equal(conn.queuedTasks, 0);
    assert.equal(conn.inFlightTasks, 0);
  });

  test('a task older than maxAgeMs expires with a typed error; a younger one completes', async () => {
    proxy = await FrameProxy.start(h.port('tcp'));
    const conn = viaProxy('aged');
    const t0 = Date.now();
    const old = conn.request(PQ, { userIds: ['aged'] }, { maxAgeMs: 100 });
    const young = conn.request(PQ, { userIds: ['aged'] }, { maxAgeMs: 10_000 });
    await assert.rejects(old, isClientError(ClientErrorCode.TASK_EXPIRED, ErrorCode.TIMEOUT));
    const waited = Date.now() - t0;
    assert.ok(waited >= 95 && waited < 200, `expired after ${String(waited)} ms`);
    conn.connect();
    assert.equal((await young).users.length, 1);
    assert.equal(queries().length, 1, 'the expired task was never sent');
  });

  test('an unanswered task times out, is retried once, and the late answer to the first try is dropped', async () => {
    const conn = await connected('retry');
    let first = true;
    proxy.delayUp = (f) => (f.command === PQ && first ? ((first = false), 300) : 0);
    const t0 = Date.now();
    const answer = await conn.request(PQ, { userIds: ['retry'] }, { timeoutMs: 100, retries: 1 });
    assert.equal(answer.users[0]?.userId, 'retry');
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 130 && elapsed < 300, `answered after ${String(elapsed)} ms`);
    const [a, b] = queries();
    assert.ok(a && b && a.seq !== b.seq, 'the retry has its own seq');
    await waitFor(() => proxy.seen('down', PQ).length === 2, 1_000, 'the late answer');
    await sleep(20);
    assert.equal(conn.state, 'connected');
    assert.equal(conn.inFlightTasks, 0);
  });

  test('without retries an unanswered task fails with TASK_TIMEOUT', async () => {
    const conn = await connected('timeout');
    proxy.dropUp = (f) => f.command === PQ;
    const t0 = Date.now();
    await assert.rejects(
      conn.request(PQ, { userIds: ['timeout'] }, { timeoutMs: 120, retries: 0 }),
      (err: unknown) => isClientError(ClientErrorCode.TASK_TIMEOUT, ErrorCode.TIMEOUT)(err) && isRetryable(err),
    );
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 115 && elapsed < 250, `timed out after ${String(elapsed)} ms`);
    assert.equal(queries().length, 1);
  });

  test('a non-retryable server error fails at once with its wire code, without retries', async () => {
    const conn = await connected('denied');
    await assert.rejects(
      conn.request(PQ, { userIds: ['a-stranger'] }, { retries: 3 }),
      (err: unknown) =>
        isClientError(ClientErrorCode.SERVER, ErrorCode.PERMISSION_DENIED)(err) &&
        err instanceof ParleyError &&
        err.codeName === 'PERMISSION_DENIED' &&
        !isRetryable(err),
    );
    assert.equal(queries().length, 1);
  });

  test('a body the codec cannot send is refused before it is queued', async () => {
    const conn = await connected('toolarge');
    const huge = Array.from({ length: 20_000 }, () => 'x'.repeat(64));
    await assert.rejects(
      conn.request(PQ, { userIds: huge }),
      (err: unknown) => err instanceof ParleyError && err.code === ErrorCode.MESSAGE_TOO_LARGE,
    );
    assert.equal(conn.queuedTasks, 0);
  });

  test('aborting a queued task rejects it with the reason and it is never sent', async () => {
    proxy = await FrameProxy.start(h.port('tcp'));
    const conn = viaProxy('abort-queued');
    const ac = new AbortController();
    const task = conn.request(PQ, { userIds: ['abort-queued'] }, { signal: ac.signal });
    const reason = new Error('user left the screen');
    ac.abort(reason);
    await assert.rejects(task, (err) => err === reason);
    assert.equal(conn.queuedTasks, 0);
    conn.connect();
    await conn.ready();
    await conn.request(PQ, { userIds: ['abort-queued'] });
    assert.equal(queries().length, 1);
    // An already aborted signal rejects at once.
    await assert.rejects(conn.request(PQ, { userIds: [] }, { signal: AbortSignal.abort() }), { name: 'AbortError' });
  });

  test('aborting an in-flight task rejects it at once and frees its slot', async () => {
    const conn = await connected('abort-inflight', { maxInFlight: 1 });
    proxy.delayUp = (f) => (f.command === PQ ? 200 : 0);
    const ac = new AbortController();
    const task = conn.request(PQ, { userIds: ['abort-inflight'] }, { signal: ac.signal, timeoutMs: 5_000 });
    const behind = conn.request(PQ, { userIds: ['abort-inflight'] });
    await waitFor(() => conn.inFlightTasks === 1 && conn.queuedTasks === 1, 1_000, 'one in flight, one queued');
    ac.abort(new Error('cancelled'));
    await assert.rejects(task, { message: 'cancelled' });
    assert.equal((await behind).users.length, 1);
    await sleep(250); // the late answer to the aborted task arrives and is dropped
    assert.equal(conn.state, 'connected');
  });

  test('higher priority goes first when the queue is flushed; equal priorities keep call order', async () => {
    proxy = await FrameProxy.start(h.port('tcp'));
    const conn = viaProxy('prio', { maxInFlight: 1 });
    const order: string[] = [];
    const add = (name: string, priority: number) =>
      conn.request(PQ, { userIds: ['prio'] }, { priority }).then(() => order.push(name));
    const all = [
      add('low', Priority.LOW),
      add('normal-1', Priority.NORMAL),
      add('high', Priority.HIGH),
      add('normal-2', Priority.NORMAL),
      add('sync', Priority.SYNC),
    ];
    conn.connect();
    await Promise.all(all);
    assert.deepEqual(order, ['sync', 'high', 'normal-1', 'normal-2', 'low']);
  });

  test('no more than maxInFlight requests are outstanding at once', async () => {
    const conn = await connected('cap', { maxInFlight: 3 });
    proxy.delayUp = (f) => (f.command === PQ ? 10 : 0);
    const maxInFlight = sampleMax(() => conn.inFlightTasks);
    const answers = await Promise.all(Array.from({ length: 20 }, () => conn.request(PQ, { userIds: ['cap'] })));
    assert.equal(answers.length, 20);
    assert.equal(maxInFlight(), 3);
    // On the wire too: at no point more than three requests without their answer.
    const events = proxy.frames
      .filter((f) => f.command === PQ)
      .sort((a, b) => a.at - b.at || (a.dir === 'down' ? -1 : 1));
    let outstanding = 0;
    let most = 0;
    for (const f of events) {
      outstanding += f.dir === 'up' ? 1 : -1;
      most = Math.max(most, outstanding);
    }
    assert.ok(most <= 3, `outstanding on the wire: ${String(most)}`);
  });

  test('a task in flight when the link drops is sent again on the next link', async () => {
    const conn = await connected('linklost');
    let dropped = false;
    proxy.dropUp = (f) => f.command === PQ && !dropped && (dropped = true);
    const task = conn.request(PQ, { userIds: ['linklost'] }, { retries: 1, timeoutMs: 5_000 });
    await waitFor(() => dropped && conn.inFlightTasks === 1, 1_000, 'the request in flight');
    const reconnected = next(conn, 'connected');
    proxy.cut();
    await reconnected;
    assert.equal((await task).users[0]?.userId, 'linklost');
    assert.equal(queries().length, 2);
  });

  test('without retries a task in flight when the link drops fails with LINK_LOST', async () => {
    const conn = await connected('linklost0');
    proxy.dropUp = (f) => f.command === PQ;
    const task = conn.request(PQ, { userIds: ['linklost0'] }, { retries: 0, timeoutMs: 5_000 });
    await waitFor(() => conn.inFlightTasks === 1, 1_000, 'the request in flight');
    proxy.cut();
    await assert.rejects(task, isClientError(ClientErrorCode.LINK_LOST, ErrorCode.UNAVAILABLE));
  });

  test('tasks pending when the session is ended for good fail with the kick reason', async () => {
    const conn = await connected('kicked-task');
    proxy.dropUp = (f) => f.command === PQ;
    const task = conn.request(PQ, { userIds: ['kicked-task'] }, { timeoutMs: 5_000 });
    await waitFor(() => conn.inFlightTasks === 1, 1_000, 'the request in flight');
    for (const s of h.sessionsOf('kicked-task')) s.kick(ErrorCode.KICKED_BY_ADMIN, 'test');
    await assert.rejects(task, isClientError(ClientErrorCode.KICKED, ErrorCode.KICKED_BY_ADMIN));
    assert.equal(conn.state, 'closed');
  });
});

describe('tasks: rate limits', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start({ limits: { requestsPerSecond: 10, requestBurst: 2 } });
  });
  afterEach(() => {
    closeAll();
  });
  after(async () => {
    await h.close();
  });

  test('RATE_LIMITED is retried after retry_after_ms; without retries it fails with the hint', async () => {
    const conn = makeConnection(h, 'limited', h.transport('tcp'), { tasks: { retryDelayMs: 1 } });
    conn.connect();
    await conn.ready();
    const noRetry = await Promise.allSettled(
      Array.from({ length: 4 }, () => conn.request(PQ, { userIds: ['limited'] }, { retries: 0 })),
    );
    const refused = noRetry.filter((r) => r.status === 'rejected').map((r) => r.reason as unknown);
    assert.ok(refused.length >= 1);
    for (const err of refused) {
      assert.ok(isClientError(ClientErrorCode.SERVER, ErrorCode.RATE_LIMITED)(err));
      assert.ok((err as ClientError).retryAfterMs > 0);
      assert.ok(isRetryable(err));
    }
    await sleep(400); // refill
    const t0 = Date.now();
    const retried = await Promise.all(
      Array.from({ length: 4 }, () => conn.request(PQ, { userIds: ['limited'] }, { retries: 5 })),
    );
    assert.equal(retried.length, 4);
    assert.ok(Date.now() - t0 >= 100, 'the over-limit requests waited for their retry_after_ms');
  });
});
