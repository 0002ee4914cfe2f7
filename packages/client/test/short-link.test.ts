import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { type AddressInfo, type Socket, createServer } from 'node:net';
import { Command, ErrorCode, FrameCodec } from '@parley/protocol';
import {
  ClientErrorCode,
  HttpLink,
  type LinkKind,
  ParleyClient,
  ParleyError,
  ShortLinkError,
  ShortLinkPolicy,
  isRetryable,
  shortLinkUrl,
  shortLinkUrlFromEndpoints,
} from '../src/index.js';
import { nodeWebSocketTransport, tcpTransport } from '../src/node.js';
import { Harness, sleep, waitFor } from './connection-harness.js';
import { UNLIMITED, closeClients, makeClient, orderProblem, texts, waitForStates } from './client-helpers.js';
import { ShortLinkProxy, TcpGate, closedPort } from './helpers/short-link-proxy.js';

describe('short link: URL and policy', () => {
  test('the URL derives from WebSocket and HTTP addresses, not from TCP ones', () => {
    assert.equal(shortLinkUrl('ws://127.0.0.1:7180/ws'), 'http://127.0.0.1:7180/v1/link');
    assert.equal(shortLinkUrl('wss://chat.example.com/ws'), 'https://chat.example.com/v1/link');
    assert.equal(shortLinkUrl('wss://example.com/chat/ws'), 'https://example.com/chat/v1/link');
    assert.equal(shortLinkUrl('https://chat.example.com'), 'https://chat.example.com/v1/link');
    assert.equal(shortLinkUrl('https://gw.example.com/parley/v1/link'), 'https://gw.example.com/parley/v1/link');
    assert.equal(shortLinkUrl('tcp://10.0.0.1:7100'), undefined);
    assert.equal(shortLinkUrl('not a url'), undefined);
    assert.equal(
      shortLinkUrlFromEndpoints({ tcp: ['10.0.0.1:7100'], tls: [], ws: ['ws://10.0.0.1:7180/ws'], ttlSeconds: 60 }),
      'http://10.0.0.1:7180/v1/link',
    );
    assert.equal(shortLinkUrlFromEndpoints({ tcp: ['10.0.0.1:7100'], tls: [], ws: [], ttlSeconds: 60 }), undefined);
  });

  test('ParleyClient: on by default over WebSocket, off over TCP, and a typed error when asked for without a URL', () => {
    const base = { token: () => Promise.resolve('t'), deviceId: 'd1' };
    const ws = new ParleyClient({ ...base, transport: nodeWebSocketTransport({ url: 'ws://127.0.0.1:1/ws' }) });
    assert.equal(ws.shortLink?.url, 'http://127.0.0.1:1/v1/link');
    assert.equal(ws.link, 'long');
    const tcp = new ParleyClient({ ...base, transport: tcpTransport({ host: '127.0.0.1', port: 1 }) });
    assert.equal(tcp.shortLink, undefined);
    const off = new ParleyClient({
      ...base,
      transport: nodeWebSocketTransport({ url: 'ws://127.0.0.1:1/ws' }),
      shortLink: false,
    });
    assert.equal(off.shortLink, undefined);
    assert.throws(
      () => new ParleyClient({ ...base, transport: tcpTransport({ host: '127.0.0.1', port: 1 }), shortLink: {} }),
      (err: unknown) =>
        err instanceof ParleyError && err.code === ErrorCode.INVALID_ARGUMENT && err.message.includes('url'),
    );
  });

  test('policy: short after N failed attempts or T ms down, long again on login, nothing after close', async () => {
    const seen: LinkKind[] = [];
    const byCount = new ShortLinkPolicy({ afterFailures: 3, afterMs: 60_000 }, (l) => seen.push(l));
    byCount.down(Date.now());
    byCount.attemptFailed(Date.now());
    byCount.attemptFailed(Date.now());
    assert.equal(byCount.link, 'long');
    byCount.attemptFailed(Date.now());
    assert.equal(byCount.link, 'short');
    byCount.attemptFailed(Date.now());
    byCount.connected();
    assert.equal(byCount.link, 'long');
    assert.equal(byCount.failures, 0);
    assert.deepEqual(seen, ['short', 'long']);
    byCount.closed();

    const byTime = new ShortLinkPolicy({ afterFailures: 100, afterMs: 40 }, (l) => seen.push(l));
    byTime.down(Date.now());
    await sleep(10);
    byTime.down(Date.now()); // the clock started at the first call
    await sleep(60);
    assert.equal(byTime.link, 'short');
    byTime.closed();
    assert.equal(byTime.link, 'long');

    const closed = new ShortLinkPolicy({ afterFailures: 100, afterMs: 20 }, (l) => seen.push(l));
    closed.down(Date.now());
    closed.closed();
    await sleep(40);
    assert.equal(closed.link, 'long'); // its timer went with the close
    assert.deepEqual(seen, ['short', 'long', 'short', 'long']);
  });
});

describe('short link against a real server', () => {
  let h: Harness;
  let proxy: ShortLinkProxy;
  let gate: TcpGate;
  const codec = new FrameCodec();

  before(async () => {
    h = await Harness.start({ limits: UNLIMITED });
    proxy = await ShortLinkProxy.start(h.port('ws'));
  });
  afterEach(async () => {
    await closeClients();
    await gate?.close();
    proxy.script.length = 0;
    proxy.fallback = 'pass';
  });
  after(async () => {
    await proxy.close();
    await h.close();
  });

  /** Alice behind a gate that drops her long link; her short link goes through the proxy. */
  async function aliceShort(user: string, options: { maxInFlight?: number; token?: () => Promise<string> } = {}) {
    gate = await TcpGate.start(h.port('tcp'));
    const links: LinkKind[] = [];
    const alice = makeClient(h, user, 'tcp', {
      port: gate.port,
      shortLink: { url: proxy.url, afterFailures: 2, afterMs: 10_000, pollMs: 100, timeoutMs: 5_000 },
      ...(options.token ? { token: options.token } : {}),
      ...(options.maxInFlight
        ? {
            connection: {
              backoff: { baseMs: 20, capMs: 200, resetAfterMs: 60_000 },
              tasks: { retryDelayMs: 30, timeoutMs: 2_000, maxInFlight: options.maxInFlight },
              watchOnline: false,
            },
          }
        : {}),
    });
    alice.client.on('link', (l) => links.push(l));
    return { alice, links };
  }

  async function bobOnline(user: string) {
    const bob = makeClient(h, user, 'tcp');
    await bob.client.connect();
    await bob.client.ready();
    return bob;
  }

  test('long link unreachable: sends are acked over HTTP once each; a peer’s messages arrive by sync, in order, once', async () => {
    const bob = await bobOnline('sl-bob-1');
    const conv = (await bob.client.createConversation({ type: 'direct', members: ['sl-alice-1'] })).id;
    const { alice, links } = await aliceShort('sl-alice-1');
    const sendsBefore = proxy.count(Command.SEND);
    await alice.client.connect();
    await waitFor(() => alice.client.link === 'short', 5_000, 'short link');
    assert.deepEqual(links, ['short']);
    assert.notEqual(alice.client.connection.state, 'connected');

    const mine = texts('alice', 20);
    const sent = mine.map((t) => alice.client.send(conv, t));
    await waitForStates(alice.client, sent, ['sent', 'delivered', 'read']);
    const acks = alice.seen.reached('sent');
    assert.equal(acks.size, 20);
    assert.ok([...acks.values()].every((n) => n === 1));
    assert.equal(alice.seen.reached('failed').size, 0);
    assert.equal(proxy.count(Command.SEND) - sendsBefore, 20, 'each message went over HTTP exactly once');
    assert.equal(alice.tap.count(Command.SEND), 0);
    const stored = await h.server.ctx.store.getMessages(conv, 1, 0, 100);
    assert.deepEqual(
      stored.map((m) => m.clientMessageId),
      sent.map((m) => m.localId),
    );
    await waitFor(() => bob.seen.in(conv).length >= 20, 5_000, 'bob got alice’s 20');
    assert.equal(orderProblem(bob.seen.in(conv), mine), undefined);

    // Bob answers over his long link; alice has no push channel and gets them by sync.
    const replies = texts('bob', 10);
    const bobSent = replies.map((t) => bob.client.send(conv, t));
    await waitForStates(bob.client, bobSent, ['sent', 'delivered', 'read']);
    await waitFor(() => alice.seen.in(conv).length >= 30, 5_000, 'alice got bob’s replies');
    await sleep(250); // two more polls: nothing arrives twice
    assert.equal(orderProblem(alice.seen.in(conv), [...mine, ...replies]), undefined);
    // Her device's DELIVERED cursor went over HTTP too: bob sees his messages delivered.
    await waitFor(
      () => bobSent.every((m) => ['delivered', 'read'].includes(bob.client.outbox.get(m.localId)?.state ?? '')),
      5_000,
      'delivered receipts over the short link',
    );
    assert.equal(alice.client.link, 'short');
    assert.ok(alice.client.shortLink && alice.client.shortLink.stats.calls > 0);
  });

  test('requests made in one turn share calls of at most 32 frames; long-link-only requests wait', async () => {
    const bob = await bobOnline('sl-bob-2');
    const conv = (await bob.client.createConversation({ type: 'direct', members: ['sl-alice-2'] })).id;
    const { alice } = await aliceShort('sl-alice-2', { maxInFlight: 64 });
    await alice.client.connect();
    await waitFor(() => alice.client.link === 'short', 5_000, 'short link');
    await sleep(50);
    const sizesBefore = proxy.callSizes.length;
    const answers = await Promise.all(
      Array.from({ length: 40 }, () => alice.client.connection.request(Command.CONV_GET, { conversationId: conv })),
    );
    assert.ok(answers.every((a) => a.state?.conversation?.conversationId === conv));
    const sizes = proxy.callSizes.slice(sizesBefore);
    assert.ok(Math.max(...sizes) <= 32, `a call carried ${String(Math.max(...sizes))} frames`);
    assert.ok(sizes.includes(32), `calls: ${sizes.join(',')}`);
    // ROOM_JOIN needs the long link: it waits in the queue and is never posted.
    let joined = false;
    const join = alice.client.joinRoom('sl-lobby').then(() => (joined = true));
    await sleep(200);
    assert.equal(joined, false);
    assert.equal(proxy.count(Command.ROOM_JOIN), 0);
    gate.mode = 'pass';
    await join;
    assert.equal(alice.client.link, 'long');
  });

  test('when the long link comes back the client switches back, and nothing is sent twice', async () => {
    const bob = await bobOnline('sl-bob-3');
    const conv = (await bob.client.createConversation({ type: 'direct', members: ['sl-alice-3'] })).id;
    const { alice, links } = await aliceShort('sl-alice-3');
    const httpSendsBefore = proxy.count(Command.SEND);
    await alice.client.connect();
    await waitFor(() => alice.client.link === 'short', 5_000, 'short link');
    const expected = texts('m', 30);
    const sent: ReturnType<typeof alice.client.send>[] = [];
    for (const [i, t] of expected.entries()) {
      sent.push(alice.client.send(conv, t));
      if (i === 10) {
        await waitForStates(alice.client, sent.slice(0, 5), ['sent', 'delivered', 'read']);
        gate.mode = 'pass'; // the network heals while sends are going out over HTTP
      }
      if (i % 5 === 0) await sleep(5);
    }
    await waitForStates(alice.client, sent, ['sent', 'delivered', 'read']);
    await waitFor(() => alice.client.link === 'long' && alice.client.connection.state === 'connected', 5_000, 'long');
    assert.deepEqual(links, ['short', 'long']);
    const overHttp = proxy.count(Command.SEND) - httpSendsBefore;
    const overTcp = alice.tap.count(Command.SEND);
    assert.ok(overHttp >= 5, `${String(overHttp)} over HTTP`);
    assert.equal(overHttp + overTcp, 30, `every SEND went out once: ${String(overHttp)} + ${String(overTcp)}`);
    assert.ok([...alice.seen.reached('sent').values()].every((n) => n === 1));
    const stored = await h.server.ctx.store.getMessages(conv, 1, 0, 100);
    assert.equal(stored.length, 30);
    assert.deepEqual(
      stored.map((m) => m.clientMessageId),
      sent.map((m) => m.localId),
    );
    await waitFor(() => bob.seen.in(conv).length >= 30, 5_000, 'bob got 30');
    assert.equal(orderProblem(bob.seen.in(conv), expected), undefined);
    assert.equal(orderProblem(alice.seen.in(conv), expected), undefined);

    // Back on the long link: no more polling, new sends and pushes use it.
    const calls = proxy.callSizes.length;
    const late = alice.client.send(conv, 'after');
    await waitForStates(alice.client, [late], ['sent', 'delivered', 'read']);
    const reply = bob.client.send(conv, 'pushed');
    await waitFor(() => alice.seen.in(conv).length >= 32, 5_000, 'push over the long link');
    await sleep(250);
    assert.equal(proxy.callSizes.length, calls, 'no short-link calls after the switch back');
    assert.equal(alice.seen.in(conv).at(-1)?.content.text, 'pushed');
    assert.ok(reply.seq === undefined || reply.seq > 0);
    assert.equal((await h.server.ctx.store.getMessages(conv, 1, 0, 100)).length, 32);
  });

  test('a send in flight over HTTP when the long link returns is answered there, not sent again', async () => {
    const bob = await bobOnline('sl-bob-6');
    const conv = (await bob.client.createConversation({ type: 'direct', members: ['sl-alice-6'] })).id;
    const { alice, links } = await aliceShort('sl-alice-6');
    await alice.client.connect();
    await waitFor(() => alice.client.link === 'short', 5_000, 'short link');
    await sleep(50);
    proxy.delayMs = 1_000;
    try {
      const sendsBefore = proxy.count(Command.SEND);
      const m = alice.client.send(conv, 'in flight');
      await waitFor(() => proxy.count(Command.SEND) > sendsBefore, 2_000, 'the SEND reached the proxy');
      gate.mode = 'pass';
      await waitFor(() => alice.client.connection.state === 'connected', 2_000, 'long link back');
      assert.deepEqual(links, ['short', 'long']);
      assert.equal(alice.client.outbox.get(m.localId)?.state, 'sending', 'the HTTP answer is still on its way');
      await waitForStates(alice.client, [m], ['sent', 'delivered', 'read']);
      assert.equal(proxy.count(Command.SEND) - sendsBefore, 1);
      assert.equal(alice.tap.count(Command.SEND), 0, 'not resent over the long link');
      assert.equal((await h.server.ctx.store.getMessages(conv, 1, 0, 10)).length, 1);
    } finally {
      proxy.delayMs = 0;
    }
  });

  test('an expired token on the short link is renewed through the token provider, once', async () => {
    const bob = await bobOnline('sl-bob-4');
    const conv = (await bob.client.createConversation({ type: 'direct', members: ['sl-alice-4'] })).id;
    let calls = 0;
    const token = async (): Promise<string> => {
      calls++;
      return calls === 1 ? h.token('sl-alice-4', { ttlSeconds: -10 }) : h.token('sl-alice-4');
    };
    // A refused TCP connect: the long link never gets as far as asking for a token.
    const port = await closedPort();
    const links: LinkKind[] = [];
    const alice = makeClient(h, 'sl-alice-4', 'tcp', {
      port,
      token,
      shortLink: { url: proxy.url, afterFailures: 2, pollMs: 100 },
    });
    alice.client.on('link', (l) => links.push(l));
    const callsBefore = proxy.calls.length;
    await alice.client.connect();
    const m = alice.client.send(conv, 'with a fresh token');
    await waitForStates(alice.client, [m], ['sent', 'delivered', 'read']);
    assert.deepEqual(links, ['short']);
    assert.equal(calls, 2, 'one renewal');
    // Calls already under way with the expired token (up to the 2 at once) got 401; every later one the new token.
    // Only alice's calls: an earlier test's client may still poll through the same proxy.
    const mine = proxy.calls.slice(callsBefore).filter((c) => tokenSubject(c.token) === 'sl-alice-4');
    const statuses = mine.map((c) => c.status);
    const used = mine.map((c) => c.token);
    assert.equal(new Set(used).size, 2);
    const expired = used[0];
    assert.deepEqual(
      statuses.map((s, i) => s === 401 && used[i] === expired),
      statuses.map((s) => s === 401),
    );
    assert.ok(statuses.filter((s) => s === 401).length <= 2);
    assert.deepEqual(alice.seen.errors, [], 'the renewal is not an error the app sees');
    assert.equal((await h.server.ctx.store.getMessages(conv, 1, 0, 10)).length, 1);
  });

  test('5xx and garbage answers: typed retryable errors, the message stays in the outbox, then goes once', async () => {
    const bob = await bobOnline('sl-bob-5');
    const conv = (await bob.client.createConversation({ type: 'direct', members: ['sl-alice-5'] })).id;
    const { alice } = await aliceShort('sl-alice-5');
    proxy.fallback = '500';
    await alice.client.connect();
    await waitFor(() => alice.client.link === 'short', 5_000, 'short link');
    const m = alice.client.send(conv, 'survives');
    const statusesBefore = proxy.statuses.length;
    await waitFor(() => proxy.statuses.length - statusesBefore >= 4, 5_000, 'failed calls');
    proxy.fallback = 'html';
    await waitFor(() => proxy.statuses.length - statusesBefore >= 8, 5_000, 'garbage calls');
    proxy.fallback = 'bad-frames';
    await waitFor(() => proxy.statuses.length - statusesBefore >= 10, 5_000, 'more garbage calls');
    assert.equal(alice.client.outbox.get(m.localId)?.state, 'sending');
    assert.ok((alice.client.outbox.get(m.localId)?.attempts ?? 0) >= 1);
    assert.equal((await h.server.ctx.store.getMessages(conv, 1, 0, 10)).length, 0);
    // 5xx is a routine outage (as a dropped long link): not an app error. A body that is not
    // frames (a portal in the way) is worth one report for the run of failures.
    const reported = alice.seen.errors.filter((e): e is ShortLinkError => e instanceof ShortLinkError);
    assert.deepEqual(
      reported.map((e) => e.status),
      [200],
    );
    assert.match(reported[0]?.message ?? '', /text\/html/);
    const last = alice.client.shortLink?.lastError;
    assert.ok(last instanceof ShortLinkError);
    assert.equal(last.clientCode, ClientErrorCode.SHORT_LINK);
    assert.equal(last.code, ErrorCode.UNAVAILABLE);
    assert.ok(isRetryable(last));
    assert.ok(
      alice.seen.errors.every((e) => e instanceof ShortLinkError),
      alice.seen.errors.map((e) => e.message).join('; '),
    );

    proxy.fallback = 'pass';
    await waitForStates(alice.client, [m], ['sent', 'delivered', 'read']);
    const states = alice.seen.transitions.filter((t) => t.localId === m.localId).map((t) => t.state);
    assert.deepEqual(states.slice(0, 2), ['sending', 'sent']);
    assert.equal(alice.seen.reached('failed').size, 0);
    const stored = await h.server.ctx.store.getMessages(conv, 1, 0, 10);
    assert.deepEqual(
      stored.map((s) => s.clientMessageId),
      [m.localId],
    );
  });

  test('HttpLink maps each answer to a typed error', async () => {
    const token = await h.token('sl-erin');
    const link = new HttpLink({
      url: proxy.url,
      token: () => Promise.resolve(token),
      deviceId: 'erin-1',
      timeoutMs: 2_000,
    });
    const ping = codec.request(Command.PING, 7, {});
    const frames = await link.exchange([ping]);
    assert.equal(frames.length, 1);
    assert.equal(frames[0]?.seq, 7);
    const expectError = async (
      fault: (typeof proxy.script)[number],
      check: (err: ShortLinkError) => void,
    ): Promise<void> => {
      proxy.script.push(fault);
      await assert.rejects(link.exchange([ping]), (err: unknown) => {
        assert.ok(err instanceof ShortLinkError, String(err));
        check(err);
        return true;
      });
    };
    await expectError('503', (e) => {
      assert.equal(e.status, 503);
      assert.equal(e.code, ErrorCode.UNAVAILABLE);
      assert.ok(isRetryable(e));
    });
    await expectError('429', (e) => {
      assert.equal(e.code, ErrorCode.RATE_LIMITED);
      assert.equal(e.retryAfterMs, 1000);
      assert.ok(isRetryable(e));
    });
    await expectError('413', (e) => {
      assert.equal(e.status, 413);
      assert.ok(isRetryable(e));
    });
    await expectError('html', (e) => {
      assert.equal(e.status, 200);
      assert.match(e.message, /text\/html/);
      assert.ok(isRetryable(e));
    });
    await expectError('bad-frames', (e) => {
      assert.match(e.message, /frames|inside a frame/);
      assert.ok(isRetryable(e));
    });
    // A token the server refuses even after a renewal: not retryable.
    const bad = new HttpLink({ url: proxy.url, token: () => Promise.resolve('not-a-jwt'), deviceId: 'erin-1' });
    await assert.rejects(bad.exchange([ping]), (err: unknown) => {
      assert.ok(err instanceof ShortLinkError);
      assert.equal(err.status, 401);
      assert.ok(!isRetryable(err));
      return true;
    });
    // Nothing listening: a network error, retryable; and a timeout.
    const dead = new HttpLink({
      url: `http://127.0.0.1:${String(await closedPort())}/v1/link`,
      token: () => Promise.resolve(token),
      deviceId: 'erin-1',
    });
    await assert.rejects(dead.exchange([ping]), (err: unknown) => {
      assert.ok(err instanceof ShortLinkError);
      assert.equal(err.status, 0);
      assert.equal(err.code, ErrorCode.UNAVAILABLE);
      return true;
    });
    // A server that accepts and never answers: the call's own timeout.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const stuck = new HttpLink({
        url: `http://127.0.0.1:${String((silent.address() as AddressInfo).port)}/v1/link`,
        token: () => Promise.resolve(token),
        deviceId: 'erin-1',
        timeoutMs: 100,
      });
      await assert.rejects(stuck.exchange([ping]), (err: unknown) => {
        assert.ok(err instanceof ShortLinkError);
        assert.equal(err.code, ErrorCode.TIMEOUT);
        assert.ok(isRetryable(err));
        return true;
      });
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) =>
        silent.close(() => {
          resolve();
        }),
      );
    }
  });
});

/** The user id (`sub`) a JWT names, without checking it. */
function tokenSubject(token: string): string | undefined {
  try {
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { sub?: unknown };
    return typeof claims.sub === 'string' ? claims.sub : undefined;
  } catch {
    return undefined;
  }
}
