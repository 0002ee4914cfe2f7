import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { Store } from '../store/types.js';
import type { PushConfig } from './config.js';
import { defaultSettings, inQuietHours } from './policy.js';
import type { PushProvider, SendOutcome } from './provider.js';
import { render } from './templates.js';
import type { PushJob, PushProviderName, PushStore } from './types.js';

export interface WorkerDeps {
  config: PushConfig;
  store: Store;
  pushStore: PushStore;
  providers: ReadonlyMap<PushProviderName, PushProvider>;
  metrics: Metrics;
  logger: Logger;
  /** Whether the device holds a live link with the app in the foreground, on any node (then no push). */
  liveInForeground(userId: string, deviceId: string): Promise<boolean>;
}

/**
 * Sends the durable queue: claims due jobs under a lease, renders each one at send time (so
 * the badge and text are current and a conversation read meanwhile sends nothing), hands it
 * to its provider and settles it by the outcome. A job is deleted only after its provider
 * answered; a crash leaves it leased, and it is sent after the lease runs out.
 */
export class PushWorker {
  readonly owner = `${hostname()}-${String(process.pid)}-${randomBytes(4).toString('hex')}`;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  #running = false;
  #again = false;
  #stopped = false;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(private readonly deps: WorkerDeps) {}

  start(): void {
    this.wake(Date.now());
  }

  /** Runs a pass at `at` (now when omitted) unless one is already due sooner. */
  wake(at = Date.now()): void {
    if (this.#stopped) return;
    const now = Date.now();
    const when = Math.max(at, now);
    if (this.#timer !== undefined && this.#timerAt <= when) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = when;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      void this.#pass();
    }, when - now);
    this.#timer.unref();
  }

  /** Stops claiming and waits (bounded) for sends in flight; unsent jobs stay queued. */
  async stop(timeoutMs = 5_000): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.#inFlight]),
      new Promise((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
  }

  async #pass(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    try {
      const { config, pushStore } = this.deps;
      for (;;) {
        const room = config.concurrency - this.#inFlight.size;
        if (room <= 0 || this.#stopped) break;
        const now = Date.now();
        const jobs = await pushStore.claim(this.owner, now, config.leaseMs, room);
        for (const job of jobs) this.#track(this.#deliver(job));
        if (jobs.length < room) break;
      }
      if (!this.#stopped) {
        this.deps.metrics.pushQueueDepth.set(await pushStore.pendingCount());
        const next = await pushStore.nextDueAt();
        const poll = Date.now() + config.pollMs;
        this.wake(next === undefined ? poll : Math.min(next, poll));
      }
    } catch (err) {
      this.deps.logger.warn({ err }, 'push queue pass failed');
      if (!this.#stopped) this.wake(Date.now() + this.deps.config.pollMs);
    } finally {
      this.#running = false;
      // A wake that came during the pass (a freed slot, a new job) gets its own pass.
      if (this.#again && !this.#stopped) {
        this.#again = false;
        this.wake();
      }
    }
  }

  #track(p: Promise<void>): void {
    this.#inFlight.add(p);
    void p.finally(() => {
      this.#inFlight.delete(p);
      // A freed slot may let a waiting job go.
      if (!this.#stopped) this.wake();
    });
  }

  async #deliver(job: PushJob): Promise<void> {
    const { store, pushStore, providers, metrics, logger, config } = this.deps;
    try {
      const skip = async (reason: string) => {
        metrics.pushSkipped.inc({ reason });
        await pushStore.complete(job.id, this.owner);
      };
      const device = await pushStore.getDevice(job.userId, job.deviceId);
      if (!device) {
        await skip('no_device');
        return;
      }
      const provider = providers.get(device.provider);
      if (!provider) {
        await skip('provider_off');
        return;
      }
      if (await this.deps.liveInForeground(job.userId, job.deviceId)) {
        await skip('online');
        return;
      }
      const member = await store.getMember(job.conversationId, job.userId);
      if (!member || member.removed) {
        await skip('not_member');
        return;
      }
      if (member.readSeq >= job.lastSeq) {
        await skip('read');
        return;
      }
      const [conversation, message, settings, badge] = await Promise.all([
        store.getConversation(job.conversationId),
        store.getMessage(job.conversationId, job.lastSeq),
        pushStore.getSettings(job.userId),
        pushStore.unreadTotal(job.userId),
      ]);
      if (!conversation || !message) {
        await skip('message_gone');
        return;
      }
      const prefs = settings ?? defaultSettings(job.userId);
      const now = Date.now();
      const notification = render({
        conversation,
        message,
        count: job.count,
        badge,
        preview: prefs.preview,
        quiet: inQuietHours(prefs, now),
        locale: device.locale,
        previewChars: config.previewChars,
      });
      const started = performance.now();
      const outcome = await provider.send(device, notification);
      metrics.pushLatency.observe({ provider: provider.name }, (performance.now() - started) / 1000);
      if (outcome.refreshedAfter !== undefined) {
        metrics.pushResults.inc({ provider: provider.name, outcome: 'refreshed', reason: outcome.refreshedAfter });
      }
      metrics.pushResults.inc({ provider: provider.name, outcome: outcome.kind, reason: outcome.reason });
      await this.#settle(job, device.provider, device.token, outcome);
    } catch (err) {
      // The lease runs out and the job is tried again.
      logger.warn({ err, job: job.id }, 'push delivery failed');
    }
  }

  async #settle(job: PushJob, provider: PushProviderName, token: string, outcome: SendOutcome): Promise<void> {
    const { pushStore, logger, metrics, config } = this.deps;
    const log = { job: job.id, user: job.userId, device: job.deviceId, provider, reason: outcome.reason };
    switch (outcome.kind) {
      case 'sent':
        await pushStore.complete(job.id, this.owner);
        return;
      case 'dropped':
        logger.warn(log, 'push notification refused by provider; dropped');
        await pushStore.complete(job.id, this.owner);
        return;
      case 'unregistered':
        logger.info(log, 'push token no longer valid; registration removed');
        await pushStore.removeToken(provider, token);
        await pushStore.complete(job.id, this.owner);
        return;
      case 'retry': {
        const attempts = job.attempts + 1;
        if (attempts >= config.maxAttempts) {
          logger.warn({ ...log, attempts }, 'push notification gave up after retries');
          metrics.pushSkipped.inc({ reason: 'gave_up' });
          await pushStore.complete(job.id, this.owner);
          return;
        }
        const delay = Math.max(backoff(attempts, config.retryBaseMs, config.retryMaxMs), outcome.retryAfterMs ?? 0);
        logger.debug({ ...log, attempts, delay }, 'push notification will be retried');
        const at = Date.now() + delay;
        await pushStore.retry(job.id, this.owner, at);
        this.wake(at);
        return;
      }
    }
  }
}

/** Exponential backoff with ±20% jitter: base·2^(attempt−1), capped at `max`. */
export function backoff(attempt: number, base: number, max: number): number {
  const raw = Math.min(max, base * 2 ** Math.min(30, Math.max(0, attempt - 1)));
  return Math.round(raw * (0.8 + Math.random() * 0.4));
}
