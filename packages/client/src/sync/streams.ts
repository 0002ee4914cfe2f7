import type { ChatMessage } from './types.js';

/** Where the app stands in one conversation's message stream. */
export interface Stream {
  /** Every message up to this seq has been delivered to the app (0: none). */
  last: number;
  /** The oldest seq the app holds or will get as a `message` event; `loadHistory` pages below it. */
  oldest: number;
  /** The highest seq known to exist (from a push, an ack or a conversation state). */
  target: number;
  /** Messages above `last + 1`, held until the gap below them is filled. */
  readonly held: Map<number, ChatMessage>;
  /** The pull in progress, if any. */
  pulling: Promise<boolean> | undefined;
}

/**
 * The ordering core of sync, free of I/O: per conversation, the last delivered seq and the
 * messages held behind a gap. `add` drops what was delivered already; `take` returns the
 * contiguous run that can be delivered now, in seq order, and moves `last` past it.
 */
/** Conversations left or removed from, remembered so a re-add does not deliver them again. */
const MAX_LEFT = 1_000;

export class Streams {
  readonly #streams = new Map<string, Stream>();
  /** conversation id → [last, oldest] when the user left it (oldest entry dropped first). */
  readonly #left = new Map<string, [number, number]>();

  get(conversationId: string): Stream | undefined {
    return this.#streams.get(conversationId);
  }

  entries(): IterableIterator<[string, Stream]> {
    return this.#streams.entries();
  }

  /** Restores a stream from storage. */
  restore(conversationId: string, last: number, oldest: number): void {
    this.#streams.set(conversationId, { last, oldest, target: last, held: new Map(), pulling: undefined });
  }

  /** Restores a left conversation's position from storage. */
  restoreLeft(conversationId: string, last: number, oldest: number): void {
    this.#remember(conversationId, last, oldest);
  }

  /** Positions in conversations left, for storage. */
  leftEntries(): IterableIterator<[string, [number, number]]> {
    return this.#left.entries();
  }

  /**
   * The stream of a conversation, made on first sight: a conversation never seen starts
   * `window` messages below `latest` (older ones are history, paged with `loadHistory`).
   */
  ensure(conversationId: string, latest: number, window: number): Stream {
    let stream = this.#streams.get(conversationId);
    if (!stream) {
      let last = Math.max(0, latest - window);
      let oldest = last + 1;
      const left = this.#left.get(conversationId);
      if (left) {
        // Back in a conversation left earlier: what the app got before is not delivered again.
        this.#left.delete(conversationId);
        if (left[0] >= last) [last, oldest] = [Math.min(left[0], latest), left[1]];
      }
      stream = { last, oldest, target: latest, held: new Map(), pulling: undefined };
      this.#streams.set(conversationId, stream);
    } else if (latest > stream.target) {
      stream.target = latest;
    }
    return stream;
  }

  /** The user left the conversation (or was removed): its position is remembered for a re-add. */
  delete(conversationId: string): void {
    const stream = this.#streams.get(conversationId);
    if (stream) this.#remember(conversationId, stream.last, stream.oldest);
    this.#streams.delete(conversationId);
  }

  #remember(conversationId: string, last: number, oldest: number): void {
    this.#left.delete(conversationId);
    this.#left.set(conversationId, [last, oldest]);
    if (this.#left.size > MAX_LEFT) this.#left.delete(this.#left.keys().next().value as string);
  }

  /** Holds a message for delivery; false when it was delivered (or is held) already. */
  add(stream: Stream, message: ChatMessage): boolean {
    if (message.seq <= stream.last || stream.held.has(message.seq)) return false;
    stream.held.set(message.seq, message);
    if (message.seq > stream.target) stream.target = message.seq;
    return true;
  }

  /** Removes and returns the messages deliverable now (`last + 1` onwards, without a gap). */
  take(stream: Stream): ChatMessage[] {
    const out: ChatMessage[] = [];
    for (;;) {
      const next = stream.held.get(stream.last + 1);
      if (!next) break;
      stream.held.delete(next.seq);
      stream.last = next.seq;
      out.push(next);
    }
    return out;
  }

  /**
   * Gives up on seqs the server does not have (a range that came back empty): moves `last` to
   * just below the lowest held message, or to `target` when nothing is held.
   */
  skipGap(stream: Stream): void {
    let lowest = Number.POSITIVE_INFINITY;
    for (const seq of stream.held.keys()) lowest = Math.min(lowest, seq);
    stream.last = Number.isFinite(lowest) ? lowest - 1 : Math.max(stream.last, stream.target);
  }
}
