import {
  Command,
  ErrorCode,
  Flags,
  MAX_SEQ,
  SHORT_LINK_COMMANDS,
  SHORT_LINK_MAX_FRAMES,
  commandName,
} from '@parley/protocol';
import type { Connection } from '../connection/connection.js';
import { ClientError, isRetryable } from '../errors.js';
import { Emitter } from '../events.js';
import type { FallbackChannel, FallbackPort } from '../tasks/task-queue.js';
import { HttpLink, ShortLinkError } from './http-link.js';
import { type LinkKind, ShortLinkPolicy, type ShortLinkPolicyOptions } from './policy.js';

/** The short link's settings (`ParleyClientOptions.shortLink`). */
export interface ShortLinkOptions extends ShortLinkPolicyOptions {
  /**
   * The server's `POST /v1/link` URL (or its HTTP base, `https://chat.example.com`). Default:
   * derived from a WebSocket transport's URL; required with a TCP or TLS transport.
   */
  url?: string;
  /** While short, sync (pull new messages) this often; also right after each call that carried sends. Default 15 s. */
  pollMs?: number;
  /** Per HTTP call. Default 20 s. */
  timeoutMs?: number;
  /** HTTP calls at once. Default 2 (what weak mobile networks allow per host). */
  concurrency?: number;
  /** Default: the global `fetch`. */
  fetch?: typeof fetch;
}

export interface ShortLinkEvents {
  /** Requests moved to the short link (`short`) or back to the long one (`long`). */
  link: (link: LinkKind) => void;
  /** Time to pull: on going short, every `pollMs`, and after a call that carried sends was answered. */
  poll: () => void;
  /**
   * A call failed in a way worth a log line, once per run of failures: refused for good (a
   * token the server still refuses after a renewal, a 4xx), or answered with something that is
   * not frames (a proxy or portal in the way). No answer, timeouts, 5xx and 429 are routine
   * outages, as a dropped long link is: see `lastError`.
   */
  error: (error: Error) => void;
}

interface Pending {
  seq: number;
  command: number;
  frame: Uint8Array;
}

/**
 * The short link: when the long link cannot be established (see {@link ShortLinkPolicy}), the
 * connection's queued requests that need no live session — sends, cursors, sync, conversation
 * management — go over `POST /v1/link` in batches of up to 32 frames, and a periodic sync
 * replaces pushes. The long link keeps retrying with its backoff; the moment it logs in,
 * requests go back to it. A request is never on both links at once: it is in flight on one
 * channel of the task queue, and frames not yet posted are handed back when the long link
 * returns; calls already posted finish over HTTP.
 */
export class ShortLink implements FallbackChannel {
  readonly url: string;
  readonly pollMs: number;
  readonly policy: ShortLinkPolicy;
  readonly #events = new Emitter<ShortLinkEvents>();
  readonly #conn: Connection;
  readonly #http: HttpLink;
  readonly #concurrency: number;
  readonly #pending: Pending[] = [];
  #port: FallbackPort | undefined;
  #maxBatch = SHORT_LINK_MAX_FRAMES;
  #seq = 0;
  #posting = 0;
  #scheduled = false;
  /** A failure of the current run of failures was reported. */
  #reported = false;
  #lastError: Error | undefined;
  #abort = new AbortController();
  #poll: ReturnType<typeof setInterval> | undefined;
  #unsubscribe: (() => void)[] = [];
  /** HTTP calls made and request frames carried (for tests and diagnostics). */
  readonly stats = { calls: 0, frames: 0, failures: 0 };

  constructor(
    options: ShortLinkOptions & {
      url: string;
      connection: Connection;
      token: () => Promise<string>;
      deviceId: string;
      maxBodyBytes?: number;
    },
  ) {
    this.url = options.url;
    this.#conn = options.connection;
    this.pollMs = Math.max(1, options.pollMs ?? 15_000);
    this.#concurrency = Math.max(1, options.concurrency ?? 2);
    this.#http = new HttpLink({
      url: options.url,
      token: options.token,
      deviceId: options.deviceId,
      timeoutMs: options.timeoutMs,
      maxBodyBytes: options.maxBodyBytes,
      fetch: options.fetch,
    });
    this.policy = new ShortLinkPolicy(options, (link) => {
      this.#switched(link);
    });
  }

  /** Why the last call failed, until one succeeds. */
  get lastError(): Error | undefined {
    return this.#lastError;
  }

  /** The link requests use now. */
  get link(): LinkKind {
    return this.policy.link;
  }

  on<K extends keyof ShortLinkEvents>(event: K, listener: ShortLinkEvents[K]): () => void {
    return this.#events.on(event, listener);
  }

  /** Follows the connection's attempts (call before `connect()`). */
  start(): void {
    if (this.#unsubscribe.length > 0) return;
    this.#port ??= this.#conn.attachFallback(this);
    const conn = this.#conn;
    this.#unsubscribe = [
      conn.on('state', (state, previous) => {
        const now = Date.now();
        if (state === 'connected') this.policy.connected();
        else if (state === 'closed') {
          // Closed for good: its requests have failed, so calls still out can only keep the process up.
          this.policy.closed();
          this.#abandonCalls();
        } else if (state === 'connecting' && (previous === 'idle' || previous === 'closed')) this.policy.down(now);
      }),
      conn.on('disconnected', (info) => {
        if (info.reconnectInMs === undefined) return; // closed: the state listener handled it
        if (info.wasConnected) this.policy.down(Date.now());
        else this.policy.attemptFailed(Date.now());
      }),
    ];
  }

  /** Stops following the connection and abandons calls in flight (their requests fail or retry). */
  stop(): void {
    for (const off of this.#unsubscribe) off();
    this.#unsubscribe = [];
    this.policy.closed();
    this.#abandonCalls();
  }

  // ---- FallbackChannel ---------------------------------------------------------------------

  ready(): boolean {
    return this.policy.link === 'short';
  }

  carries(command: number): boolean {
    return this.policy.link === 'short' && SHORT_LINK_COMMANDS.has(command);
  }

  nextSeq(): number {
    this.#seq = this.#seq >= MAX_SEQ ? 1 : this.#seq + 1;
    return this.#seq;
  }

  timeoutError(command: number, timeoutMs: number): Error {
    const name = commandName(command) ?? String(command);
    const message = `no response to ${name} over the short link within ${String(timeoutMs)} ms`;
    return new ShortLinkError(ErrorCode.TIMEOUT, 0, message, { command });
  }

  write(frame: Uint8Array): boolean {
    if (this.policy.link !== 'short') return false;
    const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    this.#pending.push({ seq: view.getUint32(6), command: view.getUint16(4), frame });
    // Requests made in the same turn (a sync page's pulls, several conversations' sends) share a call.
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => {
        this.#scheduled = false;
        this.#pump();
      });
    }
    return true;
  }

  // ---- internals ---------------------------------------------------------------------------

  /** Aborts the HTTP calls in flight (their requests fail, or are retried on a later link). */
  #abandonCalls(): void {
    this.#abort.abort();
    this.#abort = new AbortController();
  }

  #switched(link: LinkKind): void {
    if (link === 'short') {
      this.#poll = setInterval(() => this.#events.emit('poll'), this.pollMs);
      this.#reported = false;
      this.#events.emit('link', link);
      this.#port?.flush();
      this.#events.emit('poll');
      return;
    }
    if (this.#poll !== undefined) clearInterval(this.#poll);
    this.#poll = undefined;
    // Not posted yet: back to the queue, for the long link.
    const unsent = this.#pending.splice(0).map((p) => p.seq);
    this.#events.emit('link', link);
    if (unsent.length > 0) this.#port?.returned(unsent);
  }

  #pump(): void {
    while (this.#posting < this.#concurrency && this.#pending.length > 0 && this.policy.link === 'short') {
      void this.#post(this.#pending.splice(0, this.#maxBatch));
    }
  }

  async #post(batch: Pending[]): Promise<void> {
    this.#posting++;
    this.stats.calls++;
    this.stats.frames += batch.length;
    const port = this.#port;
    const seqs = batch.map((p) => p.seq);
    const signal = this.#abort.signal;
    try {
      const frames = await this.#http.exchange(
        batch.map((p) => p.frame),
        signal,
      );
      this.#reported = false;
      this.#lastError = undefined;
      const answered = new Set<number>();
      for (const frame of frames) {
        if ((frame.flags & Flags.RESPONSE) === 0) continue;
        answered.add(frame.seq);
        port?.response(frame);
      }
      const missing = seqs.filter((s) => !answered.has(s));
      if (missing.length > 0) {
        const err = new ShortLinkError(ErrorCode.TIMEOUT, 200, 'the server did not answer these requests in time');
        port?.failed(missing, err);
      }
      if (batch.some((p) => p.command === Command.SEND) && this.policy.link === 'short') this.#events.emit('poll');
    } catch (err) {
      this.stats.failures++;
      const error =
        err instanceof ClientError
          ? err
          : new ShortLinkError(ErrorCode.UNAVAILABLE, 0, `short link: ${String(err)}`, { cause: err });
      if (signal.aborted) {
        port?.failed(seqs, error);
        return;
      }
      if (error instanceof ShortLinkError && error.status === 413 && batch.length > 1) {
        this.#maxBatch = Math.max(1, Math.floor(batch.length / 2)); // too big for the server or a proxy: split
        port?.returned(seqs);
        return;
      }
      port?.failed(seqs, error);
      this.#lastError = error;
      const garbage = error instanceof ShortLinkError && error.status === 200;
      if ((!isRetryable(error) || garbage) && !this.#reported) {
        this.#reported = true;
        this.#events.emit('error', error);
      }
    } finally {
      this.#posting--;
      this.#pump();
    }
  }
}
