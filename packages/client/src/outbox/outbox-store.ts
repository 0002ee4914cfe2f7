import type { KeyValueStore } from '../storage/key-value.js';
import type { OutboxRecord, OutboxStore } from './types.js';

/**
 * An {@link OutboxStore} on a `KeyValueStore`: one key per record (`<prefix><localId>`) and an
 * index key (`<prefix>index`) listing them. A record is written before the index names it and
 * removed from the index before it is deleted, so the index never names a missing record.
 */
export class KeyValueOutboxStore implements OutboxStore {
  readonly #kv: KeyValueStore;
  readonly #prefix: string;
  #ids: Set<string> | undefined;

  /** @param prefix key prefix; default `parley:outbox:` */
  constructor(kv: KeyValueStore, prefix = 'parley:outbox:') {
    this.#kv = kv;
    this.#prefix = prefix;
  }

  async load(): Promise<OutboxRecord[]> {
    const ids = await this.#index();
    const records: OutboxRecord[] = [];
    for (const id of ids) {
      const text = await this.#kv.get(this.#prefix + id);
      if (text === undefined) continue;
      try {
        records.push(JSON.parse(text) as OutboxRecord);
      } catch {
        // A corrupt record cannot be sent again; drop it rather than fail the whole outbox.
      }
    }
    return records;
  }

  async put(record: OutboxRecord): Promise<void> {
    const ids = await this.#index();
    const write = this.#kv.set(this.#prefix + record.localId, JSON.stringify(record));
    if (ids.has(record.localId)) return write;
    ids.add(record.localId);
    await Promise.all([write, this.#writeIndex(ids)]);
  }

  async delete(localId: string): Promise<void> {
    const ids = await this.#index();
    if (!ids.delete(localId)) return;
    await Promise.all([this.#writeIndex(ids), this.#kv.delete(this.#prefix + localId)]);
  }

  #writeIndex(ids: Set<string>): Promise<void> {
    return this.#kv.set(`${this.#prefix}index`, JSON.stringify([...ids]));
  }

  async #index(): Promise<Set<string>> {
    if (this.#ids) return this.#ids;
    const text = await this.#kv.get(`${this.#prefix}index`);
    let ids: unknown;
    try {
      ids = text === undefined ? [] : JSON.parse(text);
    } catch {
      ids = [];
    }
    this.#ids ??= new Set(Array.isArray(ids) ? ids.filter((id): id is string => typeof id === 'string') : []);
    return this.#ids;
  }
}
