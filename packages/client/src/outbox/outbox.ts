import { Command, ErrorCode, ParleyError, type pb } from '@parley/protocol';
import type { Connection } from '../connection/connection.js';
import { ClientError, ClientErrorCode } from '../errors.js';
import { Emitter } from '../events.js';
import { Priority } from '../tasks/types.js';
import { ulid } from './ids.js';
import type { OutboxEvents, OutboxMessage, OutboxRecord, OutboxState, OutboxStore } from './types.js';

/** Options of {@link Outbox}. */
export interface OutboxOptions {
  connection: Connection;
  store: OutboxStore;
  /** Per-attempt answer timeout for SEND. Default 10 s. */
  timeoutMs?: number;
  /** First wait before resending after a retryable error on a live link; doubles up to `retryCapMs`. Default 500 ms. */
  retryBaseMs?: number;
  /** Default 30 s. */
  retryCapMs?: number;
  /** Settled messages (not `sending`) kept in memory and in the store; the oldest go first. Default 500. */
  keepSettled?: number;
  /** The highest receipts known for a conversation, applied when an ack arrives after them. */
  receipts?: (conversationId: string) => { delivered: number; read: number };
  /**
   * Whether SENDs can go out now. Default: the connection is logged in. `ParleyClient` adds
   * "or the short link is in use" (call `linkChanged()` when that starts).
   */
  canSend?: () => boolean;
}

/** Server codes after which the same SEND may succeed later: the message stays `sending`. */
const TRANSIENT_CODES = new Set<number>([
  ErrorCode.UNAVAILABLE,
  ErrorCode.TIMEOUT,
  ErrorCode.RATE_LIMITED,
  ErrorCode.SHUTTING_DOWN,
]);

const RANK: Record<OutboxState, number> = { failed: -1, sending: 0, sent: 1, delivered: 2, read: 3 };

/**
 * The outbox: every message is stored before it is sent, sent with a client message id that
 * stays the same across every resend (the server answers a resend with the first ack), and
 * kept until acknowledged. Messages of one conversation go out one at a time in the order they
 * were made, so their seqs follow that order; conversations proceed independently. While the
 * link is down nothing is lost: sending messages wait and go out after the next login, and a
 * new outbox on the same store (an app restart) picks them up in `start()`.
 */
export class Outbox {
  readonly #events = new Emitter<OutboxEvents>();
  readonly #conn: Connection;
  readonly #store: OutboxStore;
  readonly #options: OutboxOptions;
  readonly #messages = new Map<string, OutboxRecord>();
  /** Per conversation: messages still `sending`, in send order. */
  readonly #queues = new Map<string, OutboxRecord[]>();
  /** Per conversation: acknowledged messages not yet `read`, ascending by seq. */
  readonly #unread = new Map<string, OutboxRecord[]>();
  /** The store write of each message not yet persisted (sending waits for it). */
  readonly #persisting = new Map<string, Promise<void>>();
  readonly #pumping = new Set<string>();
  readonly #writes = new Set<Promise<void>>();
  #order = 0;
  #running = false;
  #loaded: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #wakeup: Promise<void> | undefined;
  #offConnected: (() => void) | undefined;

  constructor(options: OutboxOptions) {
    this.#options = options;
    this.#conn = options.connection;
    this.#store = options.store;
  }

  on<K extends keyof OutboxEvents>(event: K, listener: OutboxEvents[K]): () => void {
    return this.#events.on(event, listener);
  }

  /** Loads stored messages (once). `start()` does it too. */
  load(): Promise<void> {
    this.#loaded ??= this.#store.load().then((records) => {
      const early = [...this.#messages.values()]; // sent before the store loaded: they go after
      records.sort((a, b) => a.order - b.order);
      let order = 0;
      for (const record of records) {
        if (this.#messages.has(record.localId)) continue;
        order = Math.max(order, record.order);
        this.#messages.set(record.localId, record);
        if (record.state === 'sending') this.#enqueue(record);
        else if (record.state === 'sent' || record.state === 'delivered') this.#trackUnread(record);
      }
      this.#order = order;
      for (const record of early) {
        this.#messages.delete(record.localId);
        this.#messages.set(record.localId, record); // keep the map in send order too
        record.order = ++this.#order;
        this.#persist(record);
      }
      for (const queue of this.#queues.values()) queue.sort((a, b) => a.order - b.order);
    });
    return this.#loaded;
  }

  /** Loads the store and starts sending (now if connected, else after the next login). */
  async start(): Promise<void> {
    await this.load();
    if (this.#running) return;
    this.#running = true;
    this.#offConnected = this.#conn.on('connected', () => {
      this.#kick();
    });
    for (const conversationId of this.#queues.keys()) void this.#pump(conversationId);
  }

  /** Stops sending; messages in flight keep their state and go out after the next `start()`. */
  stop(): void {
    this.#running = false;
    this.#offConnected?.();
    this.#offConnected = undefined;
    this.#kick();
  }

  /** Every message the outbox holds (sending, failed, and the most recent settled ones), in send order. */
  list(conversationId?: string): OutboxMessage[] {
    const all = [...this.#messages.values()].filter(
      (m) => conversationId === undefined || m.conversationId === conversationId,
    );
    return all.sort((a, b) => a.order - b.order);
  }

  get(localId: string): OutboxMessage | undefined {
    return this.#messages.get(localId);
  }

  /** Messages not acknowledged yet. */
  get pending(): number {
    let n = 0;
    for (const queue of this.#queues.values()) n += queue.length;
    return n;
  }

  /**
   * Adds a message and returns it in state `sending`. It is written to the store before it is
   * sent; it goes out when the link is up, after the conversation's earlier messages. The
   * returned object is the outbox's own record, updated in place (and passed to `change`).
   */
  send(conversationId: string, content: pb.MessageContent.$Properties): OutboxMessage {
    const localId = ulid();
    const record: OutboxRecord = {
      localId,
      conversationId,
      content,
      state: 'sending',
      createdAt: Date.now(),
      order: ++this.#order,
      attempts: 0,
    };
    this.#messages.set(localId, record);
    this.#persist(record);
    this.#enqueue(record);
    this.#events.emit('change', record, undefined);
    void this.#pump(conversationId);
    return record;
  }

  /** Sends a `failed` message again (same client message id, after the conversation's queue). False if it is not failed. */
  retry(localId: string): boolean {
    const record = this.#messages.get(localId);
    if (record?.state !== 'failed') return false;
    delete record.error;
    record.attempts = 0;
    record.order = ++this.#order;
    this.#setState(record, 'sending');
    this.#enqueue(record);
    void this.#pump(record.conversationId);
    return true;
  }

  /** Removes a `failed` message for good. False if it is not failed. */
  discard(localId: string): boolean {
    const record = this.#messages.get(localId);
    if (record?.state !== 'failed') return false;
    this.#messages.delete(localId);
    void this.#write(() => this.#store.delete(localId));
    return true;
  }

  /**
   * A member other than the sender moved a cursor: messages of the conversation up to `seq`
   * become `delivered` (DELIVERED or READ) or `read` (READ).
   */
  applyCursor(conversationId: string, kind: 'delivered' | 'read', seq: number): void {
    const list = this.#unread.get(conversationId);
    if (!list) return;
    const target: OutboxState = kind === 'read' ? 'read' : 'delivered';
    let keep = 0;
    for (const record of list) {
      if ((record.seq ?? 0) <= seq && RANK[record.state] < RANK[target]) this.#setState(record, target);
      if (record.state !== 'read') list[keep++] = record;
    }
    list.length = keep;
    if (keep === 0) this.#unread.delete(conversationId);
  }

  /** A way to send opened (the short link came into use): try the waiting messages now. */
  linkChanged(): void {
    this.#kick();
  }

  /** Resolves once every store write made so far has settled. */
  async flush(): Promise<void> {
    await Promise.all([...this.#writes]);
  }

  // ---- sending ----------------------------------------------------------------------------

  async #pump(conversationId: string): Promise<void> {
    if (this.#pumping.has(conversationId) || !this.#running) return;
    this.#pumping.add(conversationId);
    try {
      for (;;) {
        const record = this.#queues.get(conversationId)?.[0];
        if (!record || !this.#isRunning()) return;
        await this.#persisting.get(record.localId);
        if (!this.#canSend()) {
          await this.#nextWake();
          continue;
        }
        let ack: pb.SendMessageResponse;
        try {
          ack = await this.#conn.request(
            Command.SEND,
            { conversationId, clientMessageId: record.localId, content: record.content },
            { retries: 0, timeoutMs: this.#options.timeoutMs ?? 10_000, maxAgeMs: Infinity, priority: Priority.NORMAL },
          );
        } catch (err) {
          if (isPermanent(err)) {
            this.#dequeue(record);
            record.error = errorInfo(err);
            this.#setState(record, 'failed');
          } else {
            record.attempts++;
            await this.#backOff(record, err);
          }
          continue;
        }
        this.#dequeue(record);
        this.#acked(record, ack);
      }
    } finally {
      this.#pumping.delete(conversationId);
    }
  }

  #acked(record: OutboxRecord, ack: pb.SendMessageResponse): void {
    record.seq = ack.seq;
    record.messageId = ack.messageId;
    record.serverTime = ack.serverTime;
    this.#setState(record, 'sent');
    this.#trackUnread(record);
    const receipts = this.#options.receipts?.(record.conversationId);
    if (receipts) {
      if (receipts.delivered >= ack.seq) this.applyCursor(record.conversationId, 'delivered', receipts.delivered);
      if (receipts.read >= ack.seq) this.applyCursor(record.conversationId, 'read', receipts.read);
    }
    this.#prune();
  }

  /** Waits before the next attempt: until the next login when offline, else a growing delay. */
  async #backOff(record: OutboxRecord, err: unknown): Promise<void> {
    if (!this.#canSend()) return; // the loop waits for the next login (or the short link)
    const hinted = err instanceof ClientError ? err.retryAfterMs : 0;
    const base = this.#options.retryBaseMs ?? 500;
    const cap = this.#options.retryCapMs ?? 30_000;
    const backoff = Math.min(cap, base * 2 ** Math.min(16, record.attempts - 1));
    const delay = hinted > 0 ? hinted : backoff / 2 + Math.random() * (backoff / 2);
    await Promise.race([new Promise((resolve) => setTimeout(resolve, delay)), this.#nextWake()]);
  }

  /** Resolves at the next login, `stop()` or `#kick()`. */
  #nextWake(): Promise<void> {
    this.#wakeup ??= new Promise<void>((resolve) => {
      this.#wake = resolve;
    });
    return this.#wakeup;
  }

  #canSend(): boolean {
    return this.#options.canSend?.() ?? this.#conn.state === 'connected';
  }

  /** A method, not the field, so checks after an `await` are not narrowed away. */
  #isRunning(): boolean {
    return this.#running;
  }

  #kick(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    this.#wakeup = undefined;
    wake?.();
    if (this.#running) for (const conversationId of this.#queues.keys()) void this.#pump(conversationId);
  }

  // ---- bookkeeping ------------------------------------------------------------------------

  #enqueue(record: OutboxRecord): void {
    let queue = this.#queues.get(record.conversationId);
    if (!queue) this.#queues.set(record.conversationId, (queue = []));
    queue.push(record);
    // Order only matters on load and after retry(): keep the queue sorted by send order.
    if (queue.length > 1 && (queue[queue.length - 2] as OutboxRecord).order > record.order) {
      queue.sort((a, b) => a.order - b.order);
    }
  }

  #dequeue(record: OutboxRecord): void {
    const queue = this.#queues.get(record.conversationId);
    if (!queue) return;
    const i = queue.indexOf(record);
    if (i !== -1) queue.splice(i, 1);
    if (queue.length === 0) this.#queues.delete(record.conversationId);
  }

  #trackUnread(record: OutboxRecord): void {
    let list = this.#unread.get(record.conversationId);
    if (!list) this.#unread.set(record.conversationId, (list = []));
    list.push(record);
    if (list.length > 1 && ((list[list.length - 2] as OutboxRecord).seq ?? 0) > (record.seq ?? 0)) {
      list.sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
    }
  }

  #setState(record: OutboxRecord, state: OutboxState): void {
    const previous = record.state;
    if (previous === state) return;
    record.state = state;
    this.#persist(record);
    this.#events.emit('change', record, previous);
  }

  /** Drops the oldest settled messages beyond `keepSettled`. */
  #prune(): void {
    const keep = this.#options.keepSettled ?? 500;
    let settled = this.#messages.size - this.pending;
    if (settled <= keep) return;
    for (const record of this.#messages.values()) {
      if (settled <= keep) break;
      if (record.state === 'sending' || record.state === 'failed') continue;
      this.#messages.delete(record.localId);
      const list = this.#unread.get(record.conversationId);
      const i = list?.indexOf(record) ?? -1;
      if (list && i !== -1) list.splice(i, 1);
      void this.#write(() => this.#store.delete(record.localId));
      settled--;
    }
  }

  #persist(record: OutboxRecord): void {
    const snapshot: OutboxRecord = { ...record, ...(record.error ? { error: { ...record.error } } : {}) };
    const done = this.#write(() => this.#store.put(snapshot));
    if (record.state !== 'sending') return;
    this.#persisting.set(record.localId, done);
    void done.then(() => {
      if (this.#persisting.get(record.localId) === done) this.#persisting.delete(record.localId);
    });
  }

  /**
   * Starts a store call now (stores apply calls in call order, so no chaining is needed and a
   * file store can coalesce a burst into one write); failures are reported, not thrown.
   */
  #write(call: () => Promise<void>): Promise<void> {
    const run = call().catch((err: unknown) => {
      this.#events.emit('error', err instanceof Error ? err : new Error(String(err)));
    });
    this.#writes.add(run);
    void run.then(() => this.#writes.delete(run));
    return run;
  }
}

/** Whether a SEND error means the server refused the message (it will refuse it again as is). */
function isPermanent(err: unknown): boolean {
  if (err instanceof ClientError) return err.clientCode === ClientErrorCode.SERVER && !TRANSIENT_CODES.has(err.code);
  if (err instanceof ParleyError) return !TRANSIENT_CODES.has(err.code);
  return true; // e.g. content the codec cannot encode
}

function errorInfo(err: unknown): { code: number; message: string } {
  if (err instanceof ParleyError) return { code: err.code, message: err.message };
  return { code: ErrorCode.INVALID_ARGUMENT, message: err instanceof Error ? err.message : String(err) };
}
