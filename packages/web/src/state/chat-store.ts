// The app's state over the SDK: the conversation list, each opened conversation's messages
// (history pages plus live ones, recalls applied), pending sends from the outbox, typing,
// members, and the connection as the banner shows it. Components subscribe and re-render.
import {
  type ChatMessage,
  type ConnectionState,
  type ConversationView,
  type OutboxMessage,
  type OutboxState,
  type ParleyClient,
  Command,
  pb,
} from '@parley/client';

const PAGE = 30;
/** Messages kept per conversation as they arrive. */
const MAX_KEPT = 1_000;
/** A typing notice lasts this long unless renewed (the "stopped" notice may never come). */
const TYPING_TTL_MS = 6_000;
const BACK_ONLINE_MS = 2_500;

export interface Member {
  userId: string;
  role: pb.MemberRole;
}

/** One conversation's loaded messages. Immutable: a change makes a new object. */
export interface Timeline {
  /** Stored messages by ascending seq (RECALL markers included; views skip them). */
  readonly messages: readonly ChatMessage[];
  /** More history exists below the first loaded message. */
  readonly hasMore: boolean;
  readonly loading: boolean;
  /** The first page has been asked for. */
  readonly started: boolean;
  readonly error: string | undefined;
}

const EMPTY: Timeline = { messages: [], hasMore: true, loading: false, started: false, error: undefined };

/** What the connection banner shows. */
export type LinkStatus = 'connecting' | 'online' | 'back-online' | 'reconnecting' | 'offline' | 'closed';

export class ChatStore {
  readonly client: ParleyClient;
  readonly me: string;
  #timelines = new Map<string, Timeline>();
  #typing = new Map<string, Map<string, ReturnType<typeof setTimeout>>>();
  #members = new Map<string, readonly Member[]>();
  #membersLoading = new Set<string>();
  #listeners = new Set<() => void>();
  #scheduled = false;
  #link: LinkStatus = 'connecting';
  #everConnected = false;
  #backTimer: ReturnType<typeof setTimeout> | undefined;
  #browserOnline = navigator.onLine;
  #offs: (() => void)[] = [];
  /** Bumped on every change: cheap equality for components. */
  version = 0;

  constructor(client: ParleyClient, me: string) {
    this.client = client;
    this.me = me;
    this.#offs.push(
      client.on('conversations', () => {
        this.#changed();
      }),
      client.on('message', (m) => {
        this.#onMessage(m);
      }),
      client.on('outbox', () => {
        this.#changed();
      }),
      client.on('cursor', () => {
        this.#changed();
      }),
      client.on('typing', (t) => {
        this.#setTyping(t.conversationId, t.userId, t.typing);
      }),
      client.on('state', (state) => {
        this.#onState(state);
      }),
      client.on('error', (err) => {
        console.warn('parley:', err.message);
      }),
      client.on('disconnected', (info) => {
        console.warn('parley: link down:', info.error.message);
      }),
    );
    // The browser knows before any heartbeat does: drop the link when it goes offline (sends
    // wait in the outbox) and connect again as soon as it is back.
    const offline = (): void => {
      this.#browserOnline = false;
      client.connection.close();
      this.#onState(client.connection.state);
    };
    const online = (): void => {
      this.#browserOnline = true;
      client.connection.connect();
      this.#onState(client.connection.state);
    };
    window.addEventListener('offline', offline);
    window.addEventListener('online', online);
    this.#offs.push(() => {
      window.removeEventListener('offline', offline);
      window.removeEventListener('online', online);
    });
  }

  async start(): Promise<void> {
    await this.client.connect();
    if (!this.#browserOnline) this.client.connection.close();
  }

  async stop(): Promise<void> {
    for (const off of this.#offs) off();
    this.#offs = [];
    await this.client.close();
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  // ---- reading ------------------------------------------------------------------------------

  get link(): LinkStatus {
    return this.#link;
  }

  /** Messages waiting in the outbox (shown in the offline banner). */
  get queued(): number {
    return this.client.outbox.pending;
  }

  /** Why the connection closed for good, when it did. */
  get closeReason(): string | undefined {
    return this.client.connection.closeError?.message;
  }

  conversations(): readonly ConversationView[] {
    return this.client.conversations();
  }

  conversation(id: string): ConversationView | undefined {
    return this.client.conversation(id);
  }

  timeline(id: string): Timeline {
    return this.#timelines.get(id) ?? EMPTY;
  }

  /** Own messages not in the timeline yet: sending, failed, or acknowledged just now. */
  pending(id: string): OutboxMessage[] {
    const top = this.timeline(id).messages.at(-1)?.seq ?? 0;
    return this.client.outbox
      .list(id)
      .filter((m) => m.state === 'sending' || m.state === 'failed' || (m.seq ?? 0) > top);
  }

  /** The receipt state of one's own stored message, from the other members' cursors. */
  ownState(view: ConversationView | undefined, seq: number): OutboxState {
    if (!view) return 'sent';
    if (seq <= view.peerReadSeq) return 'read';
    if (seq <= view.peerDeliveredSeq) return 'delivered';
    return 'sent';
  }

  typingIn(id: string): string[] {
    return [...(this.#typing.get(id)?.keys() ?? [])];
  }

  members(id: string): readonly Member[] | undefined {
    return this.#members.get(id);
  }

  /** A direct conversation's other member (once its members are known). */
  peerOf(view: ConversationView): string | undefined {
    if (view.type !== pb.ConversationType.DIRECT) return undefined;
    const members = this.#members.get(view.id);
    if (!members) {
      // The last message usually names the peer; otherwise ask for the members (once).
      const sender = view.lastMessage?.senderId;
      if (sender && sender !== this.me) return sender;
      this.loadMembers(view.id);
      return undefined;
    }
    return members.find((m) => m.userId !== this.me)?.userId ?? this.me;
  }

  title(view: ConversationView): string {
    if (view.name) return view.name;
    if (view.type === pb.ConversationType.DIRECT) return this.peerOf(view) ?? 'Direct chat';
    return 'Group';
  }

  /** Unread messages in every conversation not muted: the tab title's count. */
  totalUnread(): number {
    let n = 0;
    for (const v of this.conversations()) if (!v.notificationsMuted) n += v.unread;
    return n;
  }

  // ---- acting -------------------------------------------------------------------------------

  /** Loads the latest page the first time a conversation is opened. */
  open(id: string): void {
    if (!this.timeline(id).started) void this.#loadPage(id, 0);
    const view = this.conversation(id);
    if (view && view.type !== pb.ConversationType.DIRECT) this.loadMembers(id);
  }

  loadOlder(id: string): void {
    const t = this.timeline(id);
    if (t.loading || !t.hasMore) return;
    void this.#loadPage(id, t.messages[0]?.seq ?? 0);
  }

  send(id: string, content: string | pb.MessageContent.$Properties): void {
    this.client.send(id, content);
    this.client.typing(id, false);
  }

  retry(localId: string): void {
    this.client.retry(localId);
  }

  discard(localId: string): void {
    if (this.client.outbox.discard(localId)) this.#changed();
  }

  async recall(id: string, seq: number): Promise<void> {
    await this.client.recall(id, seq);
    // The RECALL message is pushed to the other devices, not this one: apply it here.
    this.#update(id, (t) => ({
      ...t,
      messages: t.messages.map((m) =>
        m.seq === seq && !m.recalled ? { ...m, recalled: true, content: { type: m.content.type } } : m,
      ),
    }));
  }

  markRead(id: string): void {
    this.client.markRead(id).catch(() => undefined); // the next open or message tries again
  }

  loadMembers(id: string, force = false): void {
    if (this.#membersLoading.has(id) || (!force && this.#members.has(id))) return;
    this.#membersLoading.add(id);
    this.#fetchMembers(id)
      .then(
        (members) => {
          this.#members.set(id, members);
          this.#changed();
        },
        () => undefined,
      )
      .finally(() => this.#membersLoading.delete(id));
  }

  async #fetchMembers(id: string): Promise<Member[]> {
    const members: Member[] = [];
    let cursor = '';
    do {
      const page = await this.client.connection.request(Command.MEMBERS_LIST, {
        conversationId: id,
        cursor,
        limit: 200,
      });
      for (const m of page.members) members.push({ userId: m.userId ?? '', role: m.role ?? pb.MemberRole.MEMBER });
      cursor = page.nextCursor;
    } while (cursor !== '' && members.length < 2_000);
    return members.sort((a, b) => b.role - a.role || a.userId.localeCompare(b.userId));
  }

  // ---- internals ----------------------------------------------------------------------------

  async #loadPage(id: string, beforeSeq: number): Promise<void> {
    this.#update(id, (t) => ({ ...t, loading: true, started: true, error: undefined }));
    try {
      const page = await this.client.connection.request(Command.HISTORY, {
        conversationId: id,
        beforeSeq,
        limit: PAGE,
      });
      const older = page.messages.map((m) => toMessage(m));
      this.#update(id, (t) => ({ ...t, messages: merge(t.messages, older), hasMore: page.hasMore, loading: false }));
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.#update(id, (t) => ({ ...t, loading: false, started: beforeSeq !== 0, error: message }));
    }
  }

  #onMessage(m: ChatMessage): void {
    if (m.conversationType === pb.ConversationType.ROOM || m.seq === 0) return;
    this.#setTyping(m.conversationId, m.senderId, false, false);
    const system = m.content.system?.type;
    if (system !== undefined && system !== pb.SystemEventType.NOTICE) this.loadMembers(m.conversationId, true);
    this.#update(m.conversationId, (t) => {
      const messages = merge(t.messages, [m]);
      // A long session keeps the newest messages only; scrolling up loads the rest again.
      return messages.length > MAX_KEPT
        ? { ...t, messages: messages.slice(-MAX_KEPT), hasMore: true }
        : { ...t, messages };
    });
  }

  #update(id: string, change: (t: Timeline) => Timeline): void {
    this.#timelines.set(id, change(this.timeline(id)));
    this.#changed();
  }

  #setTyping(id: string, userId: string, typing: boolean, notify = true): void {
    if (userId === this.me) return;
    let users = this.#typing.get(id);
    const timer = users?.get(userId);
    if (timer !== undefined) clearTimeout(timer);
    if (typing) {
      if (!users) this.#typing.set(id, (users = new Map<string, ReturnType<typeof setTimeout>>()));
      users.set(
        userId,
        setTimeout(() => {
          this.#setTyping(id, userId, false);
        }, TYPING_TTL_MS),
      );
    } else {
      if (!users?.delete(userId)) return;
      if (users.size === 0) this.#typing.delete(id);
    }
    if (notify) this.#changed();
  }

  #onState(state: ConnectionState): void {
    let link: LinkStatus;
    if (state === 'connected') {
      link = this.#everConnected && this.#link !== 'online' ? 'back-online' : 'online';
      this.#everConnected = true;
      clearTimeout(this.#backTimer);
      if (link === 'back-online') {
        this.#backTimer = setTimeout(() => {
          this.#link = 'online';
          this.#changed();
        }, BACK_ONLINE_MS);
      }
    } else if (!this.#browserOnline) {
      link = 'offline';
    } else if (state === 'closed') {
      link = 'closed'; // the server ended the session for good (kicked, token refused)
    } else {
      link = this.#everConnected ? 'reconnecting' : 'connecting';
    }
    if (link === this.#link || (link === 'back-online' && this.#link === 'back-online')) return;
    this.#link = link;
    this.#changed();
  }

  #changed(): void {
    this.version++;
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      for (const listener of this.#listeners) listener();
    });
  }
}

function toMessage(m: pb.Message.$Properties): ChatMessage {
  return {
    conversationId: m.conversationId ?? '',
    seq: m.seq ?? 0,
    messageId: m.messageId ?? '',
    senderId: m.senderId ?? '',
    senderDeviceId: m.senderDeviceId ?? '',
    clientMessageId: m.clientMessageId ?? '',
    serverTime: m.serverTime ?? 0,
    content: m.content ?? {},
    recalled: m.recalled ?? false,
    conversationType: m.conversationType ?? pb.ConversationType.CONVERSATION_TYPE_UNSPECIFIED,
  };
}

/** Adds messages by seq (each seq once) and applies RECALL markers to their targets. */
function merge(current: readonly ChatMessage[], incoming: readonly ChatMessage[]): readonly ChatMessage[] {
  const bySeq = new Map<number, ChatMessage>();
  for (const m of current) bySeq.set(m.seq, m);
  let added = false;
  for (const m of incoming) {
    if (bySeq.has(m.seq)) continue;
    bySeq.set(m.seq, m);
    added = true;
  }
  if (!added) return current;
  for (const m of bySeq.values()) {
    if (m.content.type !== pb.MessageType.RECALL) continue;
    const target = bySeq.get(m.content.recallTargetSeq ?? 0);
    if (target && !target.recalled)
      bySeq.set(target.seq, { ...target, recalled: true, content: { type: target.content.type } });
  }
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}
