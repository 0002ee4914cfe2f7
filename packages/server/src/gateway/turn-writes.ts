import type { Writable } from 'node:stream';

/**
 * Coalesces the frames a connection writes in one burst into as few socket writes as possible.
 *
 * A group commit settles a batch of SENDs at once, and their continuations advance in
 * lockstep: every message of the batch writes its push in the same wave of promise
 * continuations, and later every ack in another. A recipient or sender with several messages
 * in the batch gets several small frames per wave; written one by one, each is a syscall and a
 * write request. Here the first frame of a burst goes out at once, as before (a lone frame,
 * the common case at low load and in room fan-out, pays nothing and waits for nothing); a
 * second one corks the socket, and the rest of the burst joins it. One microtask per burst
 * (not per socket), queued behind the continuations already waiting, ends the burst for every
 * socket written in it and uncorks the corked ones, so a wave's further frames leave in one
 * `writev` without waiting for the rest of the event-loop turn (a nextTick would hold them
 * until the whole batch had been processed).
 *
 * Bytes held back by the cork are tracked so the send budget keeps its meaning: it counts what
 * the kernel did not take, as it did before (without the cork those bytes would already be in
 * the kernel). A burst that corks FLUSH_AT bytes or more writes them out at once, so the bytes
 * not counted against the budget stay bounded per connection.
 */
export class TurnWrites {
  /** Bytes written since this burst's cork: queued in the socket, not yet offered to the kernel. */
  #held = 0;
  #burst = IDLE;

  constructor(private readonly socket: Writable) {}

  /** Queued bytes the kernel has refused, i.e. excluding what the cork holds back. */
  get queuedBytes(): number {
    return Math.max(0, this.socket.writableLength - this.#held);
  }

  /** Bytes written since this burst's cork and still held back by it. */
  get held(): number {
    return this.#held;
  }

  /** Writes one frame: at once if it is the burst's first, else with the rest of the burst. */
  write(frame: Uint8Array): void {
    this.prepare();
    this.socket.write(frame);
    this.wrote(frame.length);
  }

  /**
   * Call before each write to the socket, for a writer that writes to it itself (ws): the
   * first write of a burst goes straight out, later ones are corked. Follow the write with
   * `wrote`.
   */
  prepare(): void {
    if (this.#burst === IDLE) {
      this.#burst = WROTE;
      if (enlisted.length === 0) queueMicrotask(endBurst);
      enlisted.push(this);
    } else if (this.#burst === WROTE) {
      this.#burst = CORKED;
      this.socket.cork();
    }
  }

  /** Accounts the bytes of the write `prepare` preceded. */
  wrote(bytes: number): void {
    if (this.#burst !== CORKED) return;
    this.#held += bytes;
    if (this.#held >= FLUSH_AT) this.flush();
  }

  /** Writes out what the cork holds and ends the burst. `end()` and `destroy()` on the socket make this moot. */
  flush(): void {
    const corked = this.#burst === CORKED;
    this.#held = 0;
    this.#burst = IDLE;
    if (corked) this.socket.uncork();
  }

  /** Drops the connection after a flush failed. */
  fail(err: unknown): void {
    this.#held = 0;
    this.#burst = IDLE;
    this.socket.destroy(err instanceof Error ? err : new Error(String(err)));
  }
}

/** No frame yet in this burst. */
const IDLE = 0;
/** One frame went straight out in this burst. */
const WROTE = 1;
/** Two or more: the socket is corked until the burst ends. */
const CORKED = 2;

/** Past this many bytes in one burst a connection's frames go out without waiting for its end. */
export const FLUSH_AT = 64 * 1024;

let enlisted: TurnWrites[] = [];

function endBurst(): void {
  // Uncorking writes synchronously and enlists nothing in this call, but swap first anyway so
  // a socket written during the loop starts a burst of its own.
  const batch = enlisted;
  enlisted = [];
  for (const writes of batch) {
    try {
      writes.flush();
    } catch (err) {
      // Streams report write failures through 'error', not by throwing; should one throw
      // anyway, it fails that connection alone instead of escaping a microtask (which would
      // end the process) and leaving the other sockets corked.
      writes.fail(err);
    }
  }
}
