import { pb } from '@parley/protocol';
import { Emitter } from '../events.js';
import type { KeyValueStore } from '../storage/key-value.js';
import { type ChatMessage, toChatMessage } from '../sync/types.js';
import type { CacheEvents, ConversationView } from './types.js';

/** Options of {@link ConversationCache}. */
export interface ConversationCacheOptions {
  storage: KeyValueStore;
  /** Storage key. Default `parley:conversations`. */
  key?: string;
  /** Delay that batches storage writes. Default 100 ms. */
  persistDelayMs?: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * The local conversation list: each conversation with its last message, unread and mention
 * counts, the caller's cursors and the highest cursors of the other members, sorted by
 * activity (newest first). Sync, pushes and the app's own actions update it; `list()` reads it
 * synchronously for rendering, and `change` says when to render again. It persists (batched),
 * so an app restart renders the list before the first sync.
 *
 * Rooms are not listed (they have no per-member state).
 */
export class ConversationCache {
  readonly #events = new Emitter<CacheEvents>();
  readonly #storage: KeyValueStore;
  readonly #key: string;
  readonly #persistDelayMs: number;
  readonly #views = new Map<string, ConversationView>();
  #sorted: readonly ConversationView[] | undefined = [];
  #notify = false;
  #loaded: Promise<void> | undefined;
  #saveTimer: ReturnType<typeof setTimeout> | undefined;
  #saving: Promise<void> = Promise.resolve();

  constructor(options: ConversationCacheOptions) {
    this.#storage = options.storage;
    this.#key = options.key ?? 'parley:conversations';
    this.#persistDelayMs = options.persistDelayMs ?? 100;
  }

  on<K extends keyof CacheEvents>(event: K, listener: CacheEvents[K]): () => void {
    return this.#events.on(event, listener);
  }

  /** Loads the stored list (once). */
  load(): Promise<void> {
    this.#loaded ??= this.#storage.get(this.#key).then((text) => {
      if (text === undefined) return;
      try {
        for (const view of JSON.parse(text) as ConversationView[]) {
          if (!this.#views.has(view.id)) this.#views.set(view.id, Object.freeze(view));
        }
      } catch {
        return; // unreadable: the first sync rebuilds it
      }
      this.#changed(false);
    });
    return this.#loaded;
  }

  /** The conversations by activity, newest first. The same array until something changes. */
  list(): readonly ConversationView[] {
    this.#sorted ??= Object.freeze(
      [...this.#views.values()].sort((a, b) => b.activityAt - a.activityAt || (a.id < b.id ? -1 : 1)),
    );
    return this.#sorted;
  }

  get(conversationId: string): ConversationView | undefined {
    return this.#views.get(conversationId);
  }

  /** A state from sync, a CONVERSATION push or CONV_CREATE. Never moves seqs or cursors back. */
  applyState(input: pb.ConversationState.$Properties): void {
    const state = pb.ConversationState.create(input);
    if (!state.conversation) return;
    const c = pb.Conversation.create(state.conversation);
    if (c.type === pb.ConversationType.ROOM) return;
    const id = c.conversationId;
    if (state.removed) {
      if (this.#views.delete(id)) this.#changed();
      return;
    }
    const prev = this.#views.get(id);
    const incoming = state.lastMessage ? toChatMessage(state.lastMessage) : undefined;
    const incomingLast = Math.max(c.lastSeq, incoming?.seq ?? 0);
    const prevLast = prev?.lastSeq ?? 0;
    const lastSeq = Math.max(prevLast, incomingLast);
    const readSeq = Math.max(prev?.readSeq ?? 0, state.readSeq);
    // The server's counts hold when its state is at least as new as ours.
    const fresh = incomingLast >= prevLast && state.readSeq >= (prev?.readSeq ?? 0);
    const lastMessage =
      incoming && incoming.seq >= (prev?.lastMessage?.seq ?? 0) ? incoming : (prev?.lastMessage ?? incoming);
    const view: ConversationView = {
      id,
      type: c.type,
      name: c.name,
      attributes: c.attributes,
      ownerId: c.ownerId,
      memberCount: c.memberCount,
      role: state.role,
      lastMessage,
      lastSeq,
      unread: fresh ? state.unread : Math.max(0, lastSeq - readSeq),
      mentionUnread: fresh ? state.mentionUnread : readSeq >= lastSeq ? 0 : (prev?.mentionUnread ?? 0),
      readSeq,
      deliveredSeq: Math.max(prev?.deliveredSeq ?? 0, state.deliveredSeq, readSeq),
      peerReadSeq: prev?.peerReadSeq ?? 0,
      peerDeliveredSeq: prev?.peerDeliveredSeq ?? 0,
      notificationsMuted: state.notificationsMuted,
      mutedUntil: state.mutedUntil,
      createdAt: c.createdAt,
      updatedAt: c.updatedAt,
      activityAt: lastMessage?.serverTime || c.updatedAt || c.createdAt,
    };
    this.#put(view);
  }

  /**
   * A message delivered to the app (or one's own, acknowledged). A newer message moves the last
   * message and, from another member, the unread and mention counts; one's own moves the read
   * cursor (the server does the same). Its sender has evidently read up to it.
   */
  applyMessage(message: ChatMessage, me: string | undefined): void {
    if (message.seq === 0 || message.conversationType === pb.ConversationType.ROOM) return;
    const prev = this.#views.get(message.conversationId);
    const view: Mutable<ConversationView> = prev ? { ...prev } : blankView(message);
    const own = me !== undefined && message.senderId === me;
    if (message.seq > view.lastSeq || !view.lastMessage) {
      view.lastSeq = Math.max(view.lastSeq, message.seq);
      view.lastMessage = message;
      view.activityAt = Math.max(view.activityAt, message.serverTime);
      if (own) {
        view.readSeq = view.deliveredSeq = message.seq;
        view.unread = view.mentionUnread = 0;
      } else {
        if (message.seq > view.readSeq) view.unread = Math.max(0, view.lastSeq - view.readSeq);
        if (me !== undefined && mentions(message, me)) view.mentionUnread++;
      }
    }
    if (!own && message.senderId) {
      // Sending moves the sender's read cursor to its message (see docs/protocol.md, Cursors).
      view.peerReadSeq = Math.max(view.peerReadSeq, message.seq);
      view.peerDeliveredSeq = Math.max(view.peerDeliveredSeq, message.seq);
    }
    this.#put(view);
  }

  /** A cursor moved: the caller's own (any device) or another member's. */
  applyCursor(conversationId: string, kind: 'delivered' | 'read', seq: number, own: boolean): void {
    const prev = this.#views.get(conversationId);
    if (!prev) return;
    const view: Mutable<ConversationView> = { ...prev };
    if (own) {
      view.deliveredSeq = Math.max(view.deliveredSeq, seq);
      if (kind === 'read' && seq > view.readSeq) {
        view.readSeq = seq;
        view.unread = Math.max(0, view.lastSeq - seq);
        if (seq >= view.lastSeq) view.mentionUnread = 0;
      }
    } else {
      view.peerDeliveredSeq = Math.max(view.peerDeliveredSeq, seq);
      if (kind === 'read') view.peerReadSeq = Math.max(view.peerReadSeq, seq);
    }
    if (!sameView(prev, view)) this.#put(view);
  }

  /** The server's unread count after a READ cursor update of the caller's. */
  setUnread(conversationId: string, readSeq: number, unread: number): void {
    const prev = this.#views.get(conversationId);
    if (!prev || readSeq < prev.readSeq || prev.unread === unread) return;
    this.#put({ ...prev, unread, ...(unread === 0 ? { mentionUnread: 0 } : {}) });
  }

  /** Writes the stored list now. */
  async flush(): Promise<void> {
    if (this.#saveTimer !== undefined) {
      clearTimeout(this.#saveTimer);
      this.#saveTimer = undefined;
      this.#save();
    }
    await this.#saving;
  }

  #put(view: ConversationView): void {
    this.#views.set(view.id, Object.freeze(view));
    this.#changed();
  }

  #changed(persist = true): void {
    this.#sorted = undefined;
    if (persist && this.#saveTimer === undefined) {
      this.#saveTimer = setTimeout(() => {
        this.#saveTimer = undefined;
        this.#save();
      }, this.#persistDelayMs);
    }
    if (this.#notify) return;
    this.#notify = true;
    queueMicrotask(() => {
      this.#notify = false;
      this.#events.emit('change', this.list());
    });
  }

  #save(): void {
    const text = JSON.stringify([...this.#views.values()]);
    this.#saving = this.#storage.set(this.#key, text).catch((err: unknown) => {
      this.#events.emit('error', err instanceof Error ? err : new Error(String(err)));
    });
  }
}

function blankView(message: ChatMessage): Mutable<ConversationView> {
  return {
    id: message.conversationId,
    type: message.conversationType,
    name: '',
    attributes: '',
    ownerId: '',
    memberCount: 0,
    role: pb.MemberRole.MEMBER_ROLE_UNSPECIFIED,
    lastMessage: undefined,
    lastSeq: 0,
    unread: 0,
    mentionUnread: 0,
    readSeq: 0,
    deliveredSeq: 0,
    peerReadSeq: 0,
    peerDeliveredSeq: 0,
    notificationsMuted: false,
    mutedUntil: 0,
    createdAt: message.serverTime,
    updatedAt: message.serverTime,
    activityAt: message.serverTime,
  };
}

function mentions(message: ChatMessage, me: string): boolean {
  const list = message.content.mentions ?? [];
  return list.includes(me) || list.includes('@all');
}

function sameView(a: ConversationView, b: ConversationView): boolean {
  return (Object.keys(a) as (keyof ConversationView)[]).every((k) => a[k] === b[k]);
}
