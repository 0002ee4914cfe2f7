// What the chat shows besides the SDK's conversation list: the messages seen per
// conversation (bounded), the peer of each 1:1 conversation, and who is typing.
import { type ChatMessage, type ConversationView, type KeyValueStore, pb } from '@parley/client';

const PEERS_KEY = 'chat:peers';
/** How long a typing notice shows without a refresh (the sender repeats it while typing). */
export const TYPING_SHOWN_MS = 6_000;

/** The messages of one conversation the chat holds, by seq. */
export interface MessageLog {
  /** Ascending seq, no duplicates. */
  messages: ChatMessage[];
  /** Whether older messages than the first may exist on the server. */
  hasOlder: boolean;
}

export class ChatModel {
  readonly #logs = new Map<string, MessageLog>();
  readonly #peers = new Map<string, string>();
  readonly #typing = new Map<string, Map<string, number>>();
  readonly #storage: KeyValueStore;
  readonly #cap: number;

  /** @param cap most messages held per conversation (older ones are dropped, and loaded again on /more) */
  constructor(storage: KeyValueStore, cap = 2_000) {
    this.#storage = storage;
    this.#cap = cap;
  }

  async load(): Promise<void> {
    const text = await this.#storage.get(PEERS_KEY);
    if (text === undefined) return;
    try {
      for (const [id, peer] of Object.entries(JSON.parse(text) as Record<string, unknown>)) {
        if (typeof peer === 'string') this.#peers.set(id, peer);
      }
    } catch {
      // unreadable: peers are learned again
    }
  }

  log(conversationId: string): MessageLog {
    let log = this.#logs.get(conversationId);
    if (!log) {
      log = { messages: [], hasOlder: true };
      this.#logs.set(conversationId, log);
    }
    return log;
  }

  /** Merges messages (any order, repeats ignored). Returns how many were new. */
  add(conversationId: string, messages: readonly ChatMessage[], olderExhausted = false): number {
    const log = this.log(conversationId);
    const bySeq = new Map(log.messages.map((m) => [m.seq, m]));
    let added = 0;
    for (const m of messages) {
      if (m.seq <= 0) continue;
      const known = bySeq.get(m.seq);
      if (!known) added++;
      if (!known || (m.recalled && !known.recalled)) bySeq.set(m.seq, m);
    }
    for (const m of messages) {
      // A RECALL message hides its target's content.
      const target = m.content.type === pb.MessageType.RECALL ? (m.content.recallTargetSeq ?? 0) : 0;
      const recalled = bySeq.get(target);
      if (recalled && !recalled.recalled) bySeq.set(target, { ...recalled, recalled: true });
    }
    log.messages = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
    if (log.messages.length > this.#cap) {
      log.messages = log.messages.slice(log.messages.length - this.#cap);
      log.hasOlder = true;
    }
    if (olderExhausted || log.messages[0]?.seq === 1) log.hasOlder = false;
    return added;
  }

  /** The oldest seq held (0 when none): the `before_seq` of the next history page. */
  oldestSeq(conversationId: string): number {
    return this.#logs.get(conversationId)?.messages[0]?.seq ?? 0;
  }

  peer(conversationId: string): string | undefined {
    return this.#peers.get(conversationId);
  }

  /** Records the other member of a 1:1 conversation (kept in the state file). */
  setPeer(conversationId: string, userId: string): void {
    if (userId === '' || this.#peers.get(conversationId) === userId) return;
    this.#peers.set(conversationId, userId);
    void this.#storage.set(PEERS_KEY, JSON.stringify(Object.fromEntries(this.#peers))).catch(() => undefined);
  }

  /** A TYPING push. Returns whether what is shown changed. */
  setTyping(conversationId: string, userId: string, typing: boolean, now = Date.now()): boolean {
    let users = this.#typing.get(conversationId);
    if (typing) {
      if (!users) this.#typing.set(conversationId, (users = new Map<string, number>()));
      const shown = (users.get(userId) ?? 0) > now;
      users.set(userId, now + TYPING_SHOWN_MS);
      return !shown;
    }
    return users?.delete(userId) ?? false;
  }

  /** Who is typing in the conversation now (expired notices dropped). */
  typing(conversationId: string, now = Date.now()): string[] {
    const users = this.#typing.get(conversationId);
    if (!users) return [];
    for (const [user, until] of users) if (until <= now) users.delete(user);
    return [...users.keys()].sort();
  }

  /** The next moment a typing notice expires, for a redraw; undefined when none shows. */
  nextTypingExpiry(): number | undefined {
    let next: number | undefined;
    for (const users of this.#typing.values()) {
      for (const until of users.values()) next = next === undefined ? until : Math.min(next, until);
    }
    return next;
  }
}

/** The name a person knows a conversation by: its name, the peer of a 1:1, or a short id. */
export function conversationTitle(view: ConversationView, peer: string | undefined): string {
  if (view.name !== '') return view.name;
  if (view.type === pb.ConversationType.DIRECT) return peer ?? `1:1 ${view.id.slice(0, 10)}`;
  return `group ${view.id.slice(0, 10)}`;
}
