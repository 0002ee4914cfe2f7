import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { KeyValueStore } from './key-value.js';

/** Options of {@link FileKeyValueStore}. */
export interface FileKeyValueStoreOptions {
  /** File mode for a newly written file. Default `0o600`: stored values may be private. */
  mode?: number;
  /** Flush each write to disk (fsync) before the rename. Default `true`. */
  fsync?: boolean;
  /**
   * Called when the file exists but is not a JSON object of strings. The store moves it
   * aside to `<path>.corrupt` (best effort) and starts empty instead of failing.
   */
  onCorrupt?: (error: Error) => void;
}

/**
 * A {@link KeyValueStore} kept in one JSON file (`{"key": "value", ...}`), for Node.
 *
 * The whole map is held in memory; reads never touch the disk after the first load. Each
 * change rewrites the file atomically: the JSON goes to a temporary file in the same
 * directory, is flushed, and is renamed over the old file, so a crash leaves either the old
 * or the new content, never half of one. Changes made while a write is in flight are
 * coalesced into the next write. One instance per file: two instances (or two processes)
 * on the same path overwrite each other's changes.
 */
export class FileKeyValueStore implements KeyValueStore {
  readonly path: string;
  readonly #mode: number;
  readonly #fsync: boolean;
  readonly #onCorrupt: ((error: Error) => void) | undefined;
  #entries: Map<string, string> | undefined;
  #loading: Promise<Map<string, string>> | undefined;
  /** The last write started or queued; the next write runs after it settles. */
  #writing: Promise<void> = Promise.resolve();
  /** A write queued behind #writing that has not yet taken its snapshot; later changes join it. */
  #queued: Promise<void> | undefined;
  #tempCounter = 0;

  constructor(path: string, options: FileKeyValueStoreOptions = {}) {
    this.path = path;
    this.#mode = options.mode ?? 0o600;
    this.#fsync = options.fsync ?? true;
    this.#onCorrupt = options.onCorrupt;
  }

  async get(key: string): Promise<string | undefined> {
    const entries = await this.#load();
    return entries.get(key);
  }

  async set(key: string, value: string): Promise<void> {
    const entries = await this.#load();
    entries.set(key, value);
    return this.#persist();
  }

  async delete(key: string): Promise<void> {
    const entries = await this.#load();
    if (!entries.delete(key)) return;
    return this.#persist();
  }

  #load(): Promise<Map<string, string>> {
    if (this.#entries) return Promise.resolve(this.#entries);
    this.#loading ??= this.#read().then(
      (entries) => (this.#entries = entries),
      (error: unknown) => {
        this.#loading = undefined; // let a later call retry (e.g. a transient EMFILE)
        throw error;
      },
    );
    return this.#loading;
  }

  async #read(): Promise<Map<string, string>> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw error;
    }
    const entries = parseEntries(text);
    if (entries) return entries;
    this.#onCorrupt?.(new Error(`${this.path} is not a JSON object of strings; moved aside to ${this.path}.corrupt`));
    await rename(this.path, `${this.path}.corrupt`).catch(() => undefined);
    return new Map();
  }

  #persist(): Promise<void> {
    if (this.#queued) return this.#queued;
    const run = async (): Promise<void> => {
      this.#queued = undefined;
      const entries = this.#entries ?? new Map<string, string>();
      await this.#writeAtomically(JSON.stringify(Object.fromEntries(entries)));
    };
    const write = this.#writing.then(run, run);
    this.#queued = write;
    this.#writing = write.catch(() => undefined);
    return write;
  }

  async #writeAtomically(text: string): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const temp = `${this.path}.${String(process.pid)}.${String(++this.#tempCounter)}.tmp`;
    try {
      const handle = await open(temp, 'wx', this.#mode);
      try {
        await handle.writeFile(text, 'utf8');
        if (this.#fsync) await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, this.path);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
  }
}

function parseEntries(text: string): Map<string, string> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const entries = new Map<string, string>();
  for (const [key, value] of Object.entries(parsed)) {
    if (typeof value !== 'string') return undefined;
    entries.set(key, value);
  }
  return entries;
}
