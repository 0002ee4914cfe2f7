// Web Push endpoints must not turn the server into a client of its own network (SSRF): the
// address rule, the registration check (INVALID_ARGUMENT) and the send-time re-check on the
// address actually connected to, against web-push-testing on 127.0.0.1.
import assert from 'node:assert/strict';
import { createECDH, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Command, ErrorCode, ParleyError, pb } from '@parley/protocol';
import { assertPublicEndpoint, isPrivateAddress } from '../src/push/endpoint-guard.js';
import { loadOrCreateVapidKeys } from '../src/push/vapid.js';
import { WebPushProvider } from '../src/push/web-push.js';
import { waitFor } from './helpers/push-env.js';
import { TestServer } from './helpers/server.js';
import { WebPushService } from './helpers/web-push-service.js';

const keys = () => ({
  p256dh: createECDH('prime256v1').generateKeys().toString('base64url'),
  auth: randomBytes(16).toString('base64url'),
});
const subscription = (endpoint: string) => JSON.stringify({ endpoint, keys: keys() });
const isCode = (code: ErrorCode) => (err: unknown) => err instanceof ParleyError && err.code === code;

const notification = {
  title: 'alice',
  body: 'hi',
  badge: 1,
  collapseId: 'c0llapse1d',
  quiet: false,
  conversationId: 'd:alice:bob',
  seq: 1,
  count: 1,
};

describe('the endpoint address rule', () => {
  test('loopback, private, link-local, unique-local and special addresses are private', () => {
    for (const ip of [
      '127.0.0.1',
      '127.9.9.9',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '224.0.0.1',
      '255.255.255.255',
      '::1',
      '::',
      '[::1]',
      'fd00::1',
      'fc12:3456::1',
      'fe80::1',
      'ff02::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:10.0.0.1',
      '64:ff9b::a9fe:a9fe',
      'not-an-ip',
    ]) {
      assert.equal(isPrivateAddress(ip), true, ip);
    }
  });

  test('public addresses pass', () => {
    for (const ip of ['93.184.216.34', '8.8.8.8', '172.32.0.1', '100.128.0.1', '2606:4700::1111', '::ffff:8.8.8.8']) {
      assert.equal(isPrivateAddress(ip), false, ip);
    }
  });

  test('registration check: literals, localhost and names that resolve inside', async () => {
    const dns: Record<string, string[]> = {
      'fcm.example': ['142.250.0.1', '2607:f8b0::1'],
      'inside.example': ['10.0.0.5'],
      'mixed.example': ['142.250.0.1', '127.0.0.1'],
      'rebind.example': ['::ffff:169.254.169.254'],
    };
    const resolve = (name: string) => {
      const found = dns[name];
      if (found) return Promise.resolve(found);
      const code = name === 'flaky.example' ? 'EAI_AGAIN' : 'ENOTFOUND';
      return Promise.reject(Object.assign(new Error(`${code} ${name}`), { code }));
    };
    await assertPublicEndpoint('https://fcm.example/send/abc', resolve);
    await assertPublicEndpoint('https://142.250.0.1/send/abc', resolve);
    for (const endpoint of [
      'https://127.0.0.1/x',
      'https://[::1]:8443/x',
      'https://10.0.0.8/x',
      'https://169.254.169.254/latest/meta-data',
      'https://[fd00::1]/x',
      'https://[::ffff:127.0.0.1]/x',
      'https://0x7f.1/x', // the URL parser makes this 127.0.0.1
      'https://localhost/x',
      'https://push.localhost./x',
      'https://inside.example/x',
      'https://mixed.example/x',
      'https://rebind.example/x',
      'https://nowhere.example/x',
    ]) {
      await assert.rejects(assertPublicEndpoint(endpoint, resolve), isCode(ErrorCode.INVALID_ARGUMENT), endpoint);
    }
    await assert.rejects(
      assertPublicEndpoint('https://flaky.example/x', resolve),
      isCode(ErrorCode.UNAVAILABLE),
      'a resolver that cannot answer now is retryable',
    );
  });
});

describe('Web Push sends re-check the address connected to', () => {
  let dir: string;
  let service: WebPushService;
  let publicKey: string;
  let guarded: WebPushProvider;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-webpush-guard-'));
    service = await WebPushService.start();
    const vapid = loadOrCreateVapidKeys(dir, { publicKey: '', privateKey: '' });
    publicKey = vapid.publicKey;
    guarded = new WebPushProvider({ vapid, subject: 'mailto:ops@example.org', ttlSeconds: 60 });
  });
  after(async () => {
    await guarded.close();
    await service.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const deviceFor = (endpoint: string, webKeys: string) => ({
    userId: 'bob',
    deviceId: 'browser',
    provider: 'webpush' as const,
    token: endpoint,
    webKeys,
    topic: '',
    environment: 'production' as const,
    locale: 'en',
    updatedAt: 1,
  });

  test('an IP literal and a name resolving to loopback are refused, never retried, and nothing is sent', async () => {
    const sub = await service.subscribe(publicKey);
    const webKeys = JSON.stringify(sub.keys);
    assert.match(sub.endpoint, /^http:\/\/127\.0\.0\.1:/);
    assert.deepEqual(await guarded.send(deviceFor(sub.endpoint, webKeys), notification), {
      kind: 'dropped',
      reason: 'private_endpoint',
    });
    // Through a name: the check runs on what the resolver returns, at connect time.
    const byName = sub.endpoint.replace('127.0.0.1', 'localhost');
    assert.deepEqual(await guarded.send(deviceFor(byName, webKeys), notification), {
      kind: 'dropped',
      reason: 'private_endpoint',
    });
    assert.deepEqual(await service.messages(sub.clientHash), []);
  });
});

describe('a server without webPushAllowPrivateEndpoints', () => {
  let service: WebPushService;
  let ts: TestServer;

  before(async () => {
    service = await WebPushService.start();
    // http:// allowed so that web-push-testing's endpoints differ from public ones only by address.
    ts = await TestServer.start({ push: { webPushAllowHttp: true, coalesceMs: 100, pollMs: 50 } });
  });
  after(async () => {
    await ts.stop();
    await service.close();
  });

  test('registrations of private endpoints get INVALID_ARGUMENT, over the protocol and the HTTP API', async () => {
    const c = await ts.login('mia', 'tcp', { deviceId: 'browser' });
    for (const endpoint of [
      'https://127.0.0.1/x',
      'https://[::1]/x',
      'https://169.254.169.254/latest/meta-data',
      'https://localhost:8443/x',
      'http://192.168.0.10/x',
    ]) {
      const res = await c.requestRaw(Command.PUSH_REGISTER, {
        provider: pb.PushProvider.WEB_PUSH,
        webPushSubscription: subscription(endpoint),
      });
      assert.equal(res.status.code, ErrorCode.INVALID_ARGUMENT, endpoint);
      assert.match(res.status.message, /public address|localhost/);
    }
    const http = await fetch(`http://127.0.0.1:${String(ts.port('ws'))}/v1/users/mia/devices/tab/push`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ts.server.adminKey.value}`, 'content-type': 'application/json' },
      body: JSON.stringify({ provider: 'webpush', webPushSubscription: subscription('https://10.0.0.1/x') }),
    });
    assert.equal(http.status, 400);
    assert.deepEqual(await ts.server.ctx.push.devices('mia'), []);
    c.destroy();
  });

  test('a stored private endpoint (registered before the rule) is dropped at send time', async () => {
    const vapid = await (await fetch(`http://127.0.0.1:${String(ts.port('ws'))}/v1/push/web/vapid-public-key`)).json();
    const sub = await service.subscribe((vapid as { publicKey: string }).publicKey);
    await ts.server.ctx.push.pushStore!.registerDevice({
      userId: 'noa',
      deviceId: 'browser',
      provider: 'webpush',
      token: sub.endpoint,
      webKeys: JSON.stringify(sub.keys),
      topic: '',
      environment: 'production',
      locale: 'en',
      updatedAt: Date.now(),
    });
    const alice = await ts.login('alice');
    const conv =
      (await alice.request(Command.CONV_CREATE, { type: pb.ConversationType.DIRECT, memberIds: ['noa'] })).state
        ?.conversation?.conversationId ?? '';
    await alice.request(Command.SEND, {
      conversationId: conv,
      clientMessageId: 'ssrf-1',
      content: { type: pb.MessageType.TEXT, text: 'hello?' },
    });
    await waitFor('the refused send', async () =>
      (await (await fetch(`http://127.0.0.1:${String(ts.port('ws'))}/metrics`)).text()).includes(
        'parley_push_results_total{provider="webpush",outcome="dropped",reason="private_endpoint"} 1',
      ),
    );
    assert.equal(await ts.server.ctx.push.pushStore!.pendingCount(), 0, 'dropped, not retried');
    assert.deepEqual(await service.messages(sub.clientHash), []);
    alice.destroy();
  });
});
