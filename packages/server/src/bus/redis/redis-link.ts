import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../../metrics.js';

export interface RedisLinkOptions {
  url: string;
  nodeId: string;
  logger: Logger;
  metrics: Metrics;
  /**
   * Called each time the command connection becomes ready: first connect and after every
   * outage. `afterOutage` is false only for a first connect that found Redis at once.
   */
  onReady: (afterOutage: boolean) => void;
  /** A message on a subscribed channel. */
  onMessage: (channel: Buffer, message: Buffer) => void;
}

/** A reply that takes longer than this counts as an error (the node then serves locally). */
const COMMAND_TIMEOUT_MS = 2_000;
const MAX_BACKOFF_MS = 2_000;
const COMMAND_LOG_INTERVAL_MS = 60_000;

/** Reconnect delays: 100, 200, 400 ... ms up to 2 s, with jitter so nodes do not reconnect in step. */
export function backoff(attempt: number): number {
  const base = Math.min(100 * 2 ** Math.min(attempt - 1, 10), MAX_BACKOFF_MS);
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/**
 * The two Redis connections of a node (commands, and subscriptions, which Redis keeps on a
 * connection of their own) and the outage state they share. Commands fail fast while Redis is
 * down (no offline queue, no resend after a reconnect: a resent PUBLISH would deliver twice);
 * both connections retry with backoff. An outage is logged once when it starts and once when
 * it ends, however many commands fail meanwhile.
 */
export class RedisLink {
  readonly cmd: Redis;
  readonly sub: Redis;
  #up = false;
  #outage = false;
  #everReady = false;
  #closing = false;
  #lastCommandLog = 0;
  #readyWaiters: (() => void)[] = [];

  constructor(private readonly options: RedisLinkOptions) {
    const common: RedisOptions = {
      lazyConnect: true,
      retryStrategy: backoff,
      connectionName: `parley-${options.nodeId}`,
    };
    this.cmd = new Redis(options.url, {
      ...common,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      commandTimeout: COMMAND_TIMEOUT_MS,
    });
    // Subscriptions wait for the connection and are renewed by ioredis after a reconnect.
    this.sub = new Redis(options.url, { ...common, maxRetriesPerRequest: null, autoResubscribe: true });
    const { metrics } = options;
    metrics.redisUp.set(0);
    this.cmd.on('ready', () => {
      this.#up = true;
      metrics.redisUp.set(1);
      const afterOutage = this.#outage;
      if (this.#outage) {
        this.#outage = false;
        metrics.redisReconnects.inc();
        options.logger.info({ node: options.nodeId }, 'Redis is reachable again: re-announcing this node');
      }
      this.#everReady = true;
      for (const resolve of this.#readyWaiters.splice(0)) resolve();
      options.onReady(afterOutage);
    });
    this.cmd.on('close', () => {
      this.#up = false;
      metrics.redisUp.set(0);
      if (!this.#closing) this.#startOutage(undefined);
    });
    for (const conn of [this.cmd, this.sub]) {
      conn.on('error', (err: Error) => {
        if (this.#closing) return;
        metrics.redisErrors.inc();
        this.#startOutage(err);
      });
    }
    this.sub.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      options.onMessage(channel, message);
    });
  }

  /** Whether commands can be sent now. */
  get up(): boolean {
    return this.#up;
  }

  /** Connects both; resolves when ready or after `timeoutMs` (retrying goes on in the background). */
  async connect(timeoutMs: number): Promise<void> {
    // Failed first attempts surface as 'error' events and retries; the promises add nothing.
    this.cmd.connect().catch(() => undefined);
    this.sub.connect().catch(() => undefined);
    if (this.#up) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.#readyWaiters.push(resolve);
      timer = setTimeout(resolve, timeoutMs);
      timer.unref();
    });
    clearTimeout(timer);
  }

  /**
   * Counts a failed command. During an outage that is all (the outage was logged when it
   * began); a command failing while the link is up is logged at most once a minute.
   */
  failed(err: unknown): void {
    if (this.#closing) return;
    this.options.metrics.redisErrors.inc();
    if (!this.#up) return;
    const now = Date.now();
    if (now - this.#lastCommandLog < COMMAND_LOG_INTERVAL_MS) return;
    this.#lastCommandLog = now;
    this.options.logger.warn({ node: this.options.nodeId, err }, 'Redis command failed');
  }

  async close(): Promise<void> {
    this.#closing = true;
    // QUIT is queued behind the commands already sent, so they complete first.
    await Promise.allSettled([this.cmd.status === 'ready' ? this.cmd.quit() : undefined]);
    this.cmd.disconnect();
    this.sub.disconnect();
    for (const resolve of this.#readyWaiters.splice(0)) resolve();
  }

  #startOutage(err: unknown): void {
    if (this.#outage) return;
    this.#outage = true;
    const message = this.#everReady
      ? 'Redis unreachable: serving this node’s devices only, retrying with backoff'
      : 'Redis not reachable yet: serving this node’s devices only, retrying with backoff';
    this.options.logger.warn({ node: this.options.nodeId, err }, message);
  }
}
