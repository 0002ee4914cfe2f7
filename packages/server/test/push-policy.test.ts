import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ErrorCode, ParleyError, pb } from '@parley/protocol';
import { configFromEnv, parseConfig } from '../src/config.js';
import { defaultSettings, inQuietHours, minuteOfDay, settingsFromRequest } from '../src/push/policy.js';
import { parseSubscription } from '../src/push/registration.js';
import { backoff } from '../src/push/worker.js';
import { collapseIdOf, notifies, render, truncate } from '../src/push/templates.js';
import type { ConversationRecord, StoredMessage } from '../src/store/types.js';

const at = (hhmm: string) => Date.parse(`2026-06-01T${hhmm}:00Z`);

describe('do-not-disturb hours', () => {
  const base = { ...defaultSettings('u'), dndEnabled: true };
  test('a window inside one day', () => {
    const s = { ...base, dndStartMinute: 13 * 60, dndEndMinute: 14 * 60 };
    assert.equal(inQuietHours(s, at('12:59')), false);
    assert.equal(inQuietHours(s, at('13:00')), true);
    assert.equal(inQuietHours(s, at('13:59')), true);
    assert.equal(inQuietHours(s, at('14:00')), false);
  });
  test('a window across midnight, in the user time zone', () => {
    const s = { ...base, dndStartMinute: 22 * 60, dndEndMinute: 7 * 60, timeZone: 'Europe/Berlin' };
    // Berlin is UTC+2 in June.
    assert.equal(inQuietHours(s, at('19:59')), false);
    assert.equal(inQuietHours(s, at('20:00')), true);
    assert.equal(inQuietHours(s, at('04:59')), true);
    assert.equal(inQuietHours(s, at('05:00')), false);
    assert.equal(minuteOfDay(at('05:00'), 'Europe/Berlin'), 7 * 60);
  });
  test('off, or an empty window, is never quiet', () => {
    assert.equal(
      inQuietHours({ ...base, dndEnabled: false, dndStartMinute: 0, dndEndMinute: 1439 }, at('10:00')),
      false,
    );
    assert.equal(inQuietHours({ ...base, dndStartMinute: 600, dndEndMinute: 600 }, at('10:00')), false);
  });
  test('settings from a request: preview modes and bad input', () => {
    assert.equal(settingsFromRequest('u', { hidePreview: true }, 1).preview, 'none');
    assert.equal(settingsFromRequest('u', {}, 1).preview, 'full');
    assert.equal(
      settingsFromRequest('u', { hidePreview: true, preview: pb.PushPreview.PUSH_PREVIEW_SENDER_ONLY }, 1).preview,
      'sender',
    );
    for (const bad of [
      { dndEndMinute: 1440 },
      { timeZone: 'Nowhere/Land' },
      pb.PushSettingsRequest.decode(Uint8Array.from([0x30, 99])) /* preview = 99 off the wire */,
    ]) {
      assert.throws(
        () => settingsFromRequest('u', bad, 1),
        (e: unknown) => e instanceof ParleyError && e.code === ErrorCode.INVALID_ARGUMENT,
      );
    }
  });
});

describe('notification templates', () => {
  const conv = (type: pb.ConversationType, name = ''): ConversationRecord => ({
    id: 'conv-1',
    type,
    name,
    attributes: '',
    ownerId: '',
    memberCount: 2,
    lastSeq: 3,
    createdAt: 0,
    updatedAt: 0,
    version: 1,
  });
  const msg = (content: pb.MessageContent.$Properties, recalled = false): StoredMessage => ({
    conversationId: 'conv-1',
    seq: 3,
    messageId: 'm',
    senderId: 'alice',
    senderDeviceId: 'd',
    clientMessageId: 'c',
    serverTime: 0,
    type: content.type ?? pb.MessageType.MESSAGE_TYPE_UNSPECIFIED,
    content: pb.MessageContent.encode(content).finish(),
    recalled,
  });
  const base = { count: 1, badge: 4, preview: 'full' as const, quiet: false, locale: 'en-US', previewChars: 20 };
  const text = { type: pb.MessageType.TEXT, text: 'hello\nthere   friend' };

  test('full preview: sender in 1:1, group name and sender in groups, text on one line', () => {
    const direct = render({ ...base, conversation: conv(pb.ConversationType.DIRECT), message: msg(text) });
    assert.deepEqual([direct.title, direct.body, direct.badge], ['alice', 'hello there friend', 4]);
    assert.equal(direct.collapseId, collapseIdOf('conv-1'));
    assert.equal(direct.collapseId.length, 32);
    const group = render({ ...base, conversation: conv(pb.ConversationType.GROUP, 'team'), message: msg(text) });
    assert.deepEqual([group.title, group.body], ['team', 'alice: hello there …']);
  });

  test('types: photo, several files, custom pushText, withdrawn', () => {
    const c = conv(pb.ConversationType.DIRECT);
    const photo = msg({
      type: pb.MessageType.ATTACHMENT,
      attachments: [{ url: 'https://x/p.jpg', mimeType: 'image/jpeg' }],
    });
    assert.equal(render({ ...base, previewChars: 120, conversation: c, message: photo }).body, 'Sent a photo');
    const files = msg({
      type: pb.MessageType.ATTACHMENT,
      attachments: [{ url: 'https://x/a' }, { url: 'https://x/b' }],
    });
    assert.equal(render({ ...base, previewChars: 120, conversation: c, message: files }).body, 'Sent 2 files');
    const custom = msg({ type: pb.MessageType.CUSTOM, custom: '{"pushText":"shared a location"}' });
    assert.equal(render({ ...base, previewChars: 120, conversation: c, message: custom }).body, 'shared a location');
    const plain = msg({ type: pb.MessageType.CUSTOM, custom: '{"k":1}' });
    assert.equal(render({ ...base, previewChars: 120, conversation: c, message: plain }).body, 'Sent a message');
    assert.equal(
      render({ ...base, previewChars: 120, conversation: c, message: msg(text, true) }).body,
      'A message was withdrawn',
    );
  });

  test('privacy modes and bursts, in the device language', () => {
    const c = conv(pb.ConversationType.GROUP, 'team');
    const none = render({ ...base, preview: 'none', count: 3, conversation: c, message: msg(text) });
    assert.deepEqual([none.title, none.body], ['New message', '3 new messages']);
    const sender = render({ ...base, preview: 'sender', locale: 'de-DE', conversation: c, message: msg(text) });
    assert.deepEqual([sender.title, sender.body], ['team', 'Neue Nachricht von alice']);
    const zh = render({ ...base, preview: 'none', locale: 'zh-Hans', conversation: c, message: msg(text) });
    assert.equal(zh.title, '新消息');
  });

  test('which messages notify', () => {
    assert.equal(notifies({ type: pb.MessageType.TEXT }), true);
    assert.equal(notifies({ type: pb.MessageType.RECALL }), false);
    assert.equal(notifies({ type: pb.MessageType.SYSTEM, system: { type: pb.SystemEventType.MEMBERS_ADDED } }), false);
    assert.equal(
      notifies({ type: pb.MessageType.SYSTEM, system: { type: pb.SystemEventType.NOTICE, text: 'x' } }),
      true,
    );
  });

  test('truncation never splits a grapheme', () => {
    assert.equal(truncate('👍🏽👍🏽👍🏽', 2), '👍🏽…');
    assert.equal(truncate('short', 10), 'short');
  });
});

describe('push configuration and inputs', () => {
  test('every push key has an environment name', () => {
    const env = configFromEnv({
      PARLEY_PUSH_APNS_TEAM_ID: 'T1',
      PARLEY_PUSH_COALESCE_MS: '250',
      PARLEY_PUSH_WEB_PUSH: 'off',
    });
    const config = parseConfig(env);
    assert.deepEqual([config.push.apnsTeamId, config.push.coalesceMs, config.push.webPush], ['T1', 250, false]);
    assert.throws(() => parseConfig({ push: { webPushSubject: 'ops@example.org' } }), /webPushSubject/);
    assert.throws(() => parseConfig({ push: { apnsProductionUrl: 'api.push.apple.com' } }), /apnsProductionUrl/);
  });

  test('subscriptions: https only unless allowed, keys of the right size', () => {
    const keys = {
      p256dh: Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)]).toString('base64url'),
      auth: Buffer.alloc(16, 2).toString('base64url'),
    };
    const ok = parseSubscription(JSON.stringify({ endpoint: 'https://push.example/abc', keys }), false);
    assert.equal(ok.endpoint, 'https://push.example/abc');
    const bad = [
      JSON.stringify({ endpoint: 'http://push.example/abc', keys }),
      JSON.stringify({ endpoint: 'https://user:pw@push.example/abc', keys }),
      JSON.stringify({ endpoint: 'https://push.example/abc', keys: { ...keys, auth: 'AA' } }),
      JSON.stringify({ endpoint: 'https://push.example/abc', keys: { ...keys, p256dh: keys.auth } }),
      'x'.repeat(5000),
      'null',
    ];
    for (const json of bad) {
      assert.throws(
        () => parseSubscription(json, false),
        (e: unknown) => e instanceof ParleyError && e.code === ErrorCode.INVALID_ARGUMENT,
        json.slice(0, 80),
      );
    }
    assert.equal(
      parseSubscription(JSON.stringify({ endpoint: 'http://127.0.0.1:9/x', keys }), true).endpoint,
      'http://127.0.0.1:9/x',
    );
  });

  test('backoff grows, jitters within 20% and stays under its cap', () => {
    for (let attempt = 1; attempt <= 20; attempt++) {
      const ms = backoff(attempt, 1_000, 60_000);
      const raw = Math.min(60_000, 1_000 * 2 ** (attempt - 1));
      assert.ok(ms >= raw * 0.8 && ms <= raw * 1.2, `${String(attempt)}: ${String(ms)}`);
    }
  });
});
