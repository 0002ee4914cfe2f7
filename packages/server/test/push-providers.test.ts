import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ApnsProvider, apnsPayload } from '../src/push/apns.js';
import { ApnsProviderToken } from '../src/push/apns-token.js';
import { FcmAccessToken, readServiceAccount } from '../src/push/fcm-auth.js';
import { FcmProvider } from '../src/push/fcm.js';
import { Http2Client } from '../src/push/http2-client.js';
import type { Notification } from '../src/push/templates.js';
import type { PushDevice } from '../src/push/types.js';
import { loadOrCreateVapidKeys } from '../src/push/vapid.js';
import { WebPushProvider } from '../src/push/web-push.js';
import { ApnsStandIn, FcmStandIn } from './helpers/push-stand-ins.js';
import { KEY_ID, TEAM_ID, TOPIC, apnsKey, serviceAccountKeys, writeServiceAccount } from './helpers/push-keys.js';
import { WebPushService } from './helpers/web-push-service.js';

const notification: Notification = {
  title: 'alice',
  body: 'hello there',
  badge: 3,
  collapseId: 'c0llapse1d',
  quiet: false,
  conversationId: 'd:alice:bob',
  seq: 7,
  count: 1,
};

function device(provider: PushDevice['provider'], token: string, extra: Partial<PushDevice> = {}): PushDevice {
  return {
    userId: 'bob',
    deviceId: 'phone',
    provider,
    token,
    webKeys: '',
    topic: '',
    environment: 'production',
    locale: 'en',
    updatedAt: 0,
    ...extra,
  };
}

const hexToken = (n: number) => n.toString(16).padStart(64, 'a');

describe('APNs provider against the stand-in', () => {
  let dir: string;
  let apns: ApnsStandIn;
  let provider: ApnsProvider;
  let token: ApnsProviderToken;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-apns-'));
    const key = apnsKey(dir);
    apns = await ApnsStandIn.start({ teamId: TEAM_ID, keyId: KEY_ID, publicKey: key.publicKey, topic: TOPIC });
    token = await ApnsProviderToken.fromPem(key.pem, TEAM_ID, KEY_ID);
    provider = new ApnsProvider({
      token,
      defaultTopic: TOPIC,
      productionUrl: apns.url,
      sandboxUrl: apns.url,
      maxStreams: 4,
      ttlSeconds: 3600,
      ca: apns.ca,
    });
  });
  after(async () => {
    await provider.close();
    await apns.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a notification carries the documented headers and an aps payload', async () => {
    const outcome = await provider.send(device('apns', hexToken(1)), notification);
    assert.deepEqual(outcome, { kind: 'sent', reason: 'Success' });
    const got = apns.delivered.at(-1)!;
    assert.equal(got.deviceToken, hexToken(1));
    assert.equal(got.headers['apns-topic'], TOPIC);
    assert.equal(got.headers['apns-push-type'], 'alert');
    assert.equal(got.headers['apns-priority'], '10');
    assert.equal(got.headers['apns-collapse-id'], 'c0llapse1d');
    assert.match(got.headers['apns-id'] ?? '', /^[0-9a-f-]{36}$/);
    assert.ok(Number(got.headers['apns-expiration']) > Date.now() / 1000);
    assert.deepEqual(got.payload.aps.alert, { title: 'alice', body: 'hello there' });
    assert.equal(got.payload.aps.badge, 3);
    assert.equal(got.payload.aps.sound, 'default');
  });

  test('quiet hours: low priority, no sound', async () => {
    await provider.send(device('apns', hexToken(2)), { ...notification, quiet: true });
    const got = apns.delivered.at(-1)!;
    assert.equal(got.headers['apns-priority'], '5');
    assert.equal(got.payload.aps.sound, undefined);
  });

  test('one provider token serves many requests, streams stay under the cap', async () => {
    const before = token.minted;
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => provider.send(device('apns', hexToken(100 + i)), notification)),
    );
    assert.ok(results.every((r) => r.kind === 'sent'));
    assert.equal(token.minted, before, 'no new token per request');
    assert.equal(apns.jwtsSeen.size, 1);
    assert.ok(apns.maxOpenStreams <= 4, `open streams ${String(apns.maxOpenStreams)}`);
  });

  test('403 ExpiredProviderToken: a new token is made and the request sent again', async () => {
    apns.expireProviderTokens();
    const outcome = await provider.send(device('apns', hexToken(3)), notification);
    assert.deepEqual(outcome, { kind: 'sent', reason: 'Success', refreshedAfter: 'ExpiredProviderToken' });
    assert.equal(apns.jwtsSeen.size, 2);
    assert.notEqual(apns.delivered.at(-1)!.jwt, [...apns.expiredJwts][0]);
  });

  test('410 Unregistered, 400 reasons, 429 and 5xx map to their outcomes', async () => {
    apns.unregistered.add(hexToken(4));
    assert.deepEqual(await provider.send(device('apns', hexToken(4)), notification), {
      kind: 'unregistered',
      reason: 'Unregistered',
    });
    assert.deepEqual(await provider.send(device('apns', hexToken(5), { topic: 'com.other' }), notification), {
      kind: 'dropped',
      reason: 'DeviceTokenNotForTopic',
    });
    apns.failures.push({ status: 400, reason: 'BadDeviceToken' });
    assert.deepEqual(await provider.send(device('apns', hexToken(5)), notification), {
      kind: 'dropped',
      reason: 'BadDeviceToken',
    });
    apns.failures.push({ status: 429, reason: 'TooManyRequests', retryAfterSeconds: 3 });
    assert.deepEqual(await provider.send(device('apns', hexToken(5)), notification), {
      kind: 'retry',
      reason: 'TooManyRequests',
      retryAfterMs: 3000,
    });
    apns.failures.push({ status: 503, reason: 'ServiceUnavailable' });
    assert.deepEqual(await provider.send(device('apns', hexToken(5)), notification), {
      kind: 'retry',
      reason: 'ServiceUnavailable',
    });
  });

  test('GOAWAY: the next request opens a new connection', async () => {
    await provider.send(device('apns', hexToken(6)), notification);
    const before = provider.clients.production.connects;
    apns.goAwayNext = true;
    assert.equal((await provider.send(device('apns', hexToken(7)), notification)).kind, 'sent');
    // Let the GOAWAY arrive.
    for (let i = 0; i < 100 && provider.clients.production.connects === before; i++) {
      const r = await provider.send(device('apns', hexToken(8)), notification);
      assert.equal(r.kind, 'sent');
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(provider.clients.production.connects, before + 1);
  });

  test('a request refused by GOAWAY (above its last stream id) is sent again on a new connection', async () => {
    const before = provider.clients.production.connects;
    const delivered = apns.delivered.length;
    apns.refuseNext = true;
    assert.equal((await provider.send(device('apns', hexToken(10)), notification)).kind, 'sent');
    assert.equal(provider.clients.production.connects, before + 1);
    assert.equal(apns.delivered.length, delivered + 1);
  });

  test('a payload over 4 KB is shortened to fit', () => {
    const long = apnsPayload({ ...notification, body: 'x'.repeat(10_000) });
    assert.ok(Buffer.byteLength(long) <= 4096);
    assert.ok((JSON.parse(long) as { aps: { alert: { body: string } } }).aps.alert.body.length > 1000);
  });

  test('an unreachable endpoint is a retry, not a crash', async () => {
    const client = new Http2Client('https://127.0.0.1:1', { requestTimeoutMs: 2000 });
    const p = new ApnsProvider({
      token,
      defaultTopic: TOPIC,
      productionUrl: 'https://127.0.0.1:1',
      sandboxUrl: 'https://127.0.0.1:1',
      maxStreams: 1,
      ttlSeconds: 60,
    });
    const outcome = await p.send(device('apns', hexToken(9)), notification);
    assert.equal(outcome.kind, 'retry');
    await p.close();
    await client.close();
  });
});

describe('FCM provider against the stand-in', () => {
  let dir: string;
  let fcm: FcmStandIn;
  let provider: FcmProvider;
  let auth: FcmAccessToken;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-fcm-'));
    const keys = serviceAccountKeys();
    fcm = await FcmStandIn.start(keys);
    const account = readServiceAccount(writeServiceAccount(dir, keys, fcm.tokenUri));
    auth = new FcmAccessToken(account, new Http2Client(fcm.url, { ca: fcm.ca }), '/token', fcm.tokenUri);
    provider = new FcmProvider({ projectId: account.projectId, endpoint: fcm.url, auth, ttlSeconds: 600, ca: fcm.ca });
  });
  after(async () => {
    await provider.close();
    await fcm.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('one OAuth2 exchange serves many sends; the message carries collapse key, tag and count', async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => provider.send(device('fcm', `fcm-token-${String(i)}`), notification)),
    );
    assert.ok(results.every((r) => r.kind === 'sent'));
    assert.equal(fcm.exchanges, 1);
    assert.equal(auth.exchanges, 1);
    const m = fcm.delivered.at(-1)!.message;
    assert.deepEqual(m.notification, { title: 'alice', body: 'hello there' });
    assert.equal(m.android?.collapse_key, 'c0llapse1d');
    assert.equal(m.android?.notification?.tag, 'c0llapse1d');
    assert.equal(m.android?.notification?.notification_count, 3);
    assert.equal(m.data?.conversationId, 'd:alice:bob');
  });

  test('a refused access token is exchanged again and the send retried', async () => {
    fcm.revokeAccessTokens();
    assert.equal((await provider.send(device('fcm', 'fcm-token-x'), notification)).kind, 'sent');
    assert.equal(fcm.exchanges, 2);
  });

  test('UNREGISTERED, QUOTA_EXCEEDED and UNAVAILABLE map to their outcomes', async () => {
    fcm.unregistered.add('gone');
    assert.deepEqual(await provider.send(device('fcm', 'gone'), notification), {
      kind: 'unregistered',
      reason: 'UNREGISTERED',
    });
    fcm.failures.push({ status: 429, reason: 'QUOTA_EXCEEDED', retryAfterSeconds: 2 });
    assert.deepEqual(await provider.send(device('fcm', 'ok'), notification), {
      kind: 'retry',
      reason: 'QUOTA_EXCEEDED',
      retryAfterMs: 2000,
    });
    fcm.failures.push({ status: 503, reason: 'UNAVAILABLE' });
    assert.deepEqual(await provider.send(device('fcm', 'ok'), notification), { kind: 'retry', reason: 'UNAVAILABLE' });
    fcm.failures.push({ status: 400, reason: 'INVALID_ARGUMENT' });
    assert.deepEqual(await provider.send(device('fcm', 'ok'), notification), {
      kind: 'dropped',
      reason: 'INVALID_ARGUMENT',
    });
  });
});

describe('Web Push provider against web-push-testing', () => {
  let dir: string;
  let service: WebPushService;
  let provider: WebPushProvider;
  let publicKey: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-webpush-'));
    service = await WebPushService.start();
    const vapid = loadOrCreateVapidKeys(dir, { publicKey: '', privateKey: '' });
    assert.equal(vapid.created, true);
    assert.equal(loadOrCreateVapidKeys(dir, { publicKey: '', privateKey: '' }).publicKey, vapid.publicKey);
    publicKey = vapid.publicKey;
    // web-push-testing listens on localhost: a private endpoint, allowed here.
    provider = new WebPushProvider({
      vapid,
      subject: 'mailto:ops@example.org',
      ttlSeconds: 60,
      allowPrivateEndpoints: true,
    });
  });
  after(async () => {
    await provider.close();
    await service.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the encrypted payload arrives and decrypts to the notification', async () => {
    const sub = await service.subscribe(publicKey);
    const d = device('webpush', sub.endpoint, { webKeys: JSON.stringify(sub.keys) });
    assert.deepEqual(await provider.send(d, notification), { kind: 'sent', reason: 'Created' });
    const [payload] = await service.messages(sub.clientHash);
    const got = JSON.parse(payload!) as Record<string, unknown>;
    assert.equal(got.title, 'alice');
    assert.equal(got.body, 'hello there');
    assert.equal(got.badge, 3);
    assert.equal(got.tag, 'c0llapse1d');
    assert.equal(got.conversationId, 'd:alice:bob');
  });

  test('an expired subscription answers 410: unregistered', async () => {
    const sub = await service.subscribe(publicKey);
    await service.expire(sub.clientHash);
    const d = device('webpush', sub.endpoint, { webKeys: JSON.stringify(sub.keys) });
    assert.deepEqual(await provider.send(d, notification), { kind: 'unregistered', reason: 'HTTP_410' });
  });
});
