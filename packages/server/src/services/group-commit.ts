import { ErrorCode, ParleyError } from '@parley/protocol';
import type { Metrics } from '../metrics.js';
import type { AppendInput, AppendResult, Store } from '../store/types.js';

interface Pending {
  input: AppendInput;
  resolve: (result: AppendResult) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: appends requested during one event-loop turn are written in one store
 * transaction, and each caller's promise settles when that transaction is durable. While a
 * batch is being written the next one gathers, so throughput comes from batching, never from
 * skipping the fsync.
 */
export class GroupCommitter {
  #queue: Pending[] = [];
  #scheduled = false;
  #inflight: Promise<void> | undefined;

  constructor(
    private readonly store: Store,
    private readonly metrics: Metrics,
    private readonly maxBatch = 512,
  ) {}

  append(input: AppendInput): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ input, resolve, reject });
      this.#schedule();
    });
  }

  /** Resolves once everything queued so far is written (for shutdown). */
  async drain(): Promise<void> {
    while (this.#queue.length > 0 || this.#inflight || this.#scheduled) {
      await (this.#inflight ?? new Promise((r) => setImmediate(r)));
    }
  }

  #schedule(): void {
    if (this.#scheduled || this.#inflight) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#inflight = this.#flush().finally(() => {
        this.#inflight = undefined;
        if (this.#queue.length > 0) this.#schedule();
      });
    });
  }

  async #flush(): Promise<void> {
    const batch = this.#queue.splice(0, this.maxBatch);
    if (batch.length === 0) return;
    const started = performance.now();
    let results: AppendResult[];
    try {
      results = await this.store.appendMessages(batch.map((p) => p.input));
    } catch (err) {
      const error =
        err instanceof ParleyError
          ? err
          : new ParleyError(ErrorCode.UNAVAILABLE, 'the message store is unavailable; nothing was stored', {
              cause: err,
            });
      for (const p of batch) p.reject(error);
      return;
    }
    this.metrics.storeBatchSize.observe(batch.length);
    this.metrics.storeBatchLatency.observe((performance.now() - started) / 1000);
    batch.forEach((p, i) => {
      const result = results[i];
      if (result) p.resolve(result);
      else p.reject(new ParleyError(ErrorCode.INTERNAL, 'store returned fewer results than appends'));
    });
  }
}
