import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Command, ErrorCode, pb } from '@parley/protocol';
import { collapseIdOf } from '../src/push/templates.js';
import { PushEnv, hexToken, waitFor } from './helpers/push-env.js';
import { TestServer } from './helpers/server.js';
import type { TestClient } from './helpers/test-client.js';

const { APNS, FCM, WEB_PUSH } = pb.PushProvider;

describe('offline push through a running server', () => {
  let env: PushEnv;
  let ts: TestServer;
  let alice: TestClient;

  before(async () => {
    // A window wide enough that a burst of 20 sequential durable writes fits on a loaded machine.
    env = await PushEnv.start({ coalesceMs: 3_000 });
    ts = await TestServer.start({ push: env.push });
    alice = await ts.login('alice');
  });
  after(async () => {
    alice.destroy();
    await ts.stop();
    await env.close();
  });

  /** Logs the device in, registers it, and (unless kept) disconnects: an offline phone. */
  async function device(
    userId: string,
    deviceId: string,
    register: pb.RegisterPushRequest.$Properties,
    keep = false,
  ): Promise<TestClient> {
    const c = await ts.login(userId, 'tcp', { deviceId });
    await c.request(Command.PUSH_REGISTER, register);
    if (!keep) await c.close();
    return c;
  }

  async function direct(other: string): Promise<string> {
    const res = await alice.request(Command.CONV_CREATE, { type: pb.ConversationType.DIRECT, memberIds: [other] });
    return res.state?.conversation?.conversationId ?? '';
  }

  let n = 0;
  function send(conversationId: string, text: string, extra: pb.MessageContent.$Properties = {}) {
    return alice.request(Command.SEND, {
      conversationId,
      clientMessageId: `m-${String(++n)}`,
      content: { type: pb.MessageType.TEXT, text, ...extra },
    });
  }

  const apnsFor = (token: string) => env.apns.delivered.filter((d) => d.deviceToken === token);
  const fcmFor = (token: string) => env.fcm.delivered.filter((d) => d.message.token === token);
  /** Longer than the coalescing window: anything still to come has come by then. */
  const settle = () => new Promise((r) => setTimeout(r, 4_000));

  test('a message to an offline user: one notification per device, with the badge and collapse id', async () => {
    const sub = await env.web.subscribe(await vapidKey(ts));
    await device('bob', 'iphone', {
      provider: APNS,
      token: hexToken('bob-iphone'),
      apnsEnvironment: pb.ApnsEnvironment.SANDBOX,
    });
    await device('bob', 'pixel', { provider: FCM, token: 'fcm-bob-pixel' });
    await device('bob', 'browser', {
      provider: WEB_PUSH,
      webPushSubscription: JSON.stringify({ endpoint: sub.endpoint, keys: sub.keys }),
    });
    const conv = await direct('bob');
    await send(conv, 'hello bob');

    const [ios] = await waitFor('APNs notification', () =>
      apnsFor(hexToken('bob-iphone')).length ? apnsFor(hexToken('bob-iphone')) : undefined,
    );
    const [android] = await waitFor('FCM notification', () =>
      fcmFor('fcm-bob-pixel').length ? fcmFor('fcm-bob-pixel') : undefined,
    );
    const [web] = await waitFor('Web Push notification', async () => {
      const m = await env.web.messages(sub.clientHash);
      return m.length ? m : undefined;
    });
    const collapse = collapseIdOf(conv);
    assert.equal(ios!.payload.aps.badge, 1);
    assert.deepEqual(ios!.payload.aps.alert, { title: 'alice', body: 'hello bob' });
    assert.equal(ios!.headers['apns-collapse-id'], collapse);
    assert.equal(android!.message.android?.collapse_key, collapse);
    assert.equal(android!.message.android?.notification?.notification_count, 1);
    const webPayload = JSON.parse(web!) as { badge: number; tag: string; body: string };
    assert.deepEqual([webPayload.badge, webPayload.tag, webPayload.body], [1, collapse, 'hello bob']);

    // Nothing more arrives later; a second conversation's message carries the new total.
    await settle();
    assert.equal(apnsFor(hexToken('bob-iphone')).length, 1);
    assert.equal(fcmFor('fcm-bob-pixel').length, 1);
    assert.equal((await env.web.messages(sub.clientHash)).length, 1);
    const other =
      (await alice.request(Command.CONV_CREATE, { type: pb.ConversationType.GROUP, name: 'team', memberIds: ['bob'] }))
        .state?.conversation?.conversationId ?? '';
    await send(other, 'standup?');
    const second = await waitFor('second APNs notification', () => apnsFor(hexToken('bob-iphone'))[1]);
    // The badge is the store's unread total: the new group's creation notice counts too.
    assert.equal(second.payload.aps.badge, await ts.server.ctx.push.pushStore!.unreadTotal('bob'));
    assert.ok(second.payload.aps.badge >= 2);
    assert.deepEqual(second.payload.aps.alert, { title: 'team', body: 'alice: standup?' });
    assert.equal(second.headers['apns-collapse-id'], collapseIdOf(other));
  });

  test('a burst of 20 messages becomes one notification per device', async () => {
    await device('carol', 'iphone', { provider: APNS, token: hexToken('carol-iphone') });
    await device('carol', 'pixel', { provider: FCM, token: 'fcm-carol-pixel' });
    const conv = await direct('carol');
    await Promise.all(Array.from({ length: 20 }, (_, i) => send(conv, `burst ${String(i)}`)));
    const [ios] = await waitFor('APNs notification', () =>
      apnsFor(hexToken('carol-iphone')).length ? apnsFor(hexToken('carol-iphone')) : undefined,
    );
    await waitFor('FCM notification', () => fcmFor('fcm-carol-pixel').length > 0);
    await settle();
    assert.equal(apnsFor(hexToken('carol-iphone')).length, 1);
    assert.equal(fcmFor('fcm-carol-pixel').length, 1);
    assert.equal(ios!.payload.count, 20);
    assert.equal(ios!.payload.aps.badge, 20);
    assert.match(ios!.payload.aps.alert?.body ?? '', /^20 new messages/);
  });

  test('a foreground device gets nothing; the same user backgrounded on another device gets the push', async () => {
    const front = await device('dave', 'front', { provider: APNS, token: hexToken('dave-front') }, true);
    const back = await device('dave', 'back', { provider: APNS, token: hexToken('dave-back') }, true);
    await back.request(Command.SESSION_UPDATE, { appState: pb.AppState.BACKGROUND });
    const conv = await direct('dave');
    await send(conv, 'are you there');
    await waitFor('background device notification', () => apnsFor(hexToken('dave-back')).length === 1);
    await settle();
    assert.equal(apnsFor(hexToken('dave-front')).length, 0);
    front.destroy();
    back.destroy();
  });

  test('a muted conversation stays silent unless the user is mentioned', async () => {
    const c = await device('erin', 'iphone', { provider: APNS, token: hexToken('erin-iphone') }, true);
    const conv =
      (await alice.request(Command.CONV_CREATE, { type: pb.ConversationType.GROUP, name: 'loud', memberIds: ['erin'] }))
        .state?.conversation?.conversationId ?? '';
    await c.request(Command.CONV_MUTE, { conversationId: conv, muted: true });
    await c.close();
    await send(conv, 'noise');
    await settle();
    assert.equal(apnsFor(hexToken('erin-iphone')).length, 0);
    await send(conv, 'erin, look', { mentions: ['erin'] });
    await waitFor('mention notification', () => apnsFor(hexToken('erin-iphone')).length === 1);
  });

  test('privacy mode hides the text; do-not-disturb hours deliver quietly', async () => {
    const c = await device('fay', 'iphone', { provider: APNS, token: hexToken('fay-iphone') }, true);
    const minute = new Date().getUTCHours() * 60 + new Date().getUTCMinutes();
    await c.request(Command.PUSH_SETTINGS, {
      preview: pb.PushPreview.PUSH_PREVIEW_NONE,
      dndEnabled: true,
      dndStartMinute: (minute + 1440 - 60) % 1440,
      dndEndMinute: (minute + 60) % 1440,
      timeZone: 'UTC',
    });
    await c.close();
    const conv = await direct('fay');
    await send(conv, 'secret plans');
    const got = await waitFor('notification', () => apnsFor(hexToken('fay-iphone'))[0]);
    assert.deepEqual(got.payload.aps.alert, { title: 'New message', body: 'New message' });
    assert.equal(got.headers['apns-priority'], '5');
    assert.equal(got.payload.aps.sound, undefined);
  });

  test('410 Unregistered removes the token', async () => {
    const token = hexToken('gus-old-phone');
    env.apns.unregistered.add(token);
    await device('gus', 'iphone', { provider: APNS, token });
    await send(await direct('gus'), 'hi');
    await waitFor('registration removed', async () => (await pushOf(ts, 'gus')).devices.length === 0);
    assert.match(
      await metrics(ts),
      /parley_push_results_total\{provider="apns",outcome="unregistered",reason="Unregistered"\} [1-9]/,
    );
  });

  test('403 ExpiredProviderToken refreshes the provider token and the notification still goes out', async () => {
    env.apns.expireProviderTokens();
    const before = env.apns.jwtsSeen.size;
    await device('hal', 'iphone', { provider: APNS, token: hexToken('hal-iphone') });
    await send(await direct('hal'), 'hi');
    await waitFor('notification', () => apnsFor(hexToken('hal-iphone')).length === 1);
    assert.equal(env.apns.jwtsSeen.size, before + 1);
    assert.match(await metrics(ts), /outcome="refreshed",reason="ExpiredProviderToken"\} [1-9]/);
  });

  test('429 and 5xx back off and retry until delivered', async () => {
    env.apns.failures.push(
      { status: 429, reason: 'TooManyRequests' },
      { status: 503, reason: 'ServiceUnavailable' },
      { status: 500, reason: 'InternalServerError' },
    );
    env.fcm.failures.push({ status: 429, reason: 'QUOTA_EXCEEDED', retryAfterSeconds: 1 });
    await device('ida', 'iphone', { provider: APNS, token: hexToken('ida-iphone') });
    await device('ida', 'pixel', { provider: FCM, token: 'fcm-ida' });
    const started = Date.now();
    await send(await direct('ida'), 'eventually');
    await waitFor('APNs after retries', () => apnsFor(hexToken('ida-iphone')).length === 1);
    await waitFor('FCM after retry', () => fcmFor('fcm-ida').length === 1);
    // The FCM retry waited at least its Retry-After.
    assert.ok(Date.now() - started >= 3_000 + 1_000 - 100);
    const text = await metrics(ts);
    for (const reason of ['TooManyRequests', 'ServiceUnavailable', 'InternalServerError']) {
      assert.match(text, new RegExp(`provider="apns",outcome="retry",reason="${reason}"\\} [1-9]`));
    }
    assert.match(text, /provider="fcm",outcome="retry",reason="QUOTA_EXCEEDED"\} [1-9]/);
  });

  test('GOAWAY from APNs: the next notification goes over a new connection', async () => {
    await device('jon', 'iphone', { provider: APNS, token: hexToken('jon-iphone') });
    const conv = await direct('jon');
    env.apns.goAwayNext = true;
    const before = env.apns.connections;
    await send(conv, 'one');
    await waitFor('first', () => apnsFor(hexToken('jon-iphone')).length === 1);
    await waitFor('the GOAWAY seen by the client', async () =>
      /parley_push_connection_ends_total\{provider="apns_production",event="goaway"\} [1-9]/.test(await metrics(ts)),
    );
    await send(conv, 'two');
    await waitFor('second', () => apnsFor(hexToken('jon-iphone')).length === 2);
    assert.ok(env.apns.connections > before);
  });

  test('a resend after a crash between the commit and the queue queues the notification', async () => {
    await device('nia', 'iphone', { provider: APNS, token: hexToken('nia-iphone') });
    const conv = await direct('nia');
    // The message is committed, as if the server died before queueing its push (no ack went out).
    const content = { type: pb.MessageType.TEXT, text: 'lost?' };
    const stored = await ts.server.ctx.commits.append({
      conversationId: conv,
      messageId: `lost-${String(Date.now())}`,
      senderId: 'alice',
      senderDeviceId: 'desk',
      clientMessageId: 'lost-1',
      serverTime: Date.now(),
      type: pb.MessageType.TEXT,
      content: pb.MessageContent.encode(content).finish(),
      mentions: [],
    });
    assert.ok(stored.ok);
    // The sender's outbox resends it: a duplicate, whose push is queued now, once.
    const ack = await alice.request(Command.SEND, { conversationId: conv, clientMessageId: 'lost-1', content });
    assert.equal(ack.duplicate, true);
    await waitFor('notification', () => apnsFor(hexToken('nia-iphone')).length === 1);
    await alice.request(Command.SEND, { conversationId: conv, clientMessageId: 'lost-1', content });
    await settle();
    assert.equal(apnsFor(hexToken('nia-iphone')).length, 1);
  });

  test('bad registrations and settings get INVALID_ARGUMENT; logout can unregister', async () => {
    const c = await ts.login('kim', 'tcp', { deviceId: 'phone' });
    const bad = [
      { provider: APNS, token: 'not-hex' },
      { provider: pb.PushProvider.PUSH_PROVIDER_UNSPECIFIED, token: 'x' },
      { provider: FCM, token: '' },
      { provider: WEB_PUSH, webPushSubscription: '{"endpoint": "ftp://x"}' },
      { provider: WEB_PUSH, webPushSubscription: 'not json' },
      {
        provider: WEB_PUSH,
        webPushSubscription: '{"endpoint":"https://push.example/x","keys":{"p256dh":"AAAA","auth":"BBBB"}}',
      },
    ];
    for (const req of bad) {
      const res = await c.requestRaw(Command.PUSH_REGISTER, req);
      assert.equal(res.status.code, ErrorCode.INVALID_ARGUMENT, JSON.stringify(req));
    }
    const tz = await c.requestRaw(Command.PUSH_SETTINGS, { dndEnabled: true, timeZone: 'Mars/Olympus' });
    assert.equal(tz.status.code, ErrorCode.INVALID_ARGUMENT);
    const range = await c.requestRaw(Command.PUSH_SETTINGS, { dndStartMinute: 1440 });
    assert.equal(range.status.code, ErrorCode.INVALID_ARGUMENT);
    await c.request(Command.PUSH_REGISTER, { provider: FCM, token: 'fcm-kim' });
    assert.equal((await pushOf(ts, 'kim')).devices.length, 1);
    await c.request(Command.LOGOUT, { unregisterPush: true });
    await c.closed;
    assert.equal((await pushOf(ts, 'kim')).devices.length, 0);
  });

  test('HTTP API: register, list, settings, unregister; the VAPID key is public', async () => {
    const key = await vapidKey(ts);
    assert.equal(Buffer.from(key, 'base64url').length, 65);
    const reg = await http(ts, 'POST', '/v1/users/lee/devices/tab/push', {
      provider: 'fcm',
      token: 'fcm-lee',
      locale: 'de',
    });
    assert.equal(reg.status, 200);
    assert.equal((reg.json as { tokenHint: string }).tokenHint, '…fcm-lee');
    const bad = await http(ts, 'POST', '/v1/users/lee/devices/tab/push', { provider: 'apns', token: 'zz' });
    assert.equal(bad.status, 400);
    const settings = await http(ts, 'POST', '/v1/users/lee/push-settings', {
      preview: 'sender',
      timeZone: 'Asia/Tokyo',
    });
    assert.equal(settings.status, 200);
    const got = await pushOf(ts, 'lee');
    assert.equal(got.devices[0]?.locale, 'de');
    assert.equal(got.settings.preview, 'sender');
    // German strings for a German device, sender-only preview.
    await send(await direct('lee'), 'hallo');
    const m = await waitFor('FCM', () => fcmFor('fcm-lee')[0]);
    assert.deepEqual(m.message.notification, { title: 'alice', body: 'Neue Nachricht von alice' });
    const del = await http(ts, 'DELETE', '/v1/users/lee/devices/tab/push');
    assert.deepEqual(del.json, { removed: true });
    const noKey = await fetch(`http://127.0.0.1:${String(ts.port('ws'))}/v1/users/lee/push`);
    assert.equal(noKey.status, 401);
  });
});

describe('push on a server without provider credentials', () => {
  let ts: TestServer;
  before(async () => {
    ts = await TestServer.start();
  });
  after(async () => {
    await ts.stop();
  });

  test('APNs and FCM registrations are UNSUPPORTED; Web Push has a VAPID key made in the data dir', async () => {
    const c = await ts.login('mo');
    const apns = await c.requestRaw(Command.PUSH_REGISTER, { provider: APNS, token: hexToken('mo') });
    assert.equal(apns.status.code, ErrorCode.UNSUPPORTED);
    const fcm = await c.requestRaw(Command.PUSH_REGISTER, { provider: FCM, token: 'x' });
    assert.equal(fcm.status.code, ErrorCode.UNSUPPORTED);
    // Without webPushAllowHttp, only https endpoints.
    const web = await c.requestRaw(Command.PUSH_REGISTER, {
      provider: WEB_PUSH,
      webPushSubscription: JSON.stringify({ endpoint: 'http://127.0.0.1:1/x', keys: { p256dh: 'x', auth: 'y' } }),
    });
    assert.equal(web.status.code, ErrorCode.INVALID_ARGUMENT);
    assert.equal(Buffer.from(await vapidKey(ts), 'base64url').length, 65);
    c.destroy();
  });
});

async function http(
  ts: TestServer,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`http://127.0.0.1:${String(ts.port('ws'))}${path}`, {
    method,
    headers: { authorization: `Bearer ${ts.server.adminKey.value}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as unknown) : undefined };
}

async function vapidKey(ts: TestServer): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${String(ts.port('ws'))}/v1/push/web/vapid-public-key`);
  assert.equal(res.status, 200);
  return ((await res.json()) as { publicKey: string }).publicKey;
}

async function pushOf(
  ts: TestServer,
  userId: string,
): Promise<{ devices: { deviceId: string; locale: string }[]; settings: { preview: string } }> {
  const res = await http(ts, 'GET', `/v1/users/${userId}/push`);
  assert.equal(res.status, 200);
  return res.json as { devices: { deviceId: string; locale: string }[]; settings: { preview: string } };
}

async function metrics(ts: TestServer): Promise<string> {
  return (await fetch(`http://127.0.0.1:${String(ts.port('ws'))}/metrics`)).text();
}
