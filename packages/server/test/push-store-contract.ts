// The PushStore contract: every implementation (SQLite today, PostgreSQL later) runs this
// suite. It needs the Store the push store sits beside, since targets and badges read its
// members and conversations. Ids are unique per run, so the database may be shared.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { pb } from '@parley/protocol';
import type { PushDevice, PushEnqueueItem, PushStore } from '../src/push/types.js';
import type { Store } from '../src/store/types.js';
import { message, uid } from './store-contract.js';

export interface PushStoreContractOptions {
  /** Closes both and opens the same data again (durable stores only): enables restart cases. */
  reopen?: (pair: StorePair) => Promise<StorePair>;
  cleanup?: () => Promise<void>;
}

export interface StorePair {
  store: Store;
  push: PushStore;
}

function deviceOf(userId: string, deviceId: string, extra: Partial<PushDevice> = {}): PushDevice {
  return {
    userId,
    deviceId,
    provider: 'apns',
    token: randomUUID().replaceAll('-', '').repeat(2),
    webKeys: '',
    topic: 'org.parley.test',
    environment: 'production',
    locale: 'en',
    updatedAt: 1_000,
    ...extra,
  };
}

function item(userId: string, deviceId: string, conversationId: string, seq: number, dueAt = 0): PushEnqueueItem {
  return { userId, deviceId, conversationId, seq, mentioned: false, dueAt };
}

export function pushStoreContract(
  name: string,
  open: () => Promise<StorePair>,
  options: PushStoreContractOptions = {},
): void {
  describe(`PushStore contract: ${name}`, () => {
    const opened: StorePair[] = [];
    const fresh = async () => {
      const pair = await open();
      opened.push(pair);
      return pair;
    };
    after(async () => {
      for (const p of opened) await p.store.close();
      await options.cleanup?.();
    });

    test('registration: replace, move a token between devices, unregister', async () => {
      const { push } = await fresh();
      const user = uid('u');
      const a = deviceOf(user, 'a');
      await push.registerDevice(a);
      assert.deepEqual(await push.getDevice(user, 'a'), a);
      const replaced = { ...a, token: 'ff'.repeat(32), locale: 'de', updatedAt: 2_000 };
      await push.registerDevice(replaced);
      assert.deepEqual(await push.listDevices(user), [replaced]);
      // The same token registered by another device (the phone changed hands) leaves the first.
      const other = uid('u');
      await push.registerDevice({ ...replaced, userId: other, deviceId: 'b' });
      assert.deepEqual(await push.listDevices(user), []);
      assert.equal((await push.listDevices(other)).length, 1);
      assert.equal(await push.unregisterDevice(other, 'b'), true);
      assert.equal(await push.unregisterDevice(other, 'b'), false);
    });

    test('removeToken removes only the registration that still holds the token', async () => {
      const { push } = await fresh();
      const user = uid('u');
      const d = deviceOf(user, 'a');
      await push.registerDevice(d);
      assert.equal(await push.removeToken('apns', 'ab'.repeat(32)), false);
      assert.equal(await push.removeToken('fcm', d.token), false, 'provider must match');
      assert.equal(await push.removeToken('apns', d.token), true);
      assert.equal(await push.getDevice(user, 'a'), undefined);
    });

    test('settings round-trip', async () => {
      const { push } = await fresh();
      const user = uid('u');
      assert.equal(await push.getSettings(user), undefined);
      const s = {
        userId: user,
        preview: 'sender' as const,
        dndEnabled: true,
        dndStartMinute: 1320,
        dndEndMinute: 420,
        timeZone: 'Europe/Berlin',
        updatedAt: 5,
      };
      await push.saveSettings(s);
      assert.deepEqual(await push.getSettings(user), s);
      await push.saveSettings({ ...s, preview: 'none', updatedAt: 6 });
      assert.equal((await push.getSettings(user))?.preview, 'none');
    });

    test('targets: other active members with devices, with their mute; badge is the unread total', async () => {
      const { store, push } = await fresh();
      const [alice, bob, carol, dave] = [uid('alice'), uid('bob'), uid('carol'), uid('dave')];
      const conv = uid('g');
      await store.createConversation({
        id: conv,
        type: pb.ConversationType.GROUP,
        name: 'g',
        attributes: '',
        ownerId: alice,
        members: [alice, bob, carol, dave].map((userId) => ({ userId, role: pb.MemberRole.MEMBER })),
        now: 1_000,
      });
      for (const u of [alice, bob, carol]) await push.registerDevice(deviceOf(u, 'phone'));
      await push.registerDevice(deviceOf(bob, 'tablet'));
      await store.updateMember(conv, carol, { notificationsMuted: true, mutedUntil: 0 });
      const targets = await push.targets(conv, alice, 2_000);
      assert.deepEqual(
        targets.map((t) => [t.device.userId, t.device.deviceId, t.muted]),
        [
          [bob, 'phone', false],
          [bob, 'tablet', false],
          [carol, 'phone', true],
        ].sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
      );
      // A mute with an end in the past no longer counts.
      await store.updateMember(conv, carol, { notificationsMuted: true, mutedUntil: 1_500 });
      assert.equal((await push.targets(conv, alice, 2_000)).find((t) => t.device.userId === carol)?.muted, false);
      await store.removeMembers(conv, [bob], 3_000);
      assert.ok((await push.targets(conv, alice, 3_000)).every((t) => t.device.userId !== bob));

      const results = await store.appendMessages([1, 2, 3].map((i) => message(conv, alice, `m${String(i)}`)));
      assert.ok(results.every((r) => r.ok));
      const direct = uid('d');
      await store.createConversation({
        id: direct,
        type: pb.ConversationType.DIRECT,
        name: '',
        attributes: '',
        ownerId: '',
        members: [alice, carol].map((userId) => ({ userId, role: pb.MemberRole.MEMBER })),
        now: 1_000,
      });
      await store.appendMessages([message(direct, alice, 'd1'), message(direct, alice, 'd2')]);
      assert.equal(await push.unreadTotal(carol), 5);
      assert.equal(await push.unreadTotal(alice), 0, 'own messages are read');
      await store.updateCursor(conv, carol, 'read', 2);
      assert.equal(await push.unreadTotal(carol), 3);
      assert.equal(await push.unreadTotal(uid('nobody')), 0);
    });

    test('enqueue coalesces per device and conversation; claim leases; complete deletes', async () => {
      const { push } = await fresh();
      const user = uid('u');
      const [c1, c2] = [uid('c'), uid('c')];
      await push.enqueue(
        [
          item(user, 'a', c1, 1, 100),
          item(user, 'a', c1, 2, 150),
          { ...item(user, 'a', c1, 3, 160), mentioned: true },
          item(user, 'b', c1, 1, 100),
          item(user, 'a', c2, 9, 100),
        ],
        50,
      );
      assert.equal(await push.pendingCount(), 3);
      assert.equal(await push.nextDueAt(), 100);
      assert.equal(await push.queuedThrough(c1), 3);
      assert.equal(await push.queuedThrough(c2), 9);
      assert.equal(await push.queuedThrough(uid('c')), 0);
      assert.deepEqual(await push.claim('w1', 99, 1_000, 10), [], 'nothing due yet');
      const jobs = await push.claim('w1', 100, 1_000, 10);
      assert.equal(jobs.length, 3);
      const merged = jobs.find((j) => j.deviceId === 'a' && j.conversationId === c1)!;
      assert.deepEqual(
        [merged.firstSeq, merged.lastSeq, merged.count, merged.mentioned, merged.dueAt, merged.attempts],
        [1, 3, 3, true, 100, 0],
      );
      assert.deepEqual(await push.claim('w2', 500, 1_000, 10), [], 'leased jobs are not handed out twice');
      // A message arriving while a job is in flight starts a new one.
      await push.enqueue([item(user, 'a', c1, 4, 600)], 500);
      assert.equal(await push.pendingCount(), 4);
      assert.equal(await push.complete(merged.id, 'w2'), false, 'only the owner settles');
      assert.equal(await push.complete(merged.id, 'w1'), true);
      for (const j of jobs) if (j.id !== merged.id) await push.complete(j.id, 'w1');
      const [next] = await push.claim('w1', 600, 1_000, 10);
      assert.deepEqual([next?.firstSeq, next?.lastSeq, next?.count], [4, 4, 1]);
      await push.complete(next!.id, 'w1');
      assert.equal(await push.pendingCount(), 0);
      assert.equal(await push.nextDueAt(), undefined);
    });

    test('an expired lease makes the job claimable again (a crashed worker)', async () => {
      const { push } = await fresh();
      const user = uid('u');
      const conv = uid('c');
      await push.enqueue([item(user, 'a', conv, 1, 10)], 0);
      const [job] = await push.claim('dead', 10, 100, 10);
      assert.ok(job);
      assert.equal(await push.nextDueAt(), 110);
      assert.deepEqual(await push.claim('live', 109, 100, 10), []);
      const [again] = await push.claim('live', 111, 100, 10);
      assert.equal(again?.id, job.id);
      assert.equal(await push.complete(job.id, 'dead'), false);
      assert.equal(await push.complete(job.id, 'live'), true);
    });

    test('retry releases with attempts + 1 and merges into a newer pending job', async () => {
      const { push } = await fresh();
      const user = uid('u');
      const conv = uid('c');
      await push.enqueue([item(user, 'a', conv, 1, 10)], 0);
      const [job] = await push.claim('w', 10, 1_000, 1);
      assert.equal(await push.retry(job!.id, 'other', 50), false);
      assert.equal(await push.retry(job!.id, 'w', 50), true);
      const [again] = await push.claim('w', 50, 1_000, 1);
      assert.deepEqual([again?.id, again?.attempts], [job!.id, 1]);
      // Meanwhile newer messages queued a second job: the failed one folds into it.
      await push.enqueue([item(user, 'a', conv, 2, 60), item(user, 'a', conv, 3, 60)], 55);
      assert.equal(await push.retry(again!.id, 'w', 200), true);
      assert.equal(await push.pendingCount(), 1);
      const [folded] = await push.claim('w', 200, 1_000, 5);
      assert.deepEqual(
        [folded?.firstSeq, folded?.lastSeq, folded?.count, folded?.attempts, folded?.dueAt],
        [1, 3, 3, 2, 200],
      );
    });

    test('unregistering a device drops its queued jobs', async () => {
      const { push } = await fresh();
      const user = uid('u');
      await push.registerDevice(deviceOf(user, 'a'));
      await push.enqueue([item(user, 'a', uid('c'), 1, 0), item(user, 'b', uid('c'), 1, 0)], 0);
      const before = await push.pendingCount();
      await push.unregisterDevice(user, 'a');
      assert.equal(await push.pendingCount(), before - 1);
    });

    if (options.reopen) {
      const reopen = options.reopen;
      test('queued and leased jobs survive a restart', async () => {
        const pair = await open();
        const user = uid('u');
        const conv = uid('c');
        await pair.push.enqueue([item(user, 'a', conv, 1, 0), item(user, 'b', conv, 1, 0)], 0);
        const claimed = await pair.push.claim('w', 0, 50, 1);
        assert.equal(claimed.length, 1);
        const again = await reopen(pair);
        opened.push(again);
        await new Promise((r) => setTimeout(r, 60));
        const jobs = await again.push.claim('w2', Date.now(), 1_000, 100);
        const mine = jobs.filter((j) => j.userId === user);
        assert.deepEqual(mine.map((j) => j.deviceId).sort(), ['a', 'b']);
      });
    }
  });
}
