/**
 * A small asynchronous string key-value store: the persistence seam of the SDK (learned
 * heartbeat intervals, and anything else that must survive a restart). Implementations:
 * {@link MemoryKeyValueStore} here, a JSON file in Node (`FileKeyValueStore` from
 * `@parley/client/node`); an app may plug in localStorage, IndexedDB, SQLite or its own.
 *
 * Values are opaque strings (callers serialize, usually JSON). Implementations must apply
 * the calls of one store instance in the order they were made.
 */
export interface KeyValueStore {
  /** The value stored under `key`, or `undefined` when there is none. */
  get(key: string): Promise<string | undefined>;
  /** Stores `value` under `key`, replacing any previous value. Resolves once it is stored. */
  set(key: string, value: string): Promise<void>;
  /** Removes `key`; removing a missing key is not an error. */
  delete(key: string): Promise<void>;
}

/** A {@link KeyValueStore} in memory: for tests, browsers without storage, and short-lived processes. */
export class MemoryKeyValueStore implements KeyValueStore {
  readonly #entries = new Map<string, string>();

  /** @param initial entries to start with (a copy is taken) */
  constructor(initial?: Iterable<readonly [string, string]>) {
    if (initial) for (const [key, value] of initial) this.#entries.set(key, value);
  }

  get(key: string): Promise<string | undefined> {
    return Promise.resolve(this.#entries.get(key));
  }

  set(key: string, value: string): Promise<void> {
    this.#entries.set(key, value);
    return Promise.resolve();
  }

  delete(key: string): Promise<void> {
    this.#entries.delete(key);
    return Promise.resolve();
  }

  /** The number of stored keys. */
  get size(): number {
    return this.#entries.size;
  }
}
