import type { Command, CommandWith } from '@parley/protocol';

/** Commands an app may send as tasks: every request but LOGIN, which the connection owns. */
export type TaskCommand = Exclude<CommandWith<'request'>, typeof Command.LOGIN>;

/** Named priorities; any number works, higher goes first. */
export const Priority = {
  LOW: -10,
  NORMAL: 0,
  HIGH: 10,
  /** For the sync layer's catch-up requests after a reconnect. */
  SYNC: 20,
} as const;

/** Per-request options. Defaults come from `TaskDefaults`. */
export interface RequestOptions {
  /** How long to wait for the response once sent, per attempt. */
  timeoutMs?: number;
  /**
   * Extra attempts after a retryable failure: UNAVAILABLE, TIMEOUT, SHUTTING_DOWN and
   * RATE_LIMITED from the server (after its `retry_after_ms`), no response in time, or the link
   * lost while the request was in flight. Use 0 for requests that are not safe to repeat
   * (CONV_CREATE); SEND is safe thanks to its client message id.
   */
  retries?: number;
  /** Higher is sent first when the queue is flushed; equal priorities keep call order. Default 0. */
  priority?: number;
  /** Aborting rejects the task with the signal's reason (as `fetch` does); a late answer is dropped. */
  signal?: AbortSignal;
  /**
   * The longest the task may wait to be sent, counted from the call: while offline, behind the
   * in-flight cap, or between retries. Past it the task fails with PARLEY_ERR_TASK_EXPIRED.
   */
  maxAgeMs?: number;
}

export interface TaskDefaults {
  /** Default 15 s (Mars: 12-15 s first-packet timeout on mobile networks). */
  timeoutMs: number;
  /** Default 1 (Mars). */
  retries: number;
  /** Default 60 s. */
  maxAgeMs: number;
  /** Requests sent and not yet answered, at most. Default 16. */
  maxInFlight: number;
  /** Wait before a retry after a timeout or a server error without `retry_after_ms`. Default 1 s (Mars). */
  retryDelayMs: number;
}

export const DEFAULT_TASK_OPTIONS: TaskDefaults = {
  timeoutMs: 15_000,
  retries: 1,
  maxAgeMs: 60_000,
  maxInFlight: 16,
  retryDelayMs: 1_000,
};
