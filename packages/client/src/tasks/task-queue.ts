import {
  ErrorCode,
  type Frame,
  type FrameCodec,
  type ResponseOf,
  type RequestInput,
  commandName,
  errorCodeName,
} from '@parley/protocol';
import { ClientError, ClientErrorCode, isRetryable } from '../errors.js';
import type { Deadlines } from '../connection/timers.js';
import { DEFAULT_TASK_OPTIONS, type RequestOptions, type TaskCommand, type TaskDefaults } from './types.js';

/** What the queue needs from the connection. */
export interface TaskChannel {
  /** True while requests may be sent (logged in). */
  ready(): boolean;
  /** The next request seq on the current link. */
  nextSeq(): number;
  /** Writes one request frame; false when the link could not take it. */
  write(frame: Uint8Array): boolean;
  /** A request went unanswered: the link may be dead, check it. */
  suspect(): void;
}

/**
 * A second way out for tasks while the main channel is not ready: the short link (HTTP). It
 * has its own seq space; its answers come back through the {@link FallbackPort} that
 * `attachFallback` returns. The main channel always wins when it is ready, so a task is never
 * in flight on both at once.
 */
export interface FallbackChannel {
  /** Whether it is in use now (checked once per flush, before any `carries`). */
  ready(): boolean;
  /** Whether it can carry a request of `command` now (it is in use and the command is allowed over it). */
  carries(command: number): boolean;
  nextSeq(): number;
  /** Takes one request frame (its seq written in); false when it cannot. */
  write(frame: Uint8Array): boolean;
  /** The error for a request it carried that got no answer within its timeout (default: PARLEY_ERR_TASK_TIMEOUT). */
  timeoutError?(command: number, timeoutMs: number): Error;
}

/** How a fallback channel reports back to the queue. */
export interface FallbackPort {
  /** A response frame; false for a seq no task waits on (late or unknown). */
  response(frame: Frame): boolean;
  /** The requests with these seqs failed (retried while `err` is retryable and retries last). */
  failed(seqs: readonly number[], err: Error): void;
  /** These requests were never sent: back to the queue as they were, no retry used. */
  returned(seqs: readonly number[]): void;
  /** Sends what the channel can carry now (call when it comes into use). */
  flush(): void;
}

const enum State {
  Queued,
  /** Waiting out a retry delay. */
  Waiting,
  InFlight,
  Done,
}

interface Task {
  readonly id: number;
  readonly command: TaskCommand;
  /** In flight on the fallback channel rather than the main one. */
  viaFallback: boolean;
  /** Encoded once with seq 0; the seq is written in before each send. */
  frame: Uint8Array;
  /** The frame was handed to a socket: copy it before writing another seq into it. */
  written: boolean;
  readonly priority: number;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly timeoutMs: number;
  retriesLeft: number;
  state: State;
  seq: number;
  /** In flight: the response deadline. Waiting: when to queue again. */
  dueAt: number;
  lastError: Error | undefined;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  readonly resolve: (frame: Frame) => void;
  readonly reject: (err: unknown) => void;
}

const DEADLINE_KEY = 'tasks';

/**
 * Request/response tasks over the long link: a priority queue that waits while offline, an
 * in-flight cap, responses matched by seq, per-attempt timeouts, bounded retries for
 * retryable failures, expiry by age, and cancellation. All of its deadlines share one entry
 * of the connection's timer, set to the earliest.
 */
export class TaskQueue {
  readonly defaults: TaskDefaults;
  readonly #codec: FrameCodec;
  readonly #channel: TaskChannel;
  readonly #deadlines: Deadlines;
  readonly #now: () => number;
  /** Sorted: higher priority first, then lower id (call order). */
  readonly #queue: Task[] = [];
  readonly #waiting = new Set<Task>();
  readonly #inFlight = new Map<number, Task>();
  /** In flight on the fallback channel, by its own seqs. */
  readonly #inFallback = new Map<number, Task>();
  #fallback: FallbackChannel | undefined;
  #nextId = 1;

  constructor(
    codec: FrameCodec,
    channel: TaskChannel,
    deadlines: Deadlines,
    defaults: Partial<TaskDefaults> = {},
    now: () => number = Date.now,
  ) {
    this.#codec = codec;
    this.#channel = channel;
    this.#deadlines = deadlines;
    this.#now = now;
    this.defaults = { ...DEFAULT_TASK_OPTIONS, ...defaults };
  }

  /** Tasks queued (including those waiting to retry). */
  get queued(): number {
    return this.#queue.length + this.#waiting.size;
  }

  /** Tasks sent and not yet answered (on either channel). */
  get inFlight(): number {
    return this.#inFlight.size + this.#inFallback.size;
  }

  /** Lets `channel` carry queued tasks while the main channel is not ready. One at a time: it replaces any earlier one. */
  attachFallback(channel: FallbackChannel): FallbackPort {
    this.#fallback = channel;
    return {
      response: (frame) => this.#settle(this.#inFallback, frame),
      failed: (seqs, err) => {
        const delayMs =
          err instanceof ClientError && err.retryAfterMs > 0 ? err.retryAfterMs : this.defaults.retryDelayMs;
        for (const seq of seqs) {
          const task = this.#inFallback.get(seq);
          if (!task) continue;
          this.#inFallback.delete(seq);
          this.#retryOrFail(task, err, delayMs);
        }
        this.flush();
      },
      returned: (seqs) => {
        for (const seq of seqs) {
          const task = this.#inFallback.get(seq);
          if (!task) continue;
          this.#inFallback.delete(seq);
          this.#enqueue(task);
        }
        this.flush();
      },
      flush: () => {
        this.flush();
      },
    };
  }

  request<C extends TaskCommand>(
    command: C,
    body: RequestInput<C>,
    options: RequestOptions = {},
  ): Promise<ResponseOf<C>> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    let frame: Uint8Array;
    try {
      frame = this.#codec.request(command, 0, body);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const d = this.defaults;
    const now = this.#now();
    return new Promise<Frame>((resolve, reject) => {
      const task: Task = {
        id: this.#nextId++,
        command,
        viaFallback: false,
        frame,
        written: false,
        priority: options.priority ?? 0,
        createdAt: now,
        expiresAt: now + (options.maxAgeMs ?? d.maxAgeMs),
        timeoutMs: options.timeoutMs ?? d.timeoutMs,
        retriesLeft: Math.max(0, options.retries ?? d.retries),
        state: State.Queued,
        seq: 0,
        dueAt: 0,
        lastError: undefined,
        signal,
        onAbort: undefined,
        resolve,
        reject,
      };
      if (signal) {
        task.onAbort = () => {
          this.#finish(task, signal.reason as Error);
          this.flush();
        };
        signal.addEventListener('abort', task.onAbort, { once: true });
      }
      this.#enqueue(task);
      this.#wake(task.expiresAt);
      this.flush();
    }).then((response) => this.#codec.decodeResponse(command, response));
  }

  /**
   * Sends queued tasks, highest priority first, while a channel can take them and the in-flight
   * cap allows: all of them on the main channel when it is ready, else those the fallback
   * carries (the others keep their place in the queue).
   */
  flush(): void {
    const main = this.#channel.ready();
    const fallback = main || !this.#fallback?.ready() ? undefined : this.#fallback;
    if (!main && !fallback) return;
    const now = this.#now();
    let i = 0;
    while (this.inFlight < this.defaults.maxInFlight) {
      const task = this.#queue[i];
      if (!task) return;
      if (now >= task.expiresAt) {
        this.#expire(task); // takes it out of the queue
        continue;
      }
      if (fallback && !fallback.carries(task.command)) {
        i++;
        continue;
      }
      const channel = fallback ?? this.#channel;
      const seq = channel.nextSeq();
      if (task.written) task.frame = task.frame.slice();
      new DataView(task.frame.buffer, task.frame.byteOffset, task.frame.byteLength).setUint32(6, seq);
      if (!channel.write(task.frame)) return;
      this.#queue.splice(i, 1);
      task.written = true;
      task.seq = seq;
      task.viaFallback = fallback !== undefined;
      task.state = State.InFlight;
      task.dueAt = now + task.timeoutMs;
      (fallback ? this.#inFallback : this.#inFlight).set(seq, task);
      this.#wake(task.dueAt);
    }
  }

  /** Settles the task a response answers. Returns false for a seq no task waits on (late or unknown). */
  onResponse(frame: Frame): boolean {
    return this.#settle(this.#inFlight, frame);
  }

  #settle(inFlight: Map<number, Task>, frame: Frame): boolean {
    const task = inFlight.get(frame.seq);
    if (!task) return false;
    inFlight.delete(frame.seq);
    let status;
    try {
      status = this.#codec.responseStatus(frame);
    } catch (err) {
      this.#finish(task, err as Error);
      this.flush();
      return true;
    }
    if (status.code === ErrorCode.OK) {
      this.#finish(task, undefined, frame);
    } else {
      const name = describe(task.command);
      const err = new ClientError(
        ClientErrorCode.SERVER,
        status.code,
        `${name} failed: ${errorCodeName(status.code)} ${status.message}`.trimEnd(),
        { retryAfterMs: status.retryAfterMs, command: task.command },
      );
      this.#retryOrFail(task, err, status.retryAfterMs || this.defaults.retryDelayMs);
    }
    this.flush();
    return true;
  }

  /** The link ended: requests in flight are retried on the next link while retries last. */
  linkLost(cause: Error | undefined): void {
    if (this.#inFlight.size === 0) return;
    const tasks = [...this.#inFlight.values()];
    this.#inFlight.clear();
    for (const task of tasks) {
      const err = new ClientError(
        ClientErrorCode.LINK_LOST,
        ErrorCode.UNAVAILABLE,
        `the link was lost before ${describe(task.command)} was answered`,
        { cause, command: task.command },
      );
      this.#retryOrFail(task, err, 0);
    }
  }

  /** Rejects every task with `err` (the connection closed for good). */
  failAll(err: Error): void {
    const all = [...this.#inFlight.values(), ...this.#inFallback.values(), ...this.#queue, ...this.#waiting];
    this.#inFlight.clear();
    this.#inFallback.clear();
    this.#queue.length = 0;
    this.#waiting.clear();
    for (const task of all) this.#finish(task, err);
    this.#deadlines.delete(DEADLINE_KEY);
  }

  #retryOrFail(task: Task, err: Error, delayMs: number): void {
    task.lastError = err;
    const now = this.#now();
    if (task.retriesLeft <= 0 || !isRetryable(err) || task.signal?.aborted) {
      this.#finish(task, err);
      return;
    }
    if (now + delayMs >= task.expiresAt) {
      // No time left to try again: report what went wrong, not the expiry.
      this.#finish(task, err);
      return;
    }
    task.retriesLeft--;
    if (delayMs <= 0) {
      this.#enqueue(task);
      return;
    }
    task.state = State.Waiting;
    task.dueAt = now + delayMs;
    this.#waiting.add(task);
    this.#wake(task.dueAt);
  }

  #enqueue(task: Task): void {
    task.state = State.Queued;
    const q = this.#queue;
    // Binary search for the first task that goes after this one.
    let lo = 0;
    let hi = q.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const other = q[mid] as Task;
      if (other.priority > task.priority || (other.priority === task.priority && other.id < task.id)) lo = mid + 1;
      else hi = mid;
    }
    q.splice(lo, 0, task);
  }

  #expire(task: Task): void {
    const cause = task.lastError;
    this.#finish(
      task,
      new ClientError(
        ClientErrorCode.TASK_EXPIRED,
        ErrorCode.TIMEOUT,
        `${describe(task.command)} expired: not answered and not sendable within ${String(task.expiresAt - task.createdAt)} ms`,
        { cause, command: task.command },
      ),
    );
  }

  #finish(task: Task, err: Error | undefined, frame?: Frame): void {
    if (task.state === State.Done) return;
    if (task.state === State.InFlight) (task.viaFallback ? this.#inFallback : this.#inFlight).delete(task.seq);
    else if (task.state === State.Waiting) this.#waiting.delete(task);
    else {
      const i = this.#queue.indexOf(task);
      if (i !== -1) this.#queue.splice(i, 1);
    }
    task.state = State.Done;
    if (task.onAbort) task.signal?.removeEventListener('abort', task.onAbort);
    if (err) task.reject(err);
    else task.resolve(frame as Frame);
  }

  #wake(at: number): void {
    this.#deadlines.setEarliest(DEADLINE_KEY, at, this.#tick);
  }

  readonly #tick = (): void => {
    const now = this.#now();
    let suspect = false;
    for (const task of [...this.#inFlight.values(), ...this.#inFallback.values()]) {
      if (now < task.dueAt) continue;
      (task.viaFallback ? this.#inFallback : this.#inFlight).delete(task.seq);
      if (!task.viaFallback) suspect = true; // the short link's own timeout covers its calls
      const err =
        (task.viaFallback ? this.#fallback?.timeoutError?.(task.command, task.timeoutMs) : undefined) ??
        new ClientError(
          ClientErrorCode.TASK_TIMEOUT,
          ErrorCode.TIMEOUT,
          `no response to ${describe(task.command)} within ${String(task.timeoutMs)} ms`,
          { command: task.command },
        );
      this.#retryOrFail(task, err, this.defaults.retryDelayMs);
    }
    for (const task of [...this.#waiting]) {
      if (now < task.dueAt) continue;
      this.#waiting.delete(task);
      this.#enqueue(task);
    }
    for (const task of [...this.#queue, ...this.#waiting]) {
      if (now >= task.expiresAt) this.#expire(task);
    }
    if (suspect) this.#channel.suspect();
    this.flush();
    let next = Number.POSITIVE_INFINITY;
    for (const task of this.#inFlight.values()) next = Math.min(next, task.dueAt);
    for (const task of this.#inFallback.values()) next = Math.min(next, task.dueAt);
    for (const task of this.#waiting) next = Math.min(next, task.dueAt, task.expiresAt);
    for (const task of this.#queue) next = Math.min(next, task.expiresAt);
    if (next !== Number.POSITIVE_INFINITY) this.#deadlines.set(DEADLINE_KEY, next, this.#tick);
  };
}

function describe(command: number): string {
  return commandName(command) ?? `0x${command.toString(16).padStart(4, '0')}`;
}
