import { createHmac } from 'node:crypto';
import type { pb } from '@parley/protocol';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { z } from 'zod';
import type { Config } from '../config.js';
import type { ServerContext } from '../context.js';
import { MessageContentInput, contentToJson, conversationTypes, messageToJson } from '../http/json.js';
import type { Logger } from '../logger.js';
import { loadOrCreateSecret } from '../secrets.js';
import type { BeforeSendDecision, OutgoingMessage, Webhooks } from './webhooks-types.js';

export interface HttpWebhooksOptions {
  /** URLs, timeout, fail-open policy, attempts: `config.webhooks`. */
  webhooks: Config['webhooks'];
  /** The app secret: bodies are signed with HMAC-SHA256 under it. */
  secret: string;
  logger: Logger;
  /** Where the webhook metrics are registered (the server's registry). */
  registry?: Registry;
  /** After-send messages held at most (queued, waiting to retry, in flight); the oldest is dropped past it. Default 10,000. */
  queueLimit?: number;
  /** After-send posts in flight at once. Default 8. */
  concurrency?: number;
  /** First retry delay; it doubles per attempt, with jitter, up to `retryMaxMs`. Default 1 s. */
  retryBaseMs?: number;
  /** Default 60 s. */
  retryMaxMs?: number;
  /** Timeout of one after-send post. Default 10 s. */
  afterSendTimeoutMs?: number;
  /** How long `close()` waits for posts in flight before aborting them. Default 2 s. */
  closeTimeoutMs?: number;
}

/** The answer the before-send hook must give (status 200, JSON). */
const Decision = z.discriminatedUnion('action', [
  z.object({ action: z.literal('accept'), content: MessageContentInput.nullish() }),
  z.object({ action: z.literal('reject'), reason: z.string().max(1000).default('rejected by the app') }),
]);

interface Job {
  id: string;
  body: string;
  attempts: number;
}

export const FAIL_CLOSED_REASON = 'before-send hook unavailable';

/**
 * The app's webhooks over HTTP (global fetch).
 *
 * before-send: POSTs the message to `beforeSendUrl` and waits up to `beforeSendTimeoutMs` for
 * `{"action":"accept"[, "content"]}` or `{"action":"reject", "reason"}`. Any failure (network,
 * timeout, status other than 200, an answer that does not parse) applies the policy:
 * `beforeSendFailOpen` accepts the message as sent, otherwise it is rejected.
 *
 * after-send: POSTs each stored message to `afterSendUrl` in the background, at most
 * `concurrency` at once, retrying network errors, timeouts, 408, 429 and 5xx with exponential
 * backoff up to `afterSendMaxAttempts` attempts. Memory is bounded: past `queueLimit` the oldest
 * message is dropped (counted in parley_webhook_after_send_dropped_total). Delivery to users
 * never waits for it.
 *
 * Every request carries `X-Parley-Signature: sha256=<hex HMAC-SHA256 of the raw body>` keyed
 * with the app secret, and `X-Parley-Event`.
 */
export class HttpWebhooks implements Webhooks {
  readonly beforeSendEnabled: boolean;
  readonly #config: Config['webhooks'];
  readonly #secret: string;
  readonly #logger: Logger;
  readonly #queueLimit: number;
  readonly #concurrency: number;
  readonly #retryBaseMs: number;
  readonly #retryMaxMs: number;
  readonly #afterSendTimeoutMs: number;
  readonly #closeTimeoutMs: number;
  readonly #metrics: ReturnType<typeof webhookMetrics>;
  /** Aborts every request when close() gives up waiting. */
  readonly #abort = new AbortController();

  readonly #ready: Job[] = [];
  readonly #waiting = new Map<Job, NodeJS.Timeout>();
  readonly #inFlight = new Set<Promise<void>>();
  #dropped = 0;
  #closed = false;

  constructor(options: HttpWebhooksOptions) {
    this.#config = options.webhooks;
    this.#secret = options.secret;
    this.#logger = options.logger.child({ component: 'webhooks' });
    this.#queueLimit = options.queueLimit ?? 10_000;
    this.#concurrency = options.concurrency ?? 8;
    this.#retryBaseMs = options.retryBaseMs ?? 1_000;
    this.#retryMaxMs = options.retryMaxMs ?? 60_000;
    this.#afterSendTimeoutMs = options.afterSendTimeoutMs ?? 10_000;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 2_000;
    this.#metrics = webhookMetrics(options.registry);
    this.beforeSendEnabled = this.#config.beforeSendUrl !== '';
    for (const [name, url] of [
      ['beforeSendUrl', this.#config.beforeSendUrl],
      ['afterSendUrl', this.#config.afterSendUrl],
    ] as const) {
      if (url && !URL.canParse(url)) this.#logger.error({ [name]: url }, 'webhook URL is not a valid URL');
    }
  }

  /** The server's webhooks: its config, its app secret and its metrics registry. */
  static fromContext(
    ctx: ServerContext,
    options: Omit<HttpWebhooksOptions, 'webhooks' | 'secret' | 'logger' | 'registry'> = {},
  ): HttpWebhooks {
    const { config } = ctx;
    return new HttpWebhooks({
      ...options,
      webhooks: config.webhooks,
      secret: loadOrCreateSecret(config.dataDir, 'app-secret', config.appSecret).value,
      logger: ctx.logger,
      registry: ctx.metrics.registry,
    });
  }

  /** After-send messages held now (queued, waiting to retry, in flight). */
  get pending(): number {
    return this.#ready.length + this.#waiting.size + this.#inFlight.size;
  }

  /** After-send messages dropped because the queue was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** `sha256=<hex>`: the signature header value for a raw body. */
  sign(body: string): string {
    return `sha256=${createHmac('sha256', this.#secret).update(body).digest('hex')}`;
  }

  async beforeSend(message: OutgoingMessage): Promise<BeforeSendDecision> {
    const url = this.#config.beforeSendUrl;
    if (!url) return { action: 'accept' };
    const body = JSON.stringify({
      conversationId: message.conversationId,
      conversationType: conversationTypes.toJson(message.conversationType),
      senderId: message.senderId,
      senderDeviceId: message.senderDeviceId,
      clientMessageId: message.clientMessageId,
      content: contentToJson(message.content),
    });
    const stopTimer = this.#metrics.beforeSendSeconds.startTimer();
    try {
      const res = await this.#post(url, body, 'before-send', this.#config.beforeSendTimeoutMs, message.clientMessageId);
      const text = await res.text();
      if (res.status !== 200) throw new Error(`status ${String(res.status)}`);
      const parsed = Decision.safeParse(JSON.parse(text));
      if (!parsed.success) throw new Error(`the answer is not a decision: ${parsed.error.message}`);
      const d = parsed.data;
      if (d.action === 'reject') {
        this.#metrics.requests.inc({ hook: 'before_send', outcome: 'reject' });
        return { action: 'reject', reason: d.reason };
      }
      this.#metrics.requests.inc({ hook: 'before_send', outcome: d.content ? 'rewrite' : 'accept' });
      return d.content ? { action: 'accept', content: d.content } : { action: 'accept' };
    } catch (err) {
      const failOpen = this.#config.beforeSendFailOpen;
      this.#metrics.requests.inc({ hook: 'before_send', outcome: 'error' });
      this.#logger.warn(
        { err: describe(err), conversation: message.conversationId, failOpen },
        failOpen
          ? 'before-send hook failed: delivering the message (fail open)'
          : 'before-send hook failed: rejecting the message',
      );
      return failOpen ? { action: 'accept' } : { action: 'reject', reason: FAIL_CLOSED_REASON };
    } finally {
      stopTimer();
    }
  }

  afterSend(message: pb.Message.$Properties): void {
    if (!this.#config.afterSendUrl || this.#closed) return;
    const job: Job = { id: message.messageId ?? '', body: JSON.stringify(messageToJson(message)), attempts: 0 };
    if (this.pending >= this.#queueLimit) this.#dropOldest();
    this.#ready.push(job);
    this.#pump();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const abandoned = this.#ready.length + this.#waiting.size;
    for (const timer of this.#waiting.values()) clearTimeout(timer);
    this.#waiting.clear();
    this.#ready.length = 0;
    if (abandoned > 0) this.#logger.warn({ abandoned }, 'after-send messages not delivered before shutdown');
    if (this.#inFlight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled(this.#inFlight),
        new Promise((resolve) => (timer = setTimeout(resolve, this.#closeTimeoutMs))),
      ]);
      clearTimeout(timer);
    }
    this.#abort.abort(new Error('webhooks closed'));
    await Promise.allSettled(this.#inFlight); // aborted: they settle at once
    this.#updateQueueGauge();
  }

  #dropOldest(): void {
    const oldest = this.#ready.shift();
    if (!oldest) {
      const first = this.#waiting.entries().next();
      if (first.done) return; // everything held is in flight
      clearTimeout(first.value[1]);
      this.#waiting.delete(first.value[0]);
    }
    this.#dropped++;
    this.#metrics.dropped.inc();
    if (this.#dropped === 1 || this.#dropped % 1000 === 0) {
      this.#logger.warn(
        { dropped: this.#dropped, queueLimit: this.#queueLimit },
        'after-send queue is full: dropping the oldest messages',
      );
    }
  }

  #pump(): void {
    while (this.#inFlight.size < this.#concurrency && !this.#closed) {
      const job = this.#ready.shift();
      if (!job) break;
      const p: Promise<void> = this.#deliver(job).finally(() => {
        this.#inFlight.delete(p);
        this.#pump();
      });
      this.#inFlight.add(p);
    }
    this.#updateQueueGauge();
  }

  /** One attempt; never throws. */
  async #deliver(job: Job): Promise<void> {
    job.attempts++;
    let retry: boolean;
    let detail: string;
    try {
      const res = await this.#post(
        this.#config.afterSendUrl,
        job.body,
        'after-send',
        this.#afterSendTimeoutMs,
        job.id,
        job.attempts,
      );
      await res.body?.cancel();
      if (res.ok) {
        this.#metrics.requests.inc({ hook: 'after_send', outcome: 'delivered' });
        return;
      }
      retry = res.status === 408 || res.status === 429 || res.status >= 500;
      detail = `status ${String(res.status)}`;
    } catch (err) {
      retry = true;
      detail = describe(err);
    }
    const maxAttempts = this.#config.afterSendMaxAttempts;
    if (retry && job.attempts < maxAttempts && !this.#closed) {
      this.#metrics.requests.inc({ hook: 'after_send', outcome: 'retry' });
      const delay = Math.min(this.#retryMaxMs, this.#retryBaseMs * 2 ** (job.attempts - 1)) * (0.5 + Math.random() / 2);
      this.#logger.debug(
        { message: job.id, attempt: job.attempts, err: detail, delayMs: Math.round(delay) },
        'after-send failed, will retry',
      );
      const timer = setTimeout(() => {
        this.#waiting.delete(job);
        this.#ready.push(job);
        this.#pump();
      }, delay);
      timer.unref();
      this.#waiting.set(job, timer);
      return;
    }
    this.#metrics.requests.inc({ hook: 'after_send', outcome: 'failed' });
    this.#logger.warn(
      { message: job.id, attempts: job.attempts, err: detail },
      'after-send hook failed: giving up on this message',
    );
  }

  #post(url: string, body: string, event: string, timeoutMs: number, id: string, attempt = 1): Promise<Response> {
    return fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'parley-webhooks',
        'x-parley-event': event,
        'x-parley-delivery': id,
        'x-parley-attempt': String(attempt),
        'x-parley-signature': this.sign(body),
      },
      body,
      signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), this.#abort.signal]),
    });
  }

  #updateQueueGauge(): void {
    this.#metrics.queued.set(this.pending);
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}${cause}`;
  }
  return String(err);
}

/** The webhook metrics, registered once per registry (several instances on one registry share them). */
function webhookMetrics(registry: Registry | undefined) {
  const registers = registry ? [registry] : [];
  const found = (name: string) => registry?.getSingleMetric(name);
  const requests = found('parley_webhook_requests_total');
  const dropped = found('parley_webhook_after_send_dropped_total');
  const queued = found('parley_webhook_after_send_queue');
  const beforeSend = found('parley_webhook_before_send_seconds');
  return {
    requests:
      requests instanceof Counter
        ? requests
        : new Counter({
            name: 'parley_webhook_requests_total',
            help: 'Webhook calls by hook and outcome (accept, reject, rewrite, error; delivered, retry, failed)',
            labelNames: ['hook', 'outcome'],
            registers,
          }),
    dropped:
      dropped instanceof Counter
        ? dropped
        : new Counter({
            name: 'parley_webhook_after_send_dropped_total',
            help: 'After-send messages dropped because the queue was full',
            registers,
          }),
    queued:
      queued instanceof Gauge
        ? queued
        : new Gauge({
            name: 'parley_webhook_after_send_queue',
            help: 'After-send messages held (queued, waiting to retry, in flight)',
            registers,
          }),
    beforeSendSeconds:
      beforeSend instanceof Histogram
        ? beforeSend
        : new Histogram({
            name: 'parley_webhook_before_send_seconds',
            help: 'Duration of before-send hook calls',
            buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
            registers,
          }),
  };
}
