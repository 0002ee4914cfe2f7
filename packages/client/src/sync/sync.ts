import { Command, ErrorCode, ParleyError, pb } from '@parley/protocol';
import type { Connection } from '../connection/connection.js';
import { ClientError, ClientErrorCode, isRetryable } from '../errors.js';
import { Emitter } from '../events.js';
import type { KeyValueStore } from '../storage/key-value.js';
import { Priority } from '../tasks/types.js';
import { type Stream, Streams } from './streams.js';
import { type ChatMessage, type SyncEvents, type SyncReport, toChatMessage } from './types.js';

/** Options of {@link Sync}. */
export interface SyncOptions {
  connection: Connection;
  /** Where the version cursor and each conversation's last seq persist. */
  storage: KeyValueStore;
  /** Storage key. Default `parley:sync`. */
  key?: string;
  /**
   * On the first sync of an installation (no stored cursor yet), each conversation starts with
   * its latest this many messages; older ones are left to `loadHistory`. Default 20.
   */
  initialMessages?: number;
  /**
   * A conversation first seen after the first sync (created or joined while the app was away)
   * is delivered from its first message the server shows this user, in pages. With more than
   * this many, only the latest this many are delivered and the older ones are left to
   * `loadHistory` (a `history` event says so). Default 1000.
   */
  newConversationLimit?: number;
  /** Page size of SYNC_CONVERSATIONS and SYNC_MESSAGES. Default 100 (the server clamps). */
  pageSize?: number;
  /** Conversations pulled at once. Default 4. */
  concurrency?: number;
  /** Delay that batches storage writes. Default 50 ms. */
  persistDelayMs?: number;
  /** Whether a run can go out now. Default: the connection is logged in. `ParleyClient` adds "or the short link is in use". */
  canSync?: () => boolean;
}

interface Saved {
  version: number;
  /** The installation's first sync has not completed yet (absent in older saves: `version` is 0). */
  fresh?: boolean;
  /** conversation id → [last, oldest] */
  streams: Record<string, [number, number]>;
  /** The same for conversations left (absent in older saves). */
  left?: Record<string, [number, number]>;
}

/**
 * Sync: brings the app's view up to date after every login (and on `run()`), and orders pushed
 * messages. It pages SYNC_CONVERSATIONS from the stored version cursor; for each changed
 * conversation whose last seq is ahead of the local one it pulls the missing range with
 * SYNC_MESSAGES in pages. A conversation never seen starts at its latest `initialMessages` on
 * the installation's first sync, and at its first message afterwards (up to
 * `newConversationLimit`). A pushed or acked message more than one past the local last seq is
 * held while the gap is pulled. Each message reaches the `message` event exactly once, in seq
 * order per conversation.
 *
 * The version cursor advances only after a page's conversations are pulled; it and the per
 * conversation seqs persist (batched), so a restart resumes. Across a crash between a delivery
 * and the next write, a few messages may be delivered again; `close()` flushes.
 */
export class Sync {
  readonly #events = new Emitter<SyncEvents>();
  readonly #conn: Connection;
  readonly #storage: KeyValueStore;
  readonly #key: string;
  readonly #initial: number;
  readonly #newLimit: number;
  readonly #pageSize: number;
  readonly #concurrency: number;
  readonly #persistDelayMs: number;
  readonly #canSync: () => boolean;
  readonly #streams = new Streams();
  /** ROOM conversations: no storage, gaps allowed; only the last seq, to drop repeats. */
  readonly #rooms = new Map<string, number>();
  #version = 0;
  /** No sync run has completed on this installation: new conversations start at `#initial`. */
  #fresh = true;
  #loaded: Promise<void> | undefined;
  #active = false;
  #unsubscribe: (() => void)[] = [];
  #run: Promise<void> | undefined;
  #again = false;
  #pulled = 0;
  #slots: number;
  readonly #slotWaiters: (() => void)[] = [];
  #saveTimer: ReturnType<typeof setTimeout> | undefined;
  #saving: Promise<void> = Promise.resolve();
  /** Why the last pull failed (the cause of a run that stopped on it). */
  #pullError: unknown;
  #lastError: ClientError | undefined;
  /** A failure of the current run of failures was reported. */
  #reported = false;

  constructor(options: SyncOptions) {
    this.#conn = options.connection;
    this.#storage = options.storage;
    this.#key = options.key ?? 'parley:sync';
    this.#initial = Math.max(0, options.initialMessages ?? 20);
    this.#newLimit = Math.max(1, options.newConversationLimit ?? 1000);
    this.#pageSize = options.pageSize ?? 100;
    this.#concurrency = options.concurrency ?? 4;
    this.#slots = this.#concurrency;
    this.#persistDelayMs = options.persistDelayMs ?? 50;
    this.#canSync = options.canSync ?? (() => this.#conn.state === 'connected');
  }

  on<K extends keyof SyncEvents>(event: K, listener: SyncEvents[K]): () => void {
    return this.#events.on(event, listener);
  }

  /** The stored version cursor (0 before the first sync): the Connection's `conversationVersion`. */
  get version(): number {
    return this.#version;
  }

  /**
   * Why sync last failed (PARLEY_ERR_SYNC, the cause in `cause`), until a run succeeds. Failures
   * that are retryable (no link, a timeout) are routine during an outage and only show here.
   */
  get lastError(): ClientError | undefined {
    return this.#lastError;
  }

  /**
   * The oldest seq of a conversation the app has or will get as a `message` event; above 1,
   * older messages are left to `loadHistory`. Undefined for a conversation never seen.
   */
  oldestSeq(conversationId: string): number | undefined {
    return this.#streams.get(conversationId)?.oldest;
  }

  /** The last seq delivered to the app in a conversation, undefined for one never seen. */
  lastSeq(conversationId: string): number | undefined {
    return this.#streams.get(conversationId)?.last ?? this.#rooms.get(conversationId);
  }

  /** Loads the stored cursor and seqs (once). */
  load(): Promise<void> {
    this.#loaded ??= this.#storage.get(this.#key).then((text) => {
      if (text === undefined) return;
      let saved: Saved;
      try {
        saved = JSON.parse(text) as Saved;
      } catch {
        return; // unreadable: start over (a full first sync)
      }
      this.#version = typeof saved.version === 'number' ? saved.version : 0;
      this.#fresh = typeof saved.fresh === 'boolean' ? saved.fresh : this.#version === 0;
      for (const [id, [last, oldest]] of Object.entries(saved.streams)) this.#streams.restore(id, last, oldest);
      for (const [id, [last, oldest]] of Object.entries(saved.left ?? {})) this.#streams.restoreLeft(id, last, oldest);
    });
    return this.#loaded;
  }

  /** Listens to logins and pushes; syncs at once when connected. */
  async start(): Promise<void> {
    await this.load();
    if (this.#active) return;
    this.#active = true;
    this.#unsubscribe = [
      this.#conn.on('connected', () => void this.run()),
      this.#conn.onPush(Command.MESSAGE, (push) => {
        if (push.message) this.ingest([toChatMessage(push.message)]);
      }),
      this.#conn.onPush(Command.CONVERSATION, (push) => {
        if (push.state) void this.applyState(push.state);
      }),
      // The server may have missed pushing to us (its cluster link was down): sync as after
      // a reconnect, whatever the reason (a reason this build does not know included).
      this.#conn.onPush(Command.SYNC_HINT, () => void this.run()),
    ];
    if (this.#conn.state === 'connected') void this.run();
  }

  /** Stops listening and flushes the stored state. */
  async stop(): Promise<void> {
    this.#active = false;
    for (const off of this.#unsubscribe) off();
    this.#unsubscribe = [];
    await this.flush();
  }

  /**
   * Syncs now (a login does it by itself; call it on app wake-up). Runs asked for while one is
   * in progress are folded into one more run after it. Never rejects: failures go to
   * `lastError`, and to `error` when not routine.
   */
  run(): Promise<void> {
    if (this.#run) {
      this.#again = true;
      return this.#run;
    }
    const run = async (): Promise<void> => {
      try {
        do {
          this.#again = false;
          try {
            await this.#runOnce();
          } catch (err) {
            // A run asked for meanwhile (a new login) still goes: this one failed on the old link.
            this.#failed(err, 'the run failed');
          }
        } while (this.#repeat());
      } finally {
        this.#run = undefined;
      }
    };
    this.#run = run();
    return this.#run;
  }

  /**
   * Messages from a push, a pull or an ack of one's own SEND: dropped if delivered already,
   * delivered if next in line, else held while the gap below is pulled.
   */
  ingest(messages: readonly ChatMessage[]): void {
    const touched = new Set<string>();
    for (const message of messages) {
      if (message.seq === 0) {
        this.#events.emit('message', message); // transient: not stored, not numbered
        continue;
      }
      if (message.conversationType === pb.ConversationType.ROOM) {
        const last = this.#rooms.get(message.conversationId) ?? 0;
        if (message.seq <= last) continue;
        this.#rooms.set(message.conversationId, message.seq);
        this.#events.emit('message', message);
        continue;
      }
      const stream = this.#stream(message.conversationId, message.seq);
      if (this.#streams.add(stream, message)) touched.add(message.conversationId);
    }
    for (const conversationId of touched) this.#deliver(conversationId);
  }

  /**
   * A conversation's state (from SYNC_CONVERSATIONS, a CONVERSATION push or CONV_CREATE): tells
   * the `conversation` listeners and pulls the messages the local stream lacks. Resolves with
   * false if the pull failed.
   */
  applyState(input: pb.ConversationState.$Properties): Promise<boolean> {
    const state = pb.ConversationState.create(input);
    this.#events.emit('conversation', state);
    if (!state.conversation) return Promise.resolve(true);
    const conversation = pb.Conversation.create(state.conversation);
    const id = conversation.conversationId;
    if (state.removed) {
      this.#streams.delete(id);
      this.#dirty();
      return Promise.resolve(true);
    }
    if (conversation.type === pb.ConversationType.ROOM) return Promise.resolve(true);
    const latest = Math.max(conversation.lastSeq, state.lastMessage?.seq ?? 0);
    const stream = this.#stream(id, latest);
    return stream.target > stream.last ? this.#pull(id, stream) : Promise.resolve(true);
  }

  /**
   * A message exists at `seq` (one's own SEND was acked): it reaches `message` even in a
   * conversation never seen, whose stream is then made to include it, and is pulled from the
   * server (the server's copy carries what an ack does not, such as the conversation type).
   */
  expect(conversationId: string, seq: number): void {
    if (seq <= 0 || this.#rooms.has(conversationId)) return;
    const stream = this.#stream(conversationId, seq);
    if (stream.target > stream.last && this.#active) void this.#pull(conversationId, stream);
  }

  /**
   * Older messages of a conversation, below the oldest the app has, oldest first (returned, not
   * emitted as `message` events). `hasMore` is false once the first message is reached.
   */
  async loadHistory(conversationId: string, limit = 20): Promise<{ messages: ChatMessage[]; hasMore: boolean }> {
    const stream = this.#streams.get(conversationId);
    if (stream && stream.oldest <= 1) return { messages: [], hasMore: false };
    const beforeSeq = stream?.oldest ?? 0;
    const page = await this.#conn.request(Command.HISTORY, { conversationId, beforeSeq, limit });
    const messages = page.messages.map(toChatMessage).reverse();
    const first = messages[0];
    if (stream && first && first.seq < stream.oldest) {
      stream.oldest = first.seq;
      this.#dirty();
    }
    if (stream && !page.hasMore && stream.oldest > 1) {
      stream.oldest = 1; // nothing older exists
      this.#dirty();
    }
    return { messages, hasMore: page.hasMore };
  }

  /** Writes the stored state now. */
  async flush(): Promise<void> {
    if (this.#saveTimer !== undefined) {
      clearTimeout(this.#saveTimer);
      this.#saveTimer = undefined;
      this.#save();
    }
    await this.#saving;
  }

  // ---- internals --------------------------------------------------------------------------

  async #runOnce(): Promise<void> {
    if (!this.#canSync()) return;
    const started = Date.now();
    const pulledBefore = this.#pulled;
    let conversations = 0;
    for (;;) {
      const page = await this.#conn.request(
        Command.SYNC_CONVERSATIONS,
        { sinceVersion: this.#version, limit: this.#pageSize },
        { priority: Priority.SYNC },
      );
      conversations += page.conversations.length;
      const pulls = await Promise.all(page.conversations.map((state) => this.applyState(state)));
      // Advance the cursor only when every conversation of the page is caught up.
      if (pulls.includes(false)) throw syncError(this.#pullError, 'a conversation could not be pulled');
      if (page.version > this.#version) {
        this.#version = page.version;
        this.#dirty();
      }
      if (!page.hasMore || page.conversations.length === 0) break;
    }
    if (this.#fresh) {
      this.#fresh = false; // the installation's first sync is done: new conversations start at their first message
      this.#dirty();
    }
    // Gaps left by pulls that failed earlier (a push gap while the link was going down).
    const behind = [...this.#streams.entries()].filter(([, s]) => s.target > s.last);
    if ((await Promise.all(behind.map(([id, stream]) => this.#pull(id, stream)))).includes(false)) {
      throw syncError(this.#pullError, 'a conversation could not be pulled');
    }
    this.#lastError = undefined;
    this.#reported = false;
    const report: SyncReport = {
      version: this.#version,
      conversations,
      pulled: this.#pulled - pulledBefore,
      durationMs: Date.now() - started,
    };
    this.#events.emit('synced', report);
  }

  /** Pulls a stream up to its target (one pull per conversation at a time). */
  #pull(conversationId: string, stream: Stream): Promise<boolean> {
    if (stream.pulling) return stream.pulling; // its loop also covers a target raised meanwhile
    const pull = async (): Promise<boolean> => {
      await this.#acquire();
      try {
        while (stream.target > stream.last && this.#active && this.#streams.get(conversationId) === stream) {
          const from = stream.last + 1;
          const page = await this.#conn.request(
            Command.SYNC_MESSAGES,
            { conversationId, fromSeq: from, toSeq: stream.target, limit: this.#pageSize },
            { priority: Priority.SYNC },
          );
          this.#pulled += page.messages.length;
          for (const m of page.messages) this.#streams.add(stream, toChatMessage(m));
          if (page.lastSeq > stream.target) stream.target = page.lastSeq;
          this.#deliver(conversationId, false);
          if (stream.last < from && (page.messages.length > 0 || !page.hasMore)) {
            // The server has nothing at `from` (none it shows this user below its first answer,
            // or none at all): do not wait for it forever.
            this.#streams.skipGap(stream);
            this.#deliver(conversationId, false);
          }
        }
        return true;
      } catch (err) {
        this.#pullError = err;
        this.#failed(err, `pulling ${conversationId}`);
        return false;
      } finally {
        this.#release();
        stream.pulling = undefined;
      }
    };
    stream.pulling = pull();
    return stream.pulling;
  }

  /**
   * The stream of a conversation, made on first sight: on the first sync of the installation
   * it starts `initialMessages` below `latest`, later `newConversationLimit` below (from the
   * first message, usually). Older messages are announced by a `history` event.
   */
  #stream(conversationId: string, latest: number): Stream {
    const known = this.#streams.get(conversationId);
    if (known) {
      if (latest > known.target) known.target = latest;
      return known;
    }
    const stream = this.#streams.ensure(conversationId, latest, this.#fresh ? this.#initial : this.#newLimit);
    this.#dirty();
    if (stream.oldest > 1) this.#events.emit('history', { conversationId, beforeSeq: stream.oldest });
    return stream;
  }

  /**
   * Keeps why sync failed; tells `error` about it unless it is routine (retryable: no link, a
   * timeout) or a failure of the same run of failures (until a run succeeds) was told already.
   */
  #failed(err: unknown, doing: string): void {
    if (isClosed(err) || (err instanceof ClientError && isClosed(err.cause))) return;
    const error = err instanceof ClientError && err.clientCode === ClientErrorCode.SYNC ? err : syncError(err, doing);
    this.#lastError = error;
    if (isRetryable(error) || this.#reported) return;
    this.#reported = true;
    this.#events.emit('error', error);
  }

  /** Whether a run was asked for during the last one (a method: not narrowed across `await`). */
  #repeat(): boolean {
    return this.#again && this.#active;
  }

  /** Delivers what is in line and pulls the gap below what is held. */
  #deliver(conversationId: string, pullGaps = true): void {
    const stream = this.#streams.get(conversationId);
    if (!stream) return;
    const ready = this.#streams.take(stream);
    if (ready.length > 0) this.#dirty();
    for (const message of ready) this.#events.emit('message', message);
    if (pullGaps && stream.target > stream.last && this.#active) void this.#pull(conversationId, stream);
  }

  async #acquire(): Promise<void> {
    if (this.#slots > 0) {
      this.#slots--;
      return;
    }
    await new Promise<void>((resolve) => this.#slotWaiters.push(resolve));
  }

  #release(): void {
    const next = this.#slotWaiters.shift();
    if (next) next();
    else this.#slots++;
  }

  #dirty(): void {
    if (this.#saveTimer !== undefined) return;
    this.#saveTimer = setTimeout(() => {
      this.#saveTimer = undefined;
      this.#save();
    }, this.#persistDelayMs);
  }

  #save(): void {
    const streams: Saved['streams'] = {};
    for (const [id, s] of this.#streams.entries()) streams[id] = [s.last, s.oldest];
    const left = Object.fromEntries(this.#streams.leftEntries());
    const text = JSON.stringify({ version: this.#version, fresh: this.#fresh, streams, left } satisfies Saved);
    this.#saving = this.#storage.set(this.#key, text).catch((err: unknown) => {
      this.#events.emit('error', asError(err));
    });
  }
}

/** The app closed the connection: not worth an error event. */
function isClosed(err: unknown): boolean {
  return err instanceof ClientError && err.clientCode === ClientErrorCode.CLOSED;
}

/** A PARLEY_ERR_SYNC error for `cause`, with its wire code (INTERNAL for a cause that has none). */
function syncError(cause: unknown, doing: string): ClientError {
  const code = cause instanceof ParleyError ? cause.code : ErrorCode.INTERNAL;
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new ClientError(ClientErrorCode.SYNC, code, `sync stopped: ${doing}: ${detail}`, { cause });
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
