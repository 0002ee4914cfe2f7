import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { Command, ErrorCode, pb } from '@parley/protocol';
import { ClientError, ClientErrorCode, type ConnectionState, FixedHeartbeat } from '../src/index.js';
import { tcpTransport } from '../src/node.js';
import {
  CountingTransport,
  FrameProxy,
  Harness,
  KINDS,
  RecordingPolicy,
  closeAll,
  codec,
  freePort,
  makeConnection,
  next,
  sampleMax,
  sleep,
  waitFor,
} from './connection-harness.js';

const isClientError = (clientCode: string, code?: ErrorCode) => (err: unknown) =>
  err instanceof ClientError && err.clientCode === clientCode && (code === undefined || err.code === code);

describe('connection: login, states and session', () => {
  let h: Harness;
  const proxies: FrameProxy[] = [];
  before(async () => {
    h = await Harness.start();
  });
  afterEach(async () => {
    closeAll();
    for (const p of proxies.splice(0)) await p.close();
  });
  after(async () => {
    await h.close();
  });

  test('logs in with device, platform, client version, heartbeat interval and resume version', async () => {
    const proxy = await FrameProxy.start(h.port('tcp'));
    proxies.push(proxy);
    const conn = makeConnection(h, 'life', tcpTransport({ host: '127.0.0.1', port: proxy.port }), {
      deviceId: 'life-device',
      clientVersion: 'test-suite/1',
      conversationVersion: () => 7,
      heartbeat: new FixedHeartbeat({ intervalMs: 4_000, pingTimeoutMs: 1_000 }),
    });
    const states: ConnectionState[] = [];
    conn.on('state', (s) => states.push(s));
    assert.equal(conn.state, 'idle');
    conn.connect();
    const session = await conn.ready({ timeoutMs: 5_000 });
    assert.deepEqual(states, ['connecting', 'authenticating', 'connected']);
    assert.equal(session.userId, 'life');
    assert.equal(session.reconnected, false);
    assert.equal(session.heartbeatIntervalMs, 4_000);
    assert.equal(session.transport, 'tcp');
    assert.ok(session.sessionId.length > 0);
    assert.ok(session.limits.maxFrameBytes > 0);
    assert.ok(Math.abs(session.clockOffsetMs) < 1_000);

    const logins = proxy.seen('up', Command.LOGIN);
    assert.equal(logins.length, 1);
    const login = codec.decodeRequest(Command.LOGIN, logins[0]!.frame);
    assert.equal(login.deviceId, 'life-device');
    assert.equal(login.platform, pb.Platform.DESKTOP);
    assert.equal(login.clientVersion, 'test-suite/1');
    assert.equal(login.heartbeatIntervalMs, 4_000);
    assert.equal(login.appState, pb.AppState.FOREGROUND);
    assert.equal(login.resume?.conversationVersion, 7);
    const [serverSession] = h.sessionsOf('life');
    assert.equal(serverSession?.heartbeatMs, 4_000);
    assert.equal(serverSession?.deviceId, 'life-device');
  });

  test('close() stops for good, fails pending tasks, and connect() starts again', async () => {
    const counting = new CountingTransport(h.transport('tcp'));
    const conn = makeConnection(h, 'closer', counting);
    const queued = conn.request(Command.PRESENCE_QUERY, { userIds: ['x'] }); // waits: not connected yet
    conn.close();
    await assert.rejects(queued, isClientError(ClientErrorCode.CLOSED));
    assert.equal(conn.state, 'closed');
    await assert.rejects(
      conn.request(Command.PRESENCE_QUERY, { userIds: ['x'] }),
      isClientError(ClientErrorCode.CLOSED),
    );
    await assert.rejects(conn.ready(), isClientError(ClientErrorCode.CLOSED));

    conn.connect();
    await conn.ready();
    const answer = await conn.request(Command.PRESENCE_QUERY, { userIds: ['closer'] });
    assert.equal(answer.users.length, 1);
    conn.close();
    assert.equal(counting.live, 0);
    await sleep(100);
    assert.equal(counting.dials, 1);
    assert.equal(h.liveSessions(), 0);
  });

  test('an expired token is renewed and the login retried without a visible failure', async () => {
    let calls = 0;
    const conn = makeConnection(h, 'tok', h.transport('tcp'), {
      token: () => (++calls === 1 ? h.token('tok', { ttlSeconds: -60 }) : h.token('tok')),
    });
    const states: ConnectionState[] = [];
    const errors: Error[] = [];
    conn.on('state', (s) => states.push(s));
    conn.on('error', (e) => errors.push(e));
    conn.connect();
    await conn.ready();
    assert.equal(calls, 2);
    assert.deepEqual(errors, []);
    assert.deepEqual(states, ['connecting', 'authenticating', 'connected']);
  });

  test('a token that expires during the session is renewed on the next reconnect', async () => {
    let calls = 0;
    const conn = makeConnection(h, 'tok2', h.transport('tcp'), {
      token: () => h.token('tok2', { ttlSeconds: ++calls === 1 ? 1 : 3600 }),
    });
    const errors: Error[] = [];
    conn.on('error', (e) => errors.push(e));
    conn.connect();
    await conn.ready();
    assert.equal(calls, 1);
    await sleep(2_100); // the cached token is now expired
    const reconnected = next(conn, 'connected');
    for (const s of h.sessionsOf('tok2')) s.kick(ErrorCode.SLOW_CONSUMER, 'test: drop the link');
    const [session] = await reconnected;
    assert.equal(session.reconnected, true);
    assert.equal(calls, 2);
    assert.deepEqual(errors, []);
  });

  test('a token refused twice is reported, and the connection keeps retrying with backoff', async () => {
    let calls = 0;
    const conn = makeConnection(h, 'badtok', h.transport('tcp'), {
      token: () => (++calls <= 3 ? Promise.resolve('not-a-jwt') : h.token('badtok')),
    });
    const errors: Error[] = [];
    conn.on('error', (e) => errors.push(e));
    conn.connect();
    await conn.ready();
    assert.equal(calls, 4);
    assert.equal(errors.length, 1);
    assert.ok(isClientError(ClientErrorCode.LOGIN_FAILED, ErrorCode.TOKEN_INVALID)(errors[0]));
  });

  test('a failing token provider is reported and retried', async () => {
    let calls = 0;
    const conn = makeConnection(h, 'provider', h.transport('tcp'), {
      token: () => (++calls === 1 ? Promise.reject(new Error('app server down')) : h.token('provider')),
    });
    const errors: Error[] = [];
    conn.on('error', (e) => errors.push(e));
    conn.connect();
    await conn.ready();
    assert.equal(calls, 2);
    assert.ok(isClientError(ClientErrorCode.TOKEN_PROVIDER)(errors[0]));
  });

  test('a longer heartbeat interval is declared to the server before it is used', async () => {
    const policy = new RecordingPolicy(150, 1_000);
    const conn = makeConnection(h, 'declare', h.transport('tcp'), { heartbeat: policy });
    conn.connect();
    await conn.ready();
    const [s] = h.sessionsOf('declare');
    assert.equal(s?.heartbeatMs, 150);
    policy.interval = 400;
    await waitFor(() => s?.heartbeatMs === 400, 2_000, 'SESSION_UPDATE with 400 ms');
  });

  test('app state goes to the server and the heartbeat policy', async () => {
    const policy = new RecordingPolicy(10_000, 1_000);
    const conn = makeConnection(h, 'appstate', h.transport('tcp'), { heartbeat: policy });
    conn.connect();
    await conn.ready();
    conn.setAppState(pb.AppState.BACKGROUND);
    const [s] = h.sessionsOf('appstate');
    await waitFor(() => s?.appState === pb.AppState.BACKGROUND, 2_000, 'app state on the server');
    assert.ok(policy.calls.includes('app:background'));
  });
});

describe('connection: reconnecting', () => {
  let h: Harness;
  const proxies: FrameProxy[] = [];
  before(async () => {
    h = await Harness.start();
  });
  afterEach(async () => {
    closeAll();
    for (const p of proxies.splice(0)) await p.close();
  });
  after(async () => {
    await h.close();
  });

  for (const kind of KINDS) {
    test(`reconnects by itself after a server restart over ${kind}, one socket at a time, and completes queued tasks`, async () => {
      const counting = new CountingTransport(h.transport(kind));
      const user = `restart-${kind}`;
      const conn = makeConnection(h, user, counting);
      conn.connect();
      await conn.ready();
      const maxLive = sampleMax(() => counting.live);
      const maxServerSessions = sampleMax(() => h.liveSessions());

      const disconnected = next(conn, 'disconnected');
      await h.stop();
      const [info] = await disconnected;
      assert.ok(isClientError(ClientErrorCode.GOAWAY, ErrorCode.SHUTTING_DOWN)(info.error), String(info.error));
      assert.equal(info.wasConnected, true);

      const order: number[] = [];
      const tasks = [1, 2, 3].map((i) =>
        conn.request(Command.PRESENCE_QUERY, { userIds: [user] }, { maxAgeMs: 10_000 }).then((answer) => {
          order.push(i);
          return answer;
        }),
      );
      await sleep(300); // several refused attempts
      assert.notEqual(conn.state, 'connected');
      assert.ok(counting.dials >= 3, `dials while down: ${String(counting.dials)}`);
      assert.equal(conn.queuedTasks, 3);

      const reconnected = next(conn, 'connected');
      await h.restart();
      const [session] = await reconnected;
      assert.equal(session.reconnected, true);
      const answers = await Promise.all(tasks);
      assert.deepEqual(
        answers.map((a) => a.users[0]?.userId),
        [user, user, user],
      );
      assert.deepEqual(order, [1, 2, 3]);
      await sleep(50);
      assert.equal(maxLive(), 1, 'never more than one socket alive on the client');
      assert.ok(maxServerSessions() <= 1, 'never more than one session on the server');
      assert.equal(h.liveSessions(), 1);
      assert.equal(h.sessionsOf(user).length, 1);
    });
  }

  test('backoff grows exponentially with full jitter up to its cap', async () => {
    const port = await freePort();
    const conn = makeConnection(h, 'backoff', tcpTransport({ host: '127.0.0.1', port }), {
      backoff: { baseMs: 10, capMs: 80, random: () => 0.5 },
    });
    const delays: number[] = [];
    conn.on('disconnected', (info) => {
      if (info.reconnectInMs !== undefined) delays.push(info.reconnectInMs);
    });
    conn.connect();
    await waitFor(() => delays.length >= 6, 3_000, 'six attempts');
    conn.close();
    assert.deepEqual(delays.slice(0, 6), [5, 10, 20, 40, 40, 40]);
  });

  test('networkChanged() retries at once while backing off', async () => {
    const port = await freePort();
    const policy = new RecordingPolicy(10_000, 1_000);
    const conn = makeConnection(h, 'netchange', tcpTransport({ host: '127.0.0.1', port }), {
      backoff: { baseMs: 20_000, capMs: 20_000, random: () => 0.99 },
      heartbeat: policy,
    });
    conn.connect();
    const [info] = await next(conn, 'disconnected');
    assert.ok((info.reconnectInMs ?? 0) > 10_000);
    proxies.push(await FrameProxy.start(h.port('tcp'), port)); // the network is back
    const t0 = Date.now();
    conn.networkChanged('wifi:test');
    await conn.ready({ timeoutMs: 2_000 });
    assert.ok(Date.now() - t0 < 1_000);
    assert.ok(policy.calls.includes('net:wifi:test'));
  });

  test("the browser's online event retries at once while backing off", async () => {
    const port = await freePort();
    const listeners = new Map<string, () => void>();
    const g = globalThis as { addEventListener?: unknown; removeEventListener?: unknown };
    g.addEventListener = (type: string, fn: () => void) => listeners.set(type, fn);
    g.removeEventListener = (type: string) => listeners.delete(type);
    try {
      const conn = makeConnection(h, 'online', tcpTransport({ host: '127.0.0.1', port }), {
        backoff: { baseMs: 20_000, capMs: 20_000, random: () => 0.99 },
      });
      conn.connect();
      await next(conn, 'disconnected');
      proxies.push(await FrameProxy.start(h.port('tcp'), port));
      listeners.get('online')?.();
      await conn.ready({ timeoutMs: 2_000 });
      conn.close();
      assert.equal(listeners.has('online'), false, 'listener removed on close');
    } finally {
      delete g.addEventListener;
      delete g.removeEventListener;
    }
  });

  test('networkChanged() while connected checks the link with a PING', async () => {
    const proxy = await FrameProxy.start(h.port('tcp'));
    proxies.push(proxy);
    const conn = makeConnection(h, 'probe', tcpTransport({ host: '127.0.0.1', port: proxy.port }));
    conn.connect();
    await conn.ready();
    const probe = next(conn, 'heartbeat');
    conn.networkChanged();
    const [info] = await probe;
    assert.equal(info.ok, true);
    assert.equal(info.kind, 'probe');
    assert.equal(proxy.seen('up', Command.PING).length, 1);
  });

  test('GOAWAY: reconnects after its delay plus jitter', async () => {
    const conn = makeConnection(h, 'goaway', h.transport('tcp'));
    conn.connect();
    await conn.ready();
    const goaway = next(conn, 'goaway');
    const disconnected = next(conn, 'disconnected');
    const reconnected = next(conn, 'connected');
    const t0 = Date.now();
    for (const s of h.sessionsOf('goaway')) s.goAway(300, 'test drain');
    const [g] = await goaway;
    assert.equal(g.reconnectDelayMs, 300);
    const [info] = await disconnected;
    assert.ok(isClientError(ClientErrorCode.GOAWAY)(info.error));
    assert.ok(info.reconnectInMs! >= 300 && info.reconnectInMs! < 300 + 20, String(info.reconnectInMs));
    await reconnected;
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 300, `reconnected after ${String(elapsed)} ms`);
    assert.ok(elapsed < 800, `reconnected after ${String(elapsed)} ms`);
  });

  for (const reason of [ErrorCode.REPLACED_BY_DEVICE, ErrorCode.KICKED_BY_ADMIN, ErrorCode.LOGGED_OUT]) {
    test(`KICK ${pb.ErrorCode[reason]}: no automatic reconnect`, async () => {
      const user = `kick-${String(reason)}`;
      const counting = new CountingTransport(h.transport('tcp'));
      const conn = makeConnection(h, user, counting, { deviceId: `${user}-device` });
      conn.connect();
      await conn.ready();
      const kicked = next(conn, 'kicked');
      if (reason === ErrorCode.REPLACED_BY_DEVICE) {
        const other = makeConnection(h, user, h.transport('tcp'), { deviceId: `${user}-device` });
        other.connect();
        await other.ready();
      } else if (reason === ErrorCode.LOGGED_OUT) {
        await conn.logout();
      } else {
        for (const s of h.sessionsOf(user)) s.kick(reason, 'test');
      }
      if (reason !== ErrorCode.LOGGED_OUT) {
        const [kick] = await kicked;
        assert.equal(kick.reason, reason);
      }
      await waitFor(() => conn.state === 'closed', 2_000, 'closed');
      const dials = counting.dials;
      await sleep(300);
      assert.equal(conn.state, 'closed');
      assert.equal(counting.dials, dials, 'no new attempt');
      assert.equal(counting.live, 0);
      if (reason !== ErrorCode.LOGGED_OUT) {
        assert.ok(isClientError(ClientErrorCode.KICKED, reason)(conn.closeError));
        await assert.rejects(
          conn.request(Command.PRESENCE_QUERY, { userIds: [] }),
          isClientError(ClientErrorCode.KICKED),
        );
      }
    });
  }

  test('a KICK that allows reconnecting (SLOW_CONSUMER) is followed by a reconnect', async () => {
    const conn = makeConnection(h, 'softkick', h.transport('tcp'));
    conn.connect();
    await conn.ready();
    const reconnected = next(conn, 'connected');
    for (const s of h.sessionsOf('softkick')) s.kick(ErrorCode.SLOW_CONSUMER, 'test');
    const [session] = await reconnected;
    assert.equal(session.reconnected, true);
  });
});

describe('connection: heartbeats and dead links', () => {
  let h: Harness;
  const proxies: FrameProxy[] = [];
  before(async () => {
    h = await Harness.start();
  });
  afterEach(async () => {
    closeAll();
    for (const p of proxies.splice(0)) await p.close();
  });
  after(async () => {
    await h.close();
  });

  test('PINGs go out only when nothing was sent for the interval', async () => {
    const proxy = await FrameProxy.start(h.port('tcp'));
    proxies.push(proxy);
    const policy = new RecordingPolicy(100, 1_000);
    const conn = makeConnection(h, 'idle', tcpTransport({ host: '127.0.0.1', port: proxy.port }), {
      heartbeat: policy,
    });
    conn.connect();
    await conn.ready();
    // Busy: a request every 40 ms for 600 ms, so the link is never idle for 100 ms.
    const busyFrom = Date.now();
    while (Date.now() - busyFrom < 600) {
      await conn.request(Command.PRESENCE_QUERY, { userIds: ['idle'] });
      await sleep(40);
    }
    const busyUntil = Date.now();
    assert.equal(proxy.seen('up', Command.PING).filter((f) => f.at >= busyFrom && f.at <= busyUntil).length, 0);
    // Idle: a PING about every 100 ms.
    await sleep(650);
    const pings = proxy.seen('up', Command.PING).filter((f) => f.at > busyUntil);
    assert.ok(pings.length >= 4 && pings.length <= 7, `pings while idle: ${String(pings.length)}`);
    for (let i = 1; i < pings.length; i++) assert.ok(pings[i]!.at - pings[i - 1]!.at >= 95);
    assert.ok(policy.successes.length >= 4);
    assert.ok(
      policy.successes.every((idle) => idle >= 95 && idle <= 200),
      String(policy.successes),
    );
    // The policy learns the app state when installed, then the link comes up.
    assert.deepEqual(policy.calls.slice(0, 2), ['app:foreground', 'up']);
  });

  test('a silent dead link is detected within one ping timeout of the unanswered PING, then replaced', async () => {
    const proxy = await FrameProxy.start(h.port('tcp'));
    proxies.push(proxy);
    const policy = new RecordingPolicy(150, 300);
    const counting = new CountingTransport(tcpTransport({ host: '127.0.0.1', port: proxy.port }));
    const conn = makeConnection(h, 'dead', counting, { heartbeat: policy });
    conn.connect();
    await conn.ready();
    await sleep(400);
    assert.ok(policy.successes.length >= 1);
    const maxLive = sampleMax(() => counting.live);
    const t0 = Date.now();
    const disconnected = next(conn, 'disconnected');
    proxy.blackhole();
    const [info] = await disconnected;
    const detectedAt = Date.now();
    assert.ok(isClientError(ClientErrorCode.PING_TIMEOUT)(info.error), String(info.error));
    const lastPing = proxy.seen('up', Command.PING).at(-1)!;
    const sincePing = detectedAt - lastPing.at;
    assert.ok(sincePing >= 290 && sincePing <= 380, `detected ${String(sincePing)} ms after the PING`);
    assert.ok(detectedAt - t0 <= 150 + 300 + 80, `detected ${String(detectedAt - t0)} ms after the link died`);
    assert.deepEqual(policy.failures.at(-1)?.cause, 'timeout');
    const [session] = await next(conn, 'connected');
    assert.equal(session.reconnected, true);
    assert.equal(maxLive(), 1);
    assert.equal(proxy.connections, 2);
  });

  test('a request that times out triggers a liveness probe that finds the dead link', async () => {
    const proxy = await FrameProxy.start(h.port('tcp'));
    proxies.push(proxy);
    const policy = new RecordingPolicy(10_000, 200);
    const conn = makeConnection(h, 'suspect', tcpTransport({ host: '127.0.0.1', port: proxy.port }), {
      heartbeat: policy,
    });
    conn.connect();
    await conn.ready();
    proxy.blackhole();
    const t0 = Date.now();
    const disconnected = next(conn, 'disconnected');
    const task = conn.request(Command.PRESENCE_QUERY, { userIds: ['x'] }, { timeoutMs: 100, retries: 0 });
    await assert.rejects(task, isClientError(ClientErrorCode.TASK_TIMEOUT, ErrorCode.TIMEOUT));
    const [info] = await disconnected;
    assert.ok(isClientError(ClientErrorCode.PING_TIMEOUT)(info.error));
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 300 && elapsed < 500, `dead link found after ${String(elapsed)} ms`);
    assert.equal(policy.failures.length, 0, 'a probe is not a heartbeat measurement');
  });
});
