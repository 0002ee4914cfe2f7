// Offline push in a cluster: two in-process nodes over the machine's Redis sharing one SQLite
// store. A device live in the foreground on the other node gets no notification, whether the
// message is queued on this node (enqueue) or the device comes online while the job waits
// (the worker's check at send time); a device whose app reported background gets one.
// Only node 0 sends pushes (node 1 runs with push off), so every decision below is node 0's.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Command, pb } from '@parley/protocol';
import { SharedStore, counter, deleteKeys, eventually, startNode, uniquePrefix } from './helpers/cluster.js';
import { PushEnv, hexToken } from './helpers/push-env.js';
import type { TestServer } from './helpers/server.js';
import { REDIS, requireService } from './helpers/services.js';
import type { TestClient } from './helpers/test-client.js';

const REDIS_URL = `redis://${REDIS.host}:${String(REDIS.port)}`;
const skip = await requireService(REDIS);
const COALESCE_MS = 2_000;

describe('offline push across cluster nodes', { skip, timeout: 120_000 }, () => {
  const prefix = uniquePrefix();
  let shared: SharedStore;
  let env: PushEnv;
  let node0: TestServer;
  let node1: TestServer;
  let alice: TestClient;
  const clients: TestClient[] = [];

  before(async () => {
    shared = new SharedStore();
    env = await PushEnv.start({ coalesceMs: COALESCE_MS });
    node0 = await startNode(shared, { redisUrl: REDIS_URL, prefix, nodeId: 'p0', overrides: { push: env.push } });
    node1 = await startNode(shared, {
      redisUrl: REDIS_URL,
      prefix,
      nodeId: 'p1',
      overrides: { push: { ...env.push, enabled: false } },
    });
    alice = await node0.login('alice');
    clients.push(alice);
  });
  after(async () => {
    for (const c of clients) c.destroy();
    await node0.stop();
    await node1.stop();
    await shared.close();
    await env.close();
    await deleteKeys(REDIS_URL, prefix);
  });

  const apnsFor = (label: string) => env.apns.delivered.filter((d) => d.deviceToken === hexToken(label));
  const settle = () => new Promise((r) => setTimeout(r, COALESCE_MS + 1_500));
  let n = 0;
  const send = (conversationId: string, text: string) =>
    alice.request(Command.SEND, {
      conversationId,
      clientMessageId: `pc-${String(++n)}`,
      content: { type: pb.MessageType.TEXT, text },
    });
  const direct = async (other: string) =>
    (await alice.request(Command.CONV_CREATE, { type: pb.ConversationType.DIRECT, memberIds: [other] })).state
      ?.conversation?.conversationId ?? '';
  /** Registers the device's APNs token through node 0 and disconnects it. */
  const register = async (userId: string, deviceId: string) => {
    const c = await node0.login(userId, 'tcp', { deviceId });
    await c.request(Command.PUSH_REGISTER, {
      provider: pb.PushProvider.APNS,
      token: hexToken(`${userId}-${deviceId}`),
    });
    await c.close();
  };
  /** What node 0 learns from the cluster about the user's foreground devices. */
  const foregroundSeenBy0 = async (userId: string) =>
    [...((await node0.server.ctx.bus.foregroundDevices([userId])).get(userId) ?? [])].sort();
  const pending = () => node0.server.ctx.push.pushStore!.pendingCount();

  test('foreground on the other node: no push; after it reports background: one push', async () => {
    await register('bob', 'iphone');
    const conv = await direct('bob');
    const bob = await node1.login('bob', 'tcp', { deviceId: 'iphone' });
    clients.push(bob);
    await eventually('bob in the foreground as node 0 sees it', async () =>
      (await foregroundSeenBy0('bob')).includes('iphone'),
    );
    const skippedBefore = await counter(node0, 'parley_push_skipped_total', { reason: 'online' });
    await send(conv, 'you are here');
    assert.equal(await pending(), 0, 'nothing queued for a device live in the foreground elsewhere');
    assert.ok((await counter(node0, 'parley_push_skipped_total', { reason: 'online' })) > skippedBefore);

    await bob.request(Command.SESSION_UPDATE, { appState: pb.AppState.BACKGROUND });
    await eventually(
      'bob in the background as node 0 sees it',
      async () => (await foregroundSeenBy0('bob')).length === 0,
    );
    await send(conv, 'now in your pocket');
    await eventually('the notification', () => apnsFor('bob-iphone').length > 0, 20_000);
    await settle();
    assert.equal(apnsFor('bob-iphone').length, 1);
    assert.deepEqual(apnsFor('bob-iphone')[0]?.payload.aps.alert, { title: 'alice', body: 'now in your pocket' });

    // Back in the foreground: silent again.
    await bob.request(Command.SESSION_UPDATE, { appState: pb.AppState.FOREGROUND });
    await eventually('bob in the foreground again', async () => (await foregroundSeenBy0('bob')).includes('iphone'));
    await send(conv, 'welcome back');
    await settle();
    assert.equal(apnsFor('bob-iphone').length, 1);
  });

  test('a device that comes online on the other node while its job waits gets no push', async () => {
    await register('carol', 'pixel');
    const conv = await direct('carol');
    await send(conv, 'are you around');
    // The ack follows the queue write: the job waits out the coalescing window now.
    assert.equal(await pending(), 1);
    const skippedBefore = await counter(node0, 'parley_push_skipped_total', { reason: 'online' });
    const carol = await node1.login('carol', 'tcp', { deviceId: 'pixel' });
    clients.push(carol);
    await eventually('the job settled', async () => (await pending()) === 0, 20_000);
    assert.ok((await counter(node0, 'parley_push_skipped_total', { reason: 'online' })) > skippedBefore);
    await settle();
    assert.equal(apnsFor('carol-pixel').length, 0);
  });
});
