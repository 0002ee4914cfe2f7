import { ErrorCode, ParleyError, pb } from '@parley/protocol';
import type { Bus } from '../bus/types.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { SessionRegistry } from '../session/registry.js';
import { PostgresStore } from '../store/postgres/postgres-store.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import type { Store, StoredMessage } from '../store/types.js';
import type { PushConfig } from './config.js';
import { assertPublicEndpoint } from './endpoint-guard.js';
import { PostgresPushStore } from './postgres-push-store.js';
import { defaultSettings, settingsFromRequest } from './policy.js';
import { type Providers, createProviders } from './providers.js';
import { deviceFromRequest } from './registration.js';
import { SqlitePushStore } from './sqlite-push-store.js';
import { notifies } from './templates.js';
import type { PushDevice, PushEnqueueItem, PushProviderName, PushSettings, PushStore, PushTarget } from './types.js';
import { PushWorker } from './worker.js';

export interface PushServiceDeps {
  config: PushConfig;
  dataDir: string;
  store: Store;
  /** For store adapters other than SQLite and PostgreSQL; undefined with them means push is off. */
  pushStore?: PushStore | undefined;
  registry: SessionRegistry;
  /**
   * The bus, whose presence tells which devices are live in the foreground on other nodes of a
   * cluster; without it only this node's sessions count.
   */
  bus?: Bus | undefined;
  metrics: Metrics;
  logger: Logger;
}

interface Pending {
  message: StoredMessage;
  mentions: readonly string[];
  /** Resolves the caller's messageStored once the batch is written (or failed). */
  done: () => void;
}

const PROVIDER_LABEL: Record<PushProviderName, string> = { apns: 'APNs', fcm: 'FCM', webpush: 'Web Push' };

/**
 * Offline push: device registrations and preferences, the decision which devices of which
 * members get a notification for a stored message, and the durable queue's worker.
 *
 * A stored message is queued, batched per event-loop turn into one transaction, for every
 * registered device of every other active member unless the member muted the conversation
 * (a mention gets through a mute) or the device holds a live link with the app in the
 * foreground. Whether it still goes out is decided again at send time (see PushWorker).
 */
export class PushService {
  readonly #pending: Pending[] = [];
  #flushing: Promise<void> | undefined;
  #scheduled = false;

  private constructor(
    private readonly deps: PushServiceDeps,
    readonly pushStore: PushStore | undefined,
    private readonly providers: Providers,
    readonly worker: PushWorker | undefined,
  ) {}

  /** Opens the push store on the server's store and builds the configured providers. */
  static async create(deps: PushServiceDeps): Promise<PushService> {
    const empty: Providers = { byName: new Map(), vapid: undefined };
    if (!deps.config.enabled) return new PushService(deps, undefined, empty, undefined);
    const pushStore = deps.pushStore ?? pushStoreBeside(deps.store);
    if (!pushStore) {
      deps.logger.warn('push notifications are off: this store adapter has no push store');
      return new PushService(deps, undefined, empty, undefined);
    }
    await pushStore.migrate();
    const providers = await createProviders(deps.config, deps.dataDir, deps.metrics, deps.logger);
    const worker = new PushWorker({
      config: deps.config,
      store: deps.store,
      pushStore,
      providers: providers.byName,
      metrics: deps.metrics,
      logger: deps.logger,
      liveInForeground: async (userId, deviceId) => (await foregroundCheck(deps, [userId]))(userId, deviceId),
    });
    deps.logger.info({ providers: [...providers.byName.keys()] }, 'push notifications on');
    return new PushService(deps, pushStore, providers, worker);
  }

  /** The VAPID public key the web app subscribes with (undefined when Web Push is off). */
  get vapidPublicKey(): string | undefined {
    return this.providers.vapid?.publicKey;
  }

  /** Providers that are configured. */
  get providerNames(): PushProviderName[] {
    return [...this.providers.byName.keys()];
  }

  start(): void {
    this.worker?.start();
  }

  /** Writes what is pending, stops the worker (in-flight sends finish or stay queued), closes providers. */
  async close(): Promise<void> {
    await this.#flush();
    await this.worker?.stop();
    await Promise.all([...this.providers.byName.values()].map((p) => p.close()));
  }

  // Registrations and preferences ---------------------------------------------------------

  async register(
    userId: string,
    deviceId: string,
    req: pb.RegisterPushRequest.$Properties,
    sessionLocale = '',
  ): Promise<PushDevice> {
    const pushStore = this.#store();
    const device = deviceFromRequest(userId, deviceId, req, {
      allowHttpWebPush: this.deps.config.webPushAllowHttp,
      sessionLocale,
      now: Date.now(),
    });
    if (!this.providers.byName.has(device.provider)) {
      throw new ParleyError(
        ErrorCode.UNSUPPORTED,
        `${PROVIDER_LABEL[device.provider]} is not configured on this server (see docs/push.md)`,
      );
    }
    if (device.provider === 'apns' && device.topic === '' && this.deps.config.apnsTopic === '') {
      throw new ParleyError(
        ErrorCode.INVALID_ARGUMENT,
        'topic (the app bundle id) is required: no default is configured',
      );
    }
    if (device.provider === 'webpush' && !this.deps.config.webPushAllowPrivateEndpoints) {
      await assertPublicEndpoint(device.token);
    }
    await pushStore.registerDevice(device);
    this.deps.logger.debug({ user: userId, device: deviceId, provider: device.provider }, 'push registered');
    return device;
  }

  async unregister(userId: string, deviceId: string): Promise<boolean> {
    return this.#store().unregisterDevice(userId, deviceId);
  }

  async saveSettings(userId: string, req: pb.PushSettingsRequest.$Properties): Promise<PushSettings> {
    const pushStore = this.#store();
    const settings = settingsFromRequest(userId, req, Date.now());
    await pushStore.saveSettings(settings);
    return settings;
  }

  async settings(userId: string): Promise<PushSettings> {
    return (await this.#store().getSettings(userId)) ?? defaultSettings(userId);
  }

  async devices(userId: string): Promise<PushDevice[]> {
    return this.#store().listDevices(userId);
  }

  // The message path -----------------------------------------------------------------------

  /**
   * A message was stored durably. Queues notifications for it; the write joins the others of
   * this event-loop turn in one transaction. Resolves once they are durable, so an ack sent
   * after it implies the notifications survive a crash. Never rejects (a failure is logged).
   */
  messageStored(
    message: StoredMessage,
    conversationType: pb.ConversationType,
    mentions: readonly string[],
  ): Promise<void> {
    if (!this.pushStore || conversationType === pb.ConversationType.ROOM) return Promise.resolve();
    return new Promise((done) => {
      this.#pending.push({ message, mentions, done });
      if (this.#scheduled) return;
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        void this.#flush();
      });
    });
  }

  /**
   * A sender resent a stored message (same client message id). If a crash came between the
   * message's commit and its notifications' (the sender never got the ack), queue them now.
   */
  async messageResent(
    message: StoredMessage,
    conversationType: pb.ConversationType,
    mentions: readonly string[],
  ): Promise<void> {
    if (!this.pushStore || conversationType === pb.ConversationType.ROOM) return;
    try {
      if ((await this.pushStore.queuedThrough(message.conversationId)) >= message.seq) return;
    } catch (err) {
      this.deps.logger.warn({ err }, 'reading the push queue mark failed');
      return;
    }
    await this.messageStored(message, conversationType, mentions);
  }

  /** Resolves once everything queued so far is written (tests and shutdown). */
  async flushed(): Promise<void> {
    await this.#flush();
  }

  #flush(): Promise<void> {
    if (this.#pending.length === 0) return this.#flushing ?? Promise.resolve();
    const previous = this.#flushing ?? Promise.resolve();
    const batch = this.#pending.splice(0);
    const run = previous.then(() => this.#write(batch));
    this.#flushing = run;
    void run.finally(() => {
      if (this.#flushing === run) this.#flushing = undefined;
    });
    return run;
  }

  async #write(batch: Pending[]): Promise<void> {
    try {
      await this.#enqueue(batch);
    } finally {
      for (const p of batch) p.done();
    }
  }

  async #enqueue(batch: Pending[]): Promise<void> {
    const pushStore = this.pushStore;
    if (!pushStore) return;
    const { metrics, logger, config } = this.deps;
    try {
      const now = Date.now();
      const candidates: { message: StoredMessage; device: PushDevice; mentioned: boolean }[] = [];
      // A batch often holds several messages of one conversation from one sender (a sender
      // with messages in flight shares a commit): their targets are read once.
      const targetsOf = new Map<string, Promise<PushTarget[]>>();
      for (const { message, mentions } of batch) {
        if (!notifies(decodeContent(message))) continue;
        const all = mentions.includes('@all');
        const key = `${message.conversationId}\u0000${message.senderId}`;
        let targets = targetsOf.get(key);
        if (targets === undefined) {
          targets = pushStore.targets(message.conversationId, message.senderId, now);
          targetsOf.set(key, targets);
        }
        for (const { device, muted } of await targets) {
          const mentioned = all || mentions.includes(device.userId);
          if (muted && !mentioned) {
            metrics.pushSkipped.inc({ reason: 'muted' });
            continue;
          }
          candidates.push({ message, device, mentioned });
        }
      }
      if (candidates.length === 0) return;
      const live = await foregroundCheck(
        this.deps,
        candidates.map((c) => c.device.userId),
      );
      const items: PushEnqueueItem[] = [];
      for (const { message, device, mentioned } of candidates) {
        if (live(device.userId, device.deviceId)) {
          metrics.pushSkipped.inc({ reason: 'online' });
          continue;
        }
        items.push({
          userId: device.userId,
          deviceId: device.deviceId,
          conversationId: message.conversationId,
          seq: message.seq,
          mentioned,
          dueAt: now + config.coalesceMs,
        });
      }
      if (items.length === 0) return;
      await pushStore.enqueue(items, now);
      metrics.pushQueued.inc(items.length);
      this.worker?.wake(now + config.coalesceMs);
    } catch (err) {
      logger.error({ err, messages: batch.length }, 'queueing push notifications failed');
    }
  }

  #store(): PushStore {
    if (!this.pushStore) throw new ParleyError(ErrorCode.UNSUPPORTED, 'push notifications are off on this server');
    return this.pushStore;
  }
}

function decodeContent(message: StoredMessage): pb.MessageContent.$Properties {
  try {
    return pb.MessageContent.decode(message.content);
  } catch {
    return {};
  }
}

/** The push store whose tables sit beside the store's, in the same database; undefined for other adapters. */
export function pushStoreBeside(store: Store): PushStore | undefined {
  if (store instanceof SqliteStore) return new SqlitePushStore(store.database);
  if (store instanceof PostgresStore) return new PostgresPushStore(store);
  return undefined;
}

/**
 * Whether a device holds a live link with the app in the foreground: a session on this node,
 * or (through the bus's presence) on another node of the cluster. One bus lookup serves all
 * the users given; a failed lookup counts only this node's sessions (the others get a push).
 */
async function foregroundCheck(
  deps: Pick<PushServiceDeps, 'registry' | 'bus' | 'logger'>,
  userIds: readonly string[],
): Promise<(userId: string, deviceId: string) => boolean> {
  let cluster = new Map<string, Set<string>>();
  if (deps.bus) {
    try {
      cluster = await deps.bus.foregroundDevices([...new Set(userIds)]);
    } catch (err) {
      deps.logger.warn({ err }, 'reading cluster presence for push failed');
    }
  }
  return (userId, deviceId) =>
    liveInForeground(deps.registry, userId, deviceId) || cluster.get(userId)?.has(deviceId) === true;
}

/** A live session of this device on this node with the app in the foreground. */
export function liveInForeground(registry: SessionRegistry, userId: string, deviceId: string): boolean {
  return registry.sessionsOf(userId).some((s) => s.deviceId === deviceId && s.appState !== pb.AppState.BACKGROUND);
}
