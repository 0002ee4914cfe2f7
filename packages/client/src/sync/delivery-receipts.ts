import { Command, pb } from '@parley/protocol';
import type { Connection } from '../connection/connection.js';

/**
 * Sends DELIVERED cursors for received messages, batched: one CURSOR per conversation per
 * `delayMs`, carrying the highest seq received. A cursor is "everything up to seq", so a batch
 * loses nothing, and a lost one is covered by the next (or by the READ cursor).
 */
export class DeliveryReceipts {
  readonly #conn: Connection;
  readonly #delayMs: number;
  readonly #alreadyAt: (conversationId: string) => number;
  readonly #done: ((conversationId: string, seq: number) => void) | undefined;
  readonly #pending = new Map<string, number>();
  readonly #canSend: () => boolean;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * @param options.alreadyAt the caller's delivered cursor as known locally (nothing is sent at or below it)
   * @param options.done called when the server took a cursor
   */
  constructor(
    connection: Connection,
    options: {
      alreadyAt: (conversationId: string) => number;
      done?: (conversationId: string, seq: number) => void;
      delayMs?: number;
      /** Whether cursors can go out now. Default: the connection is logged in. */
      canSend?: () => boolean;
    },
  ) {
    this.#conn = connection;
    this.#alreadyAt = options.alreadyAt;
    this.#done = options.done;
    this.#delayMs = options.delayMs ?? 100;
    this.#canSend = options.canSend ?? (() => this.#conn.state === 'connected');
  }

  /** A message from another member reached the app. */
  received(conversationId: string, seq: number): void {
    if (seq <= (this.#pending.get(conversationId) ?? 0)) return;
    this.#pending.set(conversationId, seq);
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.flush();
    }, this.#delayMs);
  }

  /** Sends what is batched now (if connected; otherwise it waits for the next batch). */
  flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!this.#canSend()) {
      if (this.#pending.size > 0) {
        this.#timer = setTimeout(() => {
          this.flush();
        }, this.#delayMs * 10);
      }
      return;
    }
    for (const [conversationId, seq] of this.#pending) {
      if (seq <= this.#alreadyAt(conversationId)) continue;
      this.#conn.request(Command.CURSOR, { conversationId, kind: pb.CursorKind.DELIVERED, seq }, { retries: 1 }).then(
        (answer) => {
          this.#done?.(conversationId, answer.seq);
        },
        () => undefined, // best effort: the next message or the READ cursor covers it
      );
    }
    this.#pending.clear();
  }

  /** Drops what is batched. */
  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending.clear();
  }
}
