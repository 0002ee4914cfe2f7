import type { KeyValueStore } from './key-value.js';

// The slice of the IndexedDB API this store uses, typed here so the SDK builds without the DOM
// library (and so tests can pass a fake).
interface IdbRequestLike<T> {
  readonly result: T;
  readonly error: Error | null;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}
interface IdbOpenRequestLike extends IdbRequestLike<IdbDatabaseLike> {
  onupgradeneeded: (() => void) | null;
}
interface IdbObjectStoreLike {
  get(key: string): IdbRequestLike<unknown>;
  put(value: string, key: string): unknown;
  delete(key: string): unknown;
}
interface IdbTransactionLike {
  readonly error: Error | null;
  objectStore(name: string): IdbObjectStoreLike;
  oncomplete: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
}
interface IdbDatabaseLike {
  readonly objectStoreNames: { contains(name: string): boolean };
  createObjectStore(name: string): unknown;
  transaction(name: string, mode: 'readonly' | 'readwrite'): IdbTransactionLike;
  close(): void;
}
/** What {@link IndexedDbKeyValueStore} needs of `indexedDB` (a browser's `IDBFactory` fits). */
export interface IdbFactoryLike {
  open(name: string, version: number): IdbOpenRequestLike;
}

/** Options of {@link IndexedDbKeyValueStore}. */
export interface IndexedDbKeyValueStoreOptions {
  /** Database name. Default `parley`. Use one database (or one store name) per user. */
  database?: string;
  /** Object store name. Default `kv`. */
  storeName?: string;
  /** Default `globalThis.indexedDB`. */
  indexedDB?: IdbFactoryLike;
}

/**
 * A {@link KeyValueStore} in IndexedDB, for browsers (the outbox, sync cursor and conversation
 * list survive reloads). Each call is its own transaction; read-write transactions on one
 * object store run in the order they were created, so calls apply in call order.
 */
export class IndexedDbKeyValueStore implements KeyValueStore {
  readonly #database: string;
  readonly #storeName: string;
  readonly #factory: IdbFactoryLike | undefined;
  #db: Promise<IdbDatabaseLike> | undefined;

  constructor(options: IndexedDbKeyValueStoreOptions = {}) {
    this.#database = options.database ?? 'parley';
    this.#storeName = options.storeName ?? 'kv';
    this.#factory = options.indexedDB ?? (globalThis as { indexedDB?: IdbFactoryLike }).indexedDB;
  }

  async get(key: string): Promise<string | undefined> {
    const db = await this.#open();
    const request = db.transaction(this.#storeName, 'readonly').objectStore(this.#storeName).get(key);
    const value = await requestResult(request);
    return typeof value === 'string' ? value : undefined;
  }

  async set(key: string, value: string): Promise<void> {
    const db = await this.#open();
    const tx = db.transaction(this.#storeName, 'readwrite');
    tx.objectStore(this.#storeName).put(value, key);
    await transactionDone(tx);
  }

  async delete(key: string): Promise<void> {
    const db = await this.#open();
    const tx = db.transaction(this.#storeName, 'readwrite');
    tx.objectStore(this.#storeName).delete(key);
    await transactionDone(tx);
  }

  /** Closes the database connection (a later call opens it again). */
  async close(): Promise<void> {
    const db = this.#db;
    this.#db = undefined;
    if (db) (await db).close();
  }

  #open(): Promise<IdbDatabaseLike> {
    const factory = this.#factory;
    if (!factory) return Promise.reject(new Error('IndexedDB is not available here'));
    this.#db ??= new Promise<IdbDatabaseLike>((resolve, reject) => {
      const request = factory.open(this.#database, 1);
      request.onupgradeneeded = () => {
        const db = request.result;
        if (!db.objectStoreNames.contains(this.#storeName)) db.createObjectStore(this.#storeName);
      };
      request.onsuccess = () => {
        resolve(request.result);
      };
      request.onerror = () => {
        reject(request.error ?? new Error(`cannot open IndexedDB database ${this.#database}`));
      };
    }).catch((err: unknown) => {
      this.#db = undefined; // let a later call try again
      throw err;
    });
    return this.#db;
  }
}

function requestResult<T>(request: IdbRequestLike<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => {
      resolve(request.result);
    };
    request.onerror = () => {
      reject(request.error ?? new Error('IndexedDB request failed'));
    };
  });
}

function transactionDone(tx: IdbTransactionLike): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => {
      resolve();
    };
    tx.onerror = () => {
      reject(tx.error ?? new Error('IndexedDB transaction failed'));
    };
    tx.onabort = () => {
      reject(tx.error ?? new Error('IndexedDB transaction aborted'));
    };
  });
}
