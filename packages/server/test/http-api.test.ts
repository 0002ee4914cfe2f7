import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Command, ErrorCode, ParleyError, pb } from '@parley/protocol';
import type { ErrorJson } from '../src/http/errors.js';
import type { ConversationJson, MemberJson, MessageJson, PresenceJson } from '../src/http/json.js';
import { HttpWebhooks, TokenVerifier, installHttpApi } from '../src/index.js';
import { createLogger } from '../src/logger.js';
import { TestServer } from './helpers/server.js';

interface ApiResponse<T> {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body, as the test expects it to be (checked by the assertions). */
  json: T;
}

interface CreatedJson {
  created: boolean;
  conversation: ConversationJson;
}
interface MessagesJson {
  messages: MessageJson[];
  nextBefore?: number;
  nextFrom?: number;
}
interface TokenJson {
  token: string;
  expiresAt: number;
}
interface StatsJson {
  connections: number;
  sessions: number;
  usersOnline: number;
  rooms: number;
  uptimeSeconds: number;
  memory: { rss: number };
}
interface OpenApiJson {
  openapi: string;
  paths: Record<string, Record<string, { security?: unknown; parameters?: { name: string; in: string }[] }>>;
  components: { schemas: Record<string, { properties: Record<string, { enum?: string[] }>; required: string[] }> };
}
interface BeforeSendJson {
  conversationId: string;
  conversationType: string;
  senderId: string;
  senderDeviceId: string;
  clientMessageId: string;
  content: { type: string; text?: string };
}

/** A small client of one server's HTTP API: the admin key unless `key` says otherwise. */
function apiOf(ts: TestServer) {
  const base = `http://127.0.0.1:${String(ts.port('ws'))}`;
  const adminKey = ts.server.adminKey.value;
  return async function api<T = ErrorJson>(
    method: string,
    path: string,
    body?: unknown,
    opts: { key?: string | null; raw?: string | ReadableStream<Uint8Array>; headers?: Record<string, string> } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...opts.headers };
    const key = opts.key === undefined ? adminKey : opts.key;
    if (key !== null) headers.authorization = `Bearer ${key}`;
    let payload: string | ReadableStream<Uint8Array> | undefined = opts.raw;
    if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['content-type'] = 'application/json';
    }
    const res = await fetch(base + path, {
      method,
      headers,
      body: payload ?? null,
      ...(payload instanceof ReadableStream ? { duplex: 'half' } : {}),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json: json as T };
  };
}

function assertError(res: ApiResponse<unknown>, httpStatus: number, code: ErrorCode): void {
  assert.equal(res.status, httpStatus, res.text);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  const { error } = res.json as ErrorJson;
  assert.equal(error.status, code);
  assert.equal(error.code, ErrorCode[code]);
  assert.equal(typeof error.message, 'string');
}

const text = (t: string) => ({ type: pb.MessageType.TEXT, text: t });

describe('http api', () => {
  let ts: TestServer;
  let api: ReturnType<typeof apiOf>;
  before(async () => {
    // No web app in this directory: the root answers with the page that says how to build it.
    ts = await TestServer.start({ webDir: '/nonexistent/parley-web' }, { http: installHttpApi });
    api = apiOf(ts);
  });
  after(() => ts.stop());

  test('health, readiness and the root page need no key', async () => {
    const health = await api<{ status: string }>('GET', '/healthz', undefined, { key: null });
    assert.equal(health.status, 200);
    assert.deepEqual(health.json, { status: 'ok' });
    const ready = await api<{ status: string }>('GET', '/readyz', undefined, { key: null });
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.json, { status: 'ready' });
    ts.server.ctx.draining = true;
    try {
      assertError(await api('GET', '/readyz', undefined, { key: null }), 503, ErrorCode.SHUTTING_DOWN);
    } finally {
      ts.server.ctx.draining = false;
    }
    const root = await api('GET', '/', undefined, { key: null });
    assert.equal(root.status, 404);
    assert.match(root.headers.get('content-type') ?? '', /text\/html/);
    assert.match(root.text, /href="\/openapi\.json"/);
  });

  test('/v1 routes need the admin key', async () => {
    assertError(await api('GET', '/v1/stats', undefined, { key: null }), 401, ErrorCode.UNAUTHENTICATED);
    assertError(await api('GET', '/v1/stats', undefined, { key: 'pk_admin_wrong' }), 401, ErrorCode.UNAUTHENTICATED);
    const basic = await api('GET', '/v1/stats', undefined, {
      key: null,
      headers: { authorization: `Basic ${ts.server.adminKey.value}` },
    });
    assertError(basic, 401, ErrorCode.UNAUTHENTICATED);
    assertError(await api('POST', '/v1/tokens', { userId: 'x' }, { key: null }), 401, ErrorCode.UNAUTHENTICATED);
    assert.equal((await api('GET', '/v1/stats')).status, 200);
  });

  test('tokens verify with the server secret', async () => {
    const res = await api<TokenJson>('POST', '/v1/tokens', { userId: 'alice', deviceId: 'phone', ttlSeconds: 120 });
    assert.equal(res.status, 200, res.text);
    const verifier = new TokenVerifier({ secret: ts.server.appSecret });
    const identity = await verifier.verify(res.json.token);
    assert.equal(identity.userId, 'alice');
    assert.equal(identity.deviceId, 'phone');
    assert.equal(identity.expiresAt, res.json.expiresAt);
    assert.ok(Math.abs(res.json.expiresAt - (Date.now() + 120_000)) < 2_000);
    const room = await api<TokenJson>('POST', '/v1/tokens', { userId: 'alice', room: 'lobby' });
    await verifier.verifyRoomToken(room.json.token, 'alice', 'lobby');
    const client = await ts.connect('tcp');
    const login = await client.login(res.json.token, { deviceId: 'phone' });
    assert.equal(login.userId, 'alice');
    client.destroy();
  });

  test('dev tokens are served in development mode without a key', async () => {
    const res = await api<TokenJson>('POST', '/v1/dev/token', { userId: 'dev-user' }, { key: null });
    assert.equal(res.status, 200, res.text);
    const identity = await new TokenVerifier({ secret: ts.server.appSecret }).verify(res.json.token);
    assert.equal(identity.userId, 'dev-user');
  });

  test('dev tokens are off in production mode', async () => {
    const prod = await TestServer.start({ mode: 'production' }, { http: installHttpApi });
    try {
      const res = await apiOf(prod)('POST', '/v1/dev/token', { userId: 'dev-user' }, { key: null });
      assertError(res, 404, ErrorCode.NOT_FOUND);
      assertError(await apiOf(prod)('POST', '/v1/dev/token', { bad: 1 }, { key: null }), 404, ErrorCode.NOT_FOUND);
    } finally {
      await prod.stop();
    }
  });

  test('groups: create, get, members, system messages, history', async () => {
    const created = await api<CreatedJson>('POST', '/v1/conversations', {
      type: 'group',
      owner: 'alice',
      members: ['bob', 'carol'],
      name: 'Team',
      attributes: { topic: 'launch' },
    });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.json.created, true);
    const conv = created.json.conversation;
    assert.equal(conv.type, 'group');
    assert.equal(conv.name, 'Team');
    assert.equal(conv.ownerId, 'alice');
    assert.equal(conv.memberCount, 3);
    assert.deepEqual(conv.attributes, { topic: 'launch' });
    const id = conv.id;

    const got = await api<{ conversation: ConversationJson }>('GET', `/v1/conversations/${id}`);
    assert.equal(got.status, 200);
    assert.deepEqual(got.json.conversation.attributes, { topic: 'launch' });
    assertError(await api('GET', '/v1/conversations/g_nope'), 404, ErrorCode.NOT_FOUND);

    const page1 = await api<{ members: MemberJson[]; nextCursor: string }>(
      'GET',
      `/v1/conversations/${id}/members?limit=2`,
    );
    assert.deepEqual(
      page1.json.members.map((m: { userId: string }) => m.userId),
      ['alice', 'bob'],
    );
    assert.equal(page1.json.members[0]!.role, 'owner');
    assert.equal(page1.json.nextCursor, 'bob');
    const page2 = await api<{ members: MemberJson[]; nextCursor: string }>(
      'GET',
      `/v1/conversations/${id}/members?limit=2&cursor=bob`,
    );
    assert.deepEqual(
      page2.json.members.map((m: { userId: string }) => m.userId),
      ['carol'],
    );
    assert.equal(page2.json.nextCursor, '');

    const added = await api<{ added: string[]; seq: number }>('POST', `/v1/conversations/${id}/members`, {
      userIds: ['dave', 'bob'],
    });
    assert.equal(added.status, 200, added.text);
    assert.deepEqual(added.json.added, ['dave']);
    assert.ok(added.json.seq > 0);
    const removed = await api<{ removed: boolean; seq: number }>('DELETE', `/v1/conversations/${id}/members/carol`);
    assert.deepEqual(removed.json, { removed: true, seq: added.json.seq + 1 });
    const again = await api<{ removed: boolean; seq: number }>('DELETE', `/v1/conversations/${id}/members/carol`);
    assert.deepEqual(again.json, { removed: false, seq: 0 });

    const record = await ts.server.ctx.store.getConversation(id);
    assert.ok(record);
    await ts.server.ctx.messages.send({ userId: 'bob', deviceId: 'b1' }, record, 'c-1', {
      ...text('hi @alice'),
      mentions: ['alice'],
    });
    const notice = await api<{ seq: number; messageId: string }>('POST', `/v1/conversations/${id}/system-messages`, {
      text: 'maintenance at 5',
    });
    assert.equal(notice.status, 200, notice.text);
    assert.equal(notice.json.seq, 5);
    assert.equal(typeof notice.json.messageId, 'string');

    const history = await api<MessagesJson>('GET', `/v1/conversations/${id}/messages?limit=10`);
    assert.equal(history.status, 200, history.text);
    const messages = history.json.messages;
    assert.deepEqual(
      messages.map((m) => m.seq),
      [5, 4, 3, 2, 1],
    );
    assert.deepEqual(
      messages.map((m) => m.senderId),
      ['', 'bob', '', '', 'alice'],
    );
    assert.deepEqual(
      messages.map((m) => m.content),
      [
        { type: 'system', system: { type: 'notice', actor: '', users: [], text: 'maintenance at 5' } },
        { type: 'text', text: 'hi @alice', mentions: ['alice'] },
        { type: 'system', system: { type: 'members_removed', actor: '', users: ['carol'] } },
        { type: 'system', system: { type: 'members_added', actor: '', users: ['dave'] } },
        { type: 'system', system: { type: 'conversation_created', actor: 'alice', users: ['bob', 'carol'] } },
      ],
    );
    assert.equal(history.json.nextBefore, 0);
    const older = await api<MessagesJson>('GET', `/v1/conversations/${id}/messages?before=4&limit=2`);
    assert.deepEqual(
      older.json.messages.map((m: { seq: number }) => m.seq),
      [3, 2],
    );
    assert.equal(older.json.nextBefore, 2);
    const range = await api<MessagesJson>('GET', `/v1/conversations/${id}/messages?from=2&to=4`);
    assert.deepEqual(
      range.json.messages.map((m: { seq: number }) => m.seq),
      [2, 3, 4],
    );
    assert.equal(range.json.messages[0]!.conversationType, 'group');
    assertError(await api('GET', `/v1/conversations/${id}/messages?from=1&before=3`), 400, ErrorCode.INVALID_ARGUMENT);
    assertError(await api('GET', `/v1/conversations/g_nope/messages`), 404, ErrorCode.NOT_FOUND);
    assertError(await api('POST', `/v1/conversations/g_nope/system-messages`, { text: 'x' }), 404, ErrorCode.NOT_FOUND);
  });

  test('removing the owner hands the group over', async () => {
    const created = await api<CreatedJson>('POST', '/v1/conversations', {
      type: 'group',
      owner: 'o1',
      members: ['m1', 'm2'],
    });
    const id = created.json.conversation.id;
    assert.equal((await api<{ removed: boolean }>('DELETE', `/v1/conversations/${id}/members/o1`)).json.removed, true);
    const got = await api<{ conversation: ConversationJson }>('GET', `/v1/conversations/${id}`);
    assert.ok(['m1', 'm2'].includes(got.json.conversation.ownerId));
    assert.equal(got.json.conversation.memberCount, 2);
  });

  test('direct conversations: one per pair, no member changes', async () => {
    const first = await api<CreatedJson>('POST', '/v1/conversations', {
      type: 'direct',
      owner: 'alice',
      members: ['bob'],
    });
    assert.equal(first.status, 201, first.text);
    assert.equal(first.json.conversation.type, 'direct');
    const second = await api<CreatedJson>('POST', '/v1/conversations', {
      type: 'direct',
      owner: 'bob',
      members: ['alice'],
    });
    assert.equal(second.status, 200);
    assert.equal(second.json.created, false);
    assert.equal(second.json.conversation.id, first.json.conversation.id);
    const id = first.json.conversation.id;
    assertError(
      await api('POST', `/v1/conversations/${id}/members`, { userIds: ['carol'] }),
      400,
      ErrorCode.UNSUPPORTED,
    );
    const three = await api('POST', '/v1/conversations', { type: 'direct', owner: 'a', members: ['b', 'c'] });
    assertError(three, 400, ErrorCode.INVALID_ARGUMENT);
  });

  test('kick closes sessions, optionally one device, and presence and stats see them', async () => {
    const phone = await ts.login('kick-me', 'tcp', { deviceId: 'phone', platform: pb.Platform.IOS });
    const laptop = await ts.login('kick-me', 'ws', { deviceId: 'laptop', platform: pb.Platform.DESKTOP });

    const presence = await api<PresenceJson>('GET', '/v1/users/kick-me/presence');
    assert.equal(presence.status, 200);
    assert.equal(presence.json.online, true);
    assert.deepEqual([...presence.json.platforms].sort(), ['desktop', 'ios']);
    const stats = await api<StatsJson>('GET', '/v1/stats');
    assert.ok(stats.json.connections >= 2);
    assert.ok(stats.json.sessions >= 2);
    assert.ok(stats.json.usersOnline >= 1);
    assert.equal(stats.json.rooms, 0);
    assert.equal(typeof stats.json.uptimeSeconds, 'number');
    assert.ok(stats.json.memory.rss > 0);

    const one = await api<{ kicked: number }>('POST', '/v1/users/kick-me/kick', {
      deviceId: 'phone',
      reason: 'lost phone',
    });
    assert.deepEqual(one.json, { kicked: 1 });
    const { kick } = await phone.closed;
    assert.equal(kick?.reason, ErrorCode.KICKED_BY_ADMIN);
    assert.equal(kick.message, 'lost phone');
    assert.ok(await laptop.request(Command.PING, {}), 'the other device stays');

    const rest = await api<{ kicked: number }>('POST', '/v1/users/kick-me/kick');
    assert.deepEqual(rest.json, { kicked: 1 });
    assert.equal((await laptop.closed).kick?.reason, ErrorCode.KICKED_BY_ADMIN);
    assert.deepEqual((await api<{ kicked: number }>('POST', '/v1/users/kick-me/kick', {})).json, { kicked: 0 });
    const offline = await api<PresenceJson>('GET', '/v1/users/kick-me/presence');
    assert.equal(offline.json.online, false);
    assert.ok(offline.json.lastSeen > 0);
    assert.deepEqual(offline.json.platforms, []);
  });

  test('one node: sessions are listed and one session can be kicked; nodes lists this node', async () => {
    const a = await ts.login('by-session', 'tcp', { deviceId: 'a' });
    const b = await ts.login('by-session', 'ws', { deviceId: 'b' });
    interface SessionsJson {
      sessions: { sessionId: string; deviceId: string; transport: string; nodeId: string }[];
      cluster?: unknown;
    }
    const listed = await api<SessionsJson>('GET', '/v1/users/by-session/sessions');
    assert.equal(listed.status, 200);
    assert.equal(listed.json.cluster, undefined, 'no cluster part with the in-process bus');
    const byDevice = new Map(listed.json.sessions.map((s) => [s.deviceId, s]));
    assert.equal(byDevice.get('a')?.transport, 'tcp');
    assert.equal(byDevice.get('b')?.transport, 'ws');
    const kicked = await api<{ kicked: number }>('POST', '/v1/users/by-session/kick', {
      sessionId: byDevice.get('b')?.sessionId,
    });
    assert.deepEqual(kicked.json, { kicked: 1 });
    assert.equal((await b.closed).kick?.reason, ErrorCode.KICKED_BY_ADMIN);
    assert.deepEqual((await api<SessionsJson>('GET', '/v1/users/by-session/sessions')).json.sessions.length, 1);
    a.destroy();

    const nodes = await api<{ complete: boolean; nodes: { nodeId: string; answered: boolean; connections: number }[] }>(
      'GET',
      '/v1/nodes',
    );
    assert.equal(nodes.json.complete, true);
    assert.equal(nodes.json.nodes.length, 1);
    assert.equal(nodes.json.nodes[0]?.answered, true);
    assertError(await api('GET', '/v1/nodes?timeoutMs=0'), 400, ErrorCode.INVALID_ARGUMENT);
  });

  test('ids in paths are URL-decoded', async () => {
    const client = await ts.login('team/bot', 'tcp', { platform: pb.Platform.SERVER });
    const presence = await api<PresenceJson>('GET', `/v1/users/${encodeURIComponent('team/bot')}/presence`);
    assert.equal(presence.json.userId, 'team/bot');
    assert.equal(presence.json.online, true);
    assert.deepEqual(presence.json.platforms, ['server']);
    const kicked = await api<{ kicked: number }>('POST', `/v1/users/${encodeURIComponent('team/bot')}/kick`);
    assert.deepEqual(kicked.json, { kicked: 1 });
    await client.closed;
    assertError(await api('GET', '/v1/users/%01/presence'), 400, ErrorCode.INVALID_ARGUMENT);
  });

  test('metrics are Prometheus text', async () => {
    const res = await api('GET', '/metrics', undefined, { key: null });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
    assert.match(res.text, /^# TYPE parley_connections gauge$/m);
    assert.match(res.text, /^parley_messages_acked_total/m);
  });

  test('openapi.json lists every route', async () => {
    const res = await api<OpenApiJson>('GET', '/openapi.json', undefined, { key: null });
    assert.equal(res.status, 200);
    const doc = res.json;
    assert.equal(doc.openapi, '3.1.0');
    const routes = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    );
    assert.deepEqual(routes.sort(), [
      'DELETE /v1/conversations/{id}/members/{userId}',
      'DELETE /v1/users/{userId}/devices/{deviceId}/push',
      'GET /',
      'GET /healthz',
      'GET /metrics',
      'GET /openapi.json',
      'GET /readyz',
      'GET /v1/conversations/{id}',
      'GET /v1/conversations/{id}/members',
      'GET /v1/conversations/{id}/messages',
      'GET /v1/endpoints',
      'GET /v1/nodes',
      'GET /v1/push/web/vapid-public-key',
      'GET /v1/stats',
      'GET /v1/users/{userId}/presence',
      'GET /v1/users/{userId}/push',
      'GET /v1/users/{userId}/sessions',
      'POST /v1/conversations',
      'POST /v1/conversations/{id}/members',
      'POST /v1/conversations/{id}/system-messages',
      'POST /v1/dev/token',
      'POST /v1/link',
      'POST /v1/tokens',
      'POST /v1/users/{userId}/devices/{deviceId}/push',
      'POST /v1/users/{userId}/kick',
      'POST /v1/users/{userId}/push-settings',
    ]);
    // Every $ref points at a schema of the document.
    const refs = [...res.text.matchAll(/"\$ref": "#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(refs.length > 10);
    for (const ref of refs) assert.ok(doc.components.schemas[ref], `schema ${ref}`);
    const create = doc.paths['/v1/conversations']!.post!;
    assert.deepEqual(create.security, [{ adminKey: [] }]);
    const body = doc.components.schemas.CreateConversationRequest!;
    assert.deepEqual(body.properties.type!.enum, ['direct', 'group']);
    assert.deepEqual([...body.required].sort(), ['members', 'owner', 'type']);
    const messages = doc.paths['/v1/conversations/{id}/messages']!.get!;
    assert.deepEqual(
      messages.parameters!.map((p) => `${p.in}:${p.name}`),
      ['path:id', 'query:before', 'query:from', 'query:to', 'query:limit'],
    );
  });

  test('bad requests get 400, 404 and 413 in the error format', async () => {
    assertError(
      await api('POST', '/v1/tokens', undefined, {
        raw: '{"userId": ',
        headers: { 'content-type': 'application/json' },
      }),
      400,
      ErrorCode.INVALID_ARGUMENT,
    );
    const wrongType = await api('POST', '/v1/tokens', { userId: 5 });
    assertError(wrongType, 400, ErrorCode.INVALID_ARGUMENT);
    assert.match(wrongType.json.error.message, /userId/);
    assertError(await api('POST', '/v1/tokens'), 400, ErrorCode.INVALID_ARGUMENT);
    assertError(
      await api('POST', '/v1/conversations', { type: 'room', owner: 'a', members: [] }),
      400,
      ErrorCode.INVALID_ARGUMENT,
    );
    assertError(await api('GET', '/v1/conversations/x/members?limit=0'), 400, ErrorCode.INVALID_ARGUMENT);
    assertError(await api('GET', '/v1/nothing-here'), 404, ErrorCode.NOT_FOUND);

    const big = JSON.stringify({ userId: 'x', pad: 'y'.repeat(1024 * 1024) });
    assertError(await api('POST', '/v1/tokens', undefined, { raw: big }), 413, ErrorCode.MESSAGE_TOO_LARGE);
    // Without a content-length (chunked), the limit applies while reading.
    const chunk = new Uint8Array(64 * 1024).fill(32);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 2 * 1024 * 1024) controller.close();
        else {
          sent += chunk.length;
          controller.enqueue(chunk);
        }
      },
    });
    assertError(await api('POST', '/v1/tokens', undefined, { raw: stream }), 413, ErrorCode.MESSAGE_TOO_LARGE);
    assert.equal((await api('GET', '/healthz')).status, 200, 'the server still answers');
  });
});

/** A local stand-in for the app's webhook endpoints. */
class HookServer {
  readonly requests: { path: string; headers: IncomingMessage['headers']; body: string }[] = [];
  onBefore: (body: BeforeSendJson, res: ServerResponse) => void = (_b, res) => {
    res.end('{"action":"accept"}');
  };
  onAfter: (body: MessageJson, res: ServerResponse, attempt: number) => void = (_b, res) => {
    res.end();
  };
  readonly #server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      this.requests.push({ path: req.url ?? '', headers: req.headers, body });
      if (req.url === '/before') this.onBefore(JSON.parse(body) as BeforeSendJson, res);
      else this.onAfter(JSON.parse(body) as MessageJson, res, Number(req.headers['x-parley-attempt']));
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${String((this.#server.address() as AddressInfo).port)}`;
  }

  stop(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => {
      this.#server.close(() => {
        resolve();
      });
    });
  }
}

const SECRET = 'test-app-secret-for-webhooks-0123456789';
const signature = (body: string) => `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;

async function waitFor(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('webhooks', () => {
  const hooks = new HookServer();
  let ts: TestServer;
  let closedTs: TestServer;
  before(async () => {
    const url = await hooks.start();
    const start = (failOpen: boolean) =>
      TestServer.start(
        {
          appSecret: SECRET,
          webhooks: {
            beforeSendUrl: `${url}/before`,
            beforeSendTimeoutMs: 300,
            beforeSendFailOpen: failOpen,
            afterSendUrl: `${url}/after`,
            afterSendMaxAttempts: 4,
          },
        },
        { http: installHttpApi, webhooks: (ctx) => HttpWebhooks.fromContext(ctx, { retryBaseMs: 20 }) },
      );
    [ts, closedTs] = await Promise.all([start(true), start(false)]);
  });
  after(async () => {
    await Promise.all([ts.stop(), closedTs.stop()]);
    await hooks.stop();
  });

  async function group(server: TestServer): Promise<string> {
    const res = await apiOf(server)<CreatedJson>('POST', '/v1/conversations', {
      type: 'group',
      owner: 'alice',
      members: ['bob'],
    });
    assert.equal(res.status, 201, res.text);
    return res.json.conversation.id;
  }

  test('before-send accepts, signs its body and sees the message', async () => {
    const id = await group(ts);
    hooks.onBefore = (_b, res) => res.end('{"action":"accept"}');
    const alice = await ts.login('alice');
    const ack = await alice.request(Command.SEND, {
      conversationId: id,
      clientMessageId: 'm-accept',
      content: text('hello'),
    });
    assert.ok(ack.seq > 0);
    const call = hooks.requests.findLast((r) => r.path === '/before');
    assert.ok(call);
    assert.equal(call.headers['x-parley-signature'], signature(call.body));
    assert.equal(call.headers['x-parley-event'], 'before-send');
    const sent = JSON.parse(call.body) as BeforeSendJson;
    assert.deepEqual(sent, {
      conversationId: id,
      conversationType: 'group',
      senderId: 'alice',
      senderDeviceId: sent.senderDeviceId,
      clientMessageId: 'm-accept',
      content: { type: 'text', text: 'hello' },
    });
    assert.match(sent.senderDeviceId, /^test-/);
    alice.destroy();
  });

  test('before-send rejects: the send fails with HOOK_REJECTED', async () => {
    const id = await group(ts);
    hooks.onBefore = (_b, res) => res.end('{"action":"reject","reason":"no shouting"}');
    const alice = await ts.login('alice');
    await assert.rejects(
      alice.request(Command.SEND, { conversationId: id, clientMessageId: 'm-reject', content: text('HELLO') }),
      (err: unknown) =>
        err instanceof ParleyError && err.code === ErrorCode.HOOK_REJECTED && err.message.includes('no shouting'),
    );
    alice.destroy();
  });

  test('before-send rewrites the content', async () => {
    const id = await group(ts);
    hooks.onBefore = (b, res) =>
      res.end(
        JSON.stringify({
          action: 'accept',
          content: { type: 'text', text: (b.content.text ?? '').replace('darn', '****') },
        }),
      );
    const alice = await ts.login('alice');
    const ack = await alice.request(Command.SEND, {
      conversationId: id,
      clientMessageId: 'm-rw',
      content: text('oh darn'),
    });
    const page = await apiOf(ts)<MessagesJson>(
      'GET',
      `/v1/conversations/${id}/messages?from=${String(ack.seq)}&to=${String(ack.seq)}`,
    );
    assert.deepEqual(page.json.messages[0]!.content, { type: 'text', text: 'oh ****' });
    alice.destroy();
  });

  test('a slow before-send hook: fail open delivers, fail closed rejects', async () => {
    // Answers long after the 300 ms timeout (the timer must not keep the test process alive).
    hooks.onBefore = (_b, res) => {
      setTimeout(() => res.end('{"action":"reject","reason":"too late"}'), 5_000).unref();
    };
    const openId = await group(ts);
    const alice = await ts.login('alice');
    const started = Date.now();
    const ack = await alice.request(Command.SEND, {
      conversationId: openId,
      clientMessageId: 'm-slow',
      content: text('x'),
    });
    assert.ok(ack.seq > 0);
    const waited = Date.now() - started;
    assert.ok(waited >= 250 && waited < 3_000, `waited ${String(waited)} ms`);
    alice.destroy();

    const closedId = await group(closedTs);
    const alice2 = await closedTs.login('alice');
    await assert.rejects(
      alice2.request(Command.SEND, { conversationId: closedId, clientMessageId: 'm-slow', content: text('x') }),
      (err: unknown) =>
        err instanceof ParleyError &&
        err.code === ErrorCode.HOOK_REJECTED &&
        err.message.includes('before-send hook unavailable'),
    );
    alice2.destroy();
  });

  test('after-send is retried after two 500s and delivered once', async () => {
    hooks.onBefore = (_b, res) => res.end('{"action":"accept"}');
    hooks.onAfter = (_b, res, attempt) => {
      res.statusCode = attempt <= 2 ? 500 : 200;
      res.end();
    };
    const id = await group(ts);
    const alice = await ts.login('alice');
    const ack = await alice.request(Command.SEND, {
      conversationId: id,
      clientMessageId: 'm-after',
      content: text('stored'),
    });
    const calls = () =>
      hooks.requests.filter((r) => r.path === '/after' && r.headers['x-parley-delivery'] === ack.messageId);
    await waitFor('three after-send attempts', () => calls().length >= 3);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(
      calls().map((c) => c.headers['x-parley-attempt']),
      ['1', '2', '3'],
    );
    for (const c of calls()) {
      assert.equal(c.headers['x-parley-signature'], signature(c.body));
      assert.equal(c.headers['x-parley-event'], 'after-send');
    }
    const message = JSON.parse(calls()[0]!.body) as MessageJson;
    assert.equal(message.conversationId, id);
    assert.equal(message.seq, ack.seq);
    assert.equal(message.senderId, 'alice');
    assert.deepEqual(message.content, { type: 'text', text: 'stored' });
    alice.destroy();
  });

  test('the after-send queue is bounded and close() does not wait for a hung hook', async () => {
    const url = await new Promise<string>((resolve) => {
      const hung = createServer(() => undefined).listen(0, '127.0.0.1', () => {
        resolve(`http://127.0.0.1:${String((hung.address() as AddressInfo).port)}`);
      });
      after(() => {
        hung.closeAllConnections();
        hung.close();
      });
    });
    const webhooks = new HttpWebhooks({
      webhooks: {
        beforeSendUrl: '',
        beforeSendTimeoutMs: 100,
        beforeSendFailOpen: true,
        afterSendUrl: url,
        afterSendMaxAttempts: 3,
      },
      secret: SECRET,
      logger: createLogger('silent', { pretty: false }),
      queueLimit: 3,
      concurrency: 1,
      closeTimeoutMs: 100,
    });
    assert.equal(webhooks.beforeSendEnabled, false);
    for (let i = 0; i < 10; i++) webhooks.afterSend({ conversationId: 'c', seq: i + 1, messageId: `m${String(i)}` });
    assert.equal(webhooks.pending, 3);
    assert.equal(webhooks.dropped, 7);
    const started = Date.now();
    await webhooks.close();
    assert.ok(Date.now() - started < 1_000);
    webhooks.afterSend({ conversationId: 'c', seq: 11, messageId: 'late' });
    assert.equal(webhooks.pending, 0);
  });
});
