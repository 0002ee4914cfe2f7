import { Command, ErrorCode, ParleyError, pb } from '@parley/protocol';
import { ConversationCache, type ConversationCacheOptions } from './cache/conversation-cache.js';
import type { ConversationView } from './cache/types.js';
import { Connection } from './connection/connection.js';
import type { HeartbeatPolicy } from './connection/heartbeat-policy.js';
import type { ReadyOptions } from './connection/ready.js';
import type { ConnectionEvents, ConnectionOptions, SessionInfo } from './connection/types.js';
import { ClientError, ClientErrorCode, isRetryable } from './errors.js';
import { Emitter } from './events.js';
import { Outbox, type OutboxOptions } from './outbox/outbox.js';
import { KeyValueOutboxStore } from './outbox/outbox-store.js';
import { ulid } from './outbox/ids.js';
import type { OutboxMessage, OutboxState, OutboxStore } from './outbox/types.js';
import type { LinkKind } from './shortlink/policy.js';
import { ShortLink, type ShortLinkOptions } from './shortlink/short-link.js';
import { shortLinkUrl, shortLinkUrlOf } from './shortlink/url.js';
import { type KeyValueStore, MemoryKeyValueStore } from './storage/key-value.js';
import { DeliveryReceipts } from './sync/delivery-receipts.js';
import { Sync, type SyncOptions } from './sync/sync.js';
import { type ChatMessage, type SyncReport, toChatMessage } from './sync/types.js';
import type { Transport } from './transport/types.js';

/** Options of {@link ParleyClient}. */
export interface ParleyClientOptions {
  transport: Transport;
  /** Returns a login token (a JWT from the app's server); called again when it expires. */
  token: () => Promise<string>;
  /** Stable per installation. */
  deviceId: string;
  platform?: pb.Platform;
  /**
   * Where the outbox, the sync cursor and the conversation list persist: memory by default;
   * `FileKeyValueStore` in Node, `IndexedDbKeyValueStore` in browsers. Use one store per user.
   */
  storage?: KeyValueStore;
  /** Overrides where the outbox persists (default: `storage`, keys `parley:outbox:*`). */
  outboxStore?: OutboxStore;
  /** Default: a fixed 210 s interval; pass a `SmartHeartbeat` for adaptive heartbeats. */
  heartbeat?: HeartbeatPolicy;
  /** Further connection options (backoff, task defaults, timeouts, app state, ...). */
  connection?: Partial<Omit<ConnectionOptions, 'transport' | 'token' | 'deviceId' | 'platform' | 'heartbeat'>>;
  outbox?: Pick<OutboxOptions, 'timeoutMs' | 'retryBaseMs' | 'retryCapMs' | 'keepSettled'>;
  sync?: Pick<SyncOptions, 'initialMessages' | 'newConversationLimit' | 'pageSize' | 'concurrency' | 'persistDelayMs'>;
  cache?: Pick<ConversationCacheOptions, 'persistDelayMs'>;
  /** Send DELIVERED cursors for received messages, batched per `delayMs`. Default true, 100 ms. */
  deliveryReceipts?: boolean | { delayMs: number };
  /**
   * The short link: when the long link cannot be established (3 failed attempts in a row, or
   * 15 s without it), sends, sync and the other requests that need no live session go over the
   * server's `POST /v1/link`, and new messages are pulled every `pollMs`; back to the long link
   * the moment it logs in. On by default when the server's HTTP address can be derived (a
   * WebSocket transport); with TCP or TLS give `url`. `false` turns it off.
   */
  shortLink?: ShortLinkOptions | false;
}

/** A receipt or read-state cursor of a member, from a CURSOR push. */
export interface CursorEvent {
  conversationId: string;
  userId: string;
  kind: 'delivered' | 'read';
  seq: number;
}

export interface ParleyClientEvents {
  /**
   * A new message (others' and one's own), exactly once each, in seq order per conversation.
   * A conversation first seen after the first sync comes from its first message (see `history`).
   */
  message: (message: ChatMessage) => void;
  /**
   * Older messages of a newly seen conversation, below `beforeSeq`, will not come as `message`
   * events: on the first sync each conversation starts at its latest `initialMessages` (20), and
   * one found later with more than `newConversationLimit` (1,000) to catch up starts there.
   * Page them with `loadHistory`.
   */
  history: (info: { conversationId: string; beforeSeq: number }) => void;
  /** An outgoing message was added or changed state. */
  outbox: (message: OutboxMessage, previous: OutboxState | undefined) => void;
  /** The conversation list changed: render `conversations()` again. */
  conversations: (conversations: readonly ConversationView[]) => void;
  cursor: (cursor: CursorEvent) => void;
  typing: (typing: { conversationId: string; userId: string; typing: boolean }) => void;
  /** A joined room's online count (from ROOM_INFO pushes, and after a rejoin on reconnect). */
  room: (room: { roomId: string; onlineCount: number }) => void;
  synced: (report: SyncReport) => void;
  /**
   * Which link carries requests: `short` when they moved to the HTTP short link (the long link
   * could not be established; messages then arrive by periodic sync, typing and rooms pause),
   * `long` when they are back on the long link (or it is being retried). Starts as `long`.
   */
  link: (link: LinkKind) => void;
  state: ConnectionEvents['state'];
  connected: ConnectionEvents['connected'];
  disconnected: ConnectionEvents['disconnected'];
  /**
   * Failures the client handles itself and that are worth a log line: a refused login, a storage
   * write, a sync that cannot go on (PARLEY_ERR_SYNC, not retryable; once per run of failures),
   * a short link refused or answered by something that is not the server. Routine outage
   * failures (no link, timeouts) are not reported: see `sync.lastError`, `shortLink.lastError`.
   */
  error: (error: Error) => void;
}

/** What {@link ParleyClient.joinRoom} answers. */
export interface JoinedRoom {
  roomId: string;
  name: string;
  onlineCount: number;
  /** The room's recent messages, oldest first. */
  recent: ChatMessage[];
}

/** Options of {@link ParleyClient.joinRoom}. */
export interface JoinRoomOptions {
  /** How many recent messages to get with the join (the server caps it). Default 20. */
  recentLimit?: number;
  /** For token-gated rooms: a join token from the app's server. */
  joinToken?: string;
}

/** Options of {@link ParleyClient.createConversation}. */
export interface CreateConversationOptions {
  type: 'direct' | 'group';
  /** The other members (exactly one for `direct`). */
  members: string[];
  name?: string;
  /** App JSON. */
  attributes?: string;
}

/**
 * The high-level Parley client: a {@link Connection} (long link, heartbeats, reconnects), an
 * {@link Outbox} (persisted sends, resent after reconnects and restarts, receipts), {@link Sync}
 * (catch-up after every login, gap pulls, in-order exactly-once delivery) and a
 * {@link ConversationCache} (the conversation list to render), wired together.
 *
 * ```ts
 * const client = new ParleyClient({ transport, token, deviceId, storage });
 * client.on('message', (m) => render(m));
 * client.on('conversations', (list) => renderList(list));
 * await client.connect();
 * client.send(conversationId, 'hello');
 * ```
 */
export class ParleyClient {
  readonly connection: Connection;
  readonly outbox: Outbox;
  readonly sync: Sync;
  readonly cache: ConversationCache;
  /** The short link, unless turned off or no URL is known. */
  readonly shortLink: ShortLink | undefined;
  readonly #events = new Emitter<ParleyClientEvents>();
  readonly #options: ParleyClientOptions;
  readonly #receipts: DeliveryReceipts | undefined;
  readonly #fetching = new Set<string>();
  /** Joined rooms: a room membership ends with the session, so they are joined again after a reconnect. */
  readonly #rooms = new Map<string, JoinRoomOptions>();
  #userId: string | undefined;
  #started: Promise<void> | undefined;

  constructor(options: ParleyClientOptions) {
    this.#options = options;
    const storage = options.storage ?? new MemoryKeyValueStore();
    this.connection = new Connection({
      ...options.connection,
      transport: options.transport,
      token: options.token,
      deviceId: options.deviceId,
      platform: options.platform,
      heartbeat: options.heartbeat,
      conversationVersion: () => this.sync.version || undefined,
    });
    this.shortLink = makeShortLink(options, this.connection);
    const linkUp = (): boolean => this.connection.state === 'connected' || this.shortLink?.link === 'short';
    this.cache = new ConversationCache({ storage, ...options.cache });
    this.sync = new Sync({ connection: this.connection, storage, ...options.sync, canSync: linkUp });
    this.outbox = new Outbox({
      connection: this.connection,
      store: options.outboxStore ?? new KeyValueOutboxStore(storage),
      ...options.outbox,
      canSend: linkUp,
      receipts: (id) => {
        const view = this.cache.get(id);
        return { delivered: view?.peerDeliveredSeq ?? 0, read: view?.peerReadSeq ?? 0 };
      },
    });
    const receipts = options.deliveryReceipts ?? true;
    if (receipts !== false) {
      this.#receipts = new DeliveryReceipts(this.connection, {
        alreadyAt: (id) => this.cache.get(id)?.deliveredSeq ?? 0,
        done: (id, seq) => {
          this.cache.applyCursor(id, 'delivered', seq, true);
        },
        delayMs: receipts === true ? undefined : receipts.delayMs,
        canSend: linkUp,
      });
    }
    this.#wire();
  }

  /** Which link carries requests now (see the `link` event). */
  get link(): LinkKind {
    return this.shortLink?.link ?? 'long';
  }

  /** The logged-in user (known after the first login). */
  get userId(): string | undefined {
    return this.#userId;
  }

  on<K extends keyof ParleyClientEvents>(event: K, listener: ParleyClientEvents[K]): () => void {
    return this.#events.on(event, listener);
  }

  once<K extends keyof ParleyClientEvents>(event: K, listener: ParleyClientEvents[K]): () => void {
    return this.#events.once(event, listener);
  }

  off<K extends keyof ParleyClientEvents>(event: K, listener: ParleyClientEvents[K]): void {
    this.#events.off(event, listener);
  }

  /** Loads the stored state, starts the outbox and sync, and starts connecting. */
  async connect(): Promise<void> {
    this.#started ??= (async () => {
      await Promise.all([this.cache.load(), this.sync.load(), this.outbox.load()]);
      await Promise.all([this.sync.start(), this.outbox.start()]);
    })();
    await this.#started;
    this.shortLink?.start();
    this.connection.connect();
  }

  /** Resolves once logged in (see `Connection.ready`). */
  ready(options?: ReadyOptions): Promise<SessionInfo> {
    return this.connection.ready(options);
  }

  /** Closes the connection and writes the stored state. Unsent messages stay in the outbox. */
  async close(): Promise<void> {
    this.#receipts?.flush();
    this.outbox.stop();
    this.shortLink?.stop();
    this.connection.close();
    this.#receipts?.stop();
    this.#started = undefined;
    await Promise.all([this.sync.stop(), this.cache.flush(), this.outbox.flush()]);
  }

  /** The conversation list, newest activity first (synchronous, for rendering). */
  conversations(): readonly ConversationView[] {
    return this.cache.list();
  }

  conversation(conversationId: string): ConversationView | undefined {
    return this.cache.get(conversationId);
  }

  /** Queues a message (a string is a TEXT message); it is stored before it is sent. */
  send(conversationId: string, content: string | pb.MessageContent.$Properties): OutboxMessage {
    const body = typeof content === 'string' ? { type: pb.MessageType.TEXT, text: content } : content;
    return this.outbox.send(conversationId, body);
  }

  /** Sends a failed message again; false if it is not failed. */
  retry(localId: string): boolean {
    return this.outbox.retry(localId);
  }

  /** Marks everything in the conversation read (a READ cursor at its last seq). */
  async markRead(conversationId: string): Promise<void> {
    const view = this.cache.get(conversationId);
    if (!view || (view.lastSeq <= view.readSeq && view.unread === 0)) return;
    const seq = view.lastSeq;
    this.cache.applyCursor(conversationId, 'read', seq, true);
    const answer = await this.connection.request(Command.CURSOR, {
      conversationId,
      kind: pb.CursorKind.READ,
      seq,
    });
    this.cache.setUnread(conversationId, answer.seq, answer.unread);
  }

  /** Tells the other members the user is (or stopped) typing; false when offline (not queued). */
  typing(conversationId: string, typing: boolean): boolean {
    return this.connection.notify(Command.TYPING, { conversationId, typing });
  }

  /**
   * Recalls a message (one's own within the server's recall window, or any as a group admin).
   * A RECALL message then reaches every member's stream; resolves with its seq.
   */
  async recall(conversationId: string, seq: number): Promise<number> {
    const answer = await this.connection.request(Command.RECALL, { conversationId, seq }, { retries: 0 });
    // The server pushes the RECALL message to the other sessions only: pull it into this stream.
    void this.sync.run();
    return answer.recallSeq;
  }

  /**
   * Joins a live chat room: its messages then arrive as `message` events (type ROOM, gaps
   * allowed) and its online count as `room` events. Joined rooms are joined again after a reconnect.
   */
  async joinRoom(roomId: string, options: JoinRoomOptions = {}): Promise<JoinedRoom> {
    this.#rooms.set(roomId, options);
    try {
      const answer = await this.connection.request(Command.ROOM_JOIN, {
        roomId,
        joinToken: options.joinToken ?? '',
        recentLimit: options.recentLimit ?? 20,
      });
      return { roomId, name: answer.name, onlineCount: answer.onlineCount, recent: answer.recent.map(toChatMessage) };
    } catch (err) {
      this.#rooms.delete(roomId);
      throw err;
    }
  }

  /** Leaves a room (best effort when offline: the membership ends with the session anyway). */
  async leaveRoom(roomId: string): Promise<void> {
    if (!this.#rooms.delete(roomId) || this.connection.state !== 'connected') return;
    await this.connection.request(Command.ROOM_LEAVE, { roomId }, { retries: 0 });
  }

  /**
   * Sends to a joined room. Room messages are live only: they do not wait in the outbox, and
   * a send that fails is not retried later (the client message id makes the one resend safe).
   */
  async sendToRoom(
    roomId: string,
    content: string | pb.MessageContent.$Properties,
  ): Promise<{ seq: number; messageId: string; serverTime: number }> {
    const body = typeof content === 'string' ? { type: pb.MessageType.TEXT, text: content } : content;
    const ack = await this.connection.request(
      Command.SEND,
      { conversationId: roomId, clientMessageId: ulid(), content: body },
      { retries: 1, maxAgeMs: 10_000 },
    );
    return { seq: ack.seq, messageId: ack.messageId, serverTime: ack.serverTime };
  }

  /** Creates a conversation (a DIRECT one that exists is returned as is). */
  async createConversation(options: CreateConversationOptions): Promise<ConversationView> {
    const answer = await this.connection.request(
      Command.CONV_CREATE,
      {
        type: options.type === 'direct' ? pb.ConversationType.DIRECT : pb.ConversationType.GROUP,
        memberIds: options.members,
        name: options.name ?? '',
        attributes: options.attributes ?? '',
      },
      { retries: 0 },
    );
    const state = pb.ConversationState.create(answer.state ?? {});
    void this.sync.applyState(state);
    const view = this.cache.get(state.conversation?.conversationId ?? '');
    if (!view) throw new Error('CONV_CREATE answered without a conversation');
    return view;
  }

  /** Older messages than the oldest the app has, oldest first. */
  loadHistory(conversationId: string, limit?: number): Promise<{ messages: ChatMessage[]; hasMore: boolean }> {
    return this.sync.loadHistory(conversationId, limit);
  }

  /** The app came back (foreground, resume from sleep): check the link and sync. */
  wake(): void {
    this.connection.networkChanged();
    if (this.connection.state === 'connected' || this.link === 'short') void this.sync.run();
  }

  /** The network changed (e.g. `wifi` to `cell:310-260`): reconnect or check the link, and sync. */
  networkChanged(networkId?: string): void {
    this.connection.networkChanged(networkId);
    if (this.connection.state === 'connected' || this.link === 'short') void this.sync.run();
  }

  #wire(): void {
    const conn = this.connection;
    const emitError = (error: Error): void => {
      this.#events.emit('error', error);
    };
    conn.on('connected', (session) => {
      this.#userId = session.userId;
      if (session.reconnected) this.#rejoinRooms();
      this.#events.emit('connected', session);
    });
    conn.on('disconnected', (info) => this.#events.emit('disconnected', info));
    conn.on('state', (state, previous) => this.#events.emit('state', state, previous));
    conn.on('error', emitError);
    conn.onPush(Command.CURSOR, (push) => {
      const kind = push.kind === pb.CursorKind.READ ? 'read' : 'delivered';
      const own = push.userId === this.#userId;
      this.cache.applyCursor(push.conversationId, kind, push.seq, own);
      if (!own) this.outbox.applyCursor(push.conversationId, kind, push.seq);
      this.#events.emit('cursor', { conversationId: push.conversationId, userId: push.userId, kind, seq: push.seq });
    });
    conn.onPush(Command.ROOM_INFO, (push) => {
      if (this.#rooms.has(push.roomId))
        this.#events.emit('room', { roomId: push.roomId, onlineCount: push.onlineCount });
    });
    conn.onPush(Command.TYPING, (push) => {
      this.#events.emit('typing', { conversationId: push.conversationId, userId: push.userId, typing: push.typing });
    });
    this.sync.on('conversation', (state) => {
      this.cache.applyState(state);
    });
    this.sync.on('message', (message) => {
      this.#onMessage(message);
    });
    this.sync.on('synced', (report) => this.#events.emit('synced', report));
    this.sync.on('history', (info) => this.#events.emit('history', info));
    this.sync.on('error', emitError); // routine (retryable) failures never get here
    const shortLink = this.shortLink;
    if (shortLink) {
      shortLink.on('link', (link) => {
        if (link === 'short') {
          this.outbox.linkChanged();
          this.#receipts?.flush();
        }
        this.#events.emit('link', link);
      });
      shortLink.on('poll', () => {
        if (shortLink.link === 'short') void this.sync.run();
      });
      shortLink.on('error', emitError);
    }
    this.cache.on('change', (list) => this.#events.emit('conversations', list));
    this.cache.on('error', emitError);
    this.outbox.on('change', (message, previous) => {
      if (message.state === 'sent' && previous === 'sending') this.#ownAck(message);
      this.#events.emit('outbox', message, previous);
    });
    this.outbox.on('error', emitError);
  }

  #onMessage(message: ChatMessage): void {
    const me = this.#userId;
    const view = this.cache.get(message.conversationId);
    const known = view !== undefined;
    const newer = message.seq > (view?.lastSeq ?? 0); // else the cached state already reflects it
    this.cache.applyMessage(message, me);
    const fromOther = message.senderId !== '' && message.senderId !== me;
    if (fromOther && message.seq > 0) {
      // The server moves a sender's read cursor to its message: it has read ours before it.
      this.outbox.applyCursor(message.conversationId, 'read', message.seq);
      if (message.conversationType !== pb.ConversationType.ROOM) {
        this.#receipts?.received(message.conversationId, message.seq);
      }
    }
    // A conversation the cache does not know, or a SYSTEM notice that changed its name or members.
    const system = message.content.type === pb.MessageType.SYSTEM && newer;
    if ((!known || system) && message.conversationType !== pb.ConversationType.ROOM) {
      this.#fetch(message.conversationId);
    }
    this.#events.emit('message', message);
  }

  /** One's own acknowledged message joins the conversation's stream like any other. */
  #ownAck(message: OutboxMessage): void {
    if (this.#rooms.has(message.conversationId)) return;
    const view = this.cache.get(message.conversationId);
    if (!view) {
      // Not seen yet: sync pulls it (however many came before it), and the list learns the conversation.
      this.sync.expect(message.conversationId, message.seq ?? 0);
      this.#fetch(message.conversationId);
      return;
    }
    if (view.type === pb.ConversationType.ROOM) return;
    this.sync.ingest([
      {
        conversationId: message.conversationId,
        seq: message.seq ?? 0,
        messageId: message.messageId ?? '',
        senderId: this.#userId ?? '',
        senderDeviceId: this.#options.deviceId,
        clientMessageId: message.localId,
        serverTime: message.serverTime ?? 0,
        content: message.content,
        recalled: false,
        conversationType: view.type,
      },
    ]);
  }

  #rejoinRooms(): void {
    for (const [roomId, options] of this.#rooms) {
      this.connection.request(Command.ROOM_JOIN, { roomId, joinToken: options.joinToken ?? '', recentLimit: 0 }).then(
        (answer) => {
          if (this.#rooms.has(roomId)) this.#events.emit('room', { roomId, onlineCount: answer.onlineCount });
        },
        (err: unknown) => {
          this.#rooms.delete(roomId);
          this.#events.emit('error', err instanceof Error ? err : new Error(String(err)));
        },
      );
    }
  }

  /** Learns a conversation the cache does not know (CONV_GET). */
  #fetch(conversationId: string): void {
    if (this.#fetching.has(conversationId)) return;
    this.#fetching.add(conversationId);
    this.connection
      .request(Command.CONV_GET, { conversationId })
      .then(
        (answer) => {
          if (answer.state) void this.sync.applyState(answer.state);
        },
        (err: unknown) => {
          // No link or no answer: the next sync brings the conversation anyway.
          if (isRetryable(err) || (err instanceof ClientError && err.clientCode === ClientErrorCode.CLOSED)) return;
          this.#events.emit('error', err instanceof Error ? err : new Error(String(err)));
        },
      )
      .finally(() => this.#fetching.delete(conversationId));
  }
}

/** The short link the options ask for: off when `false`, or when no URL is given or derivable (unless asked for). */
function makeShortLink(options: ParleyClientOptions, connection: Connection): ShortLink | undefined {
  const wanted = options.shortLink;
  if (wanted === false) return undefined;
  const url = wanted?.url === undefined ? shortLinkUrlOf(options.transport) : shortLinkUrl(wanted.url);
  if (url === undefined) {
    if (wanted === undefined) return undefined; // a TCP/TLS transport says nothing about the HTTP port
    throw new ParleyError(
      ErrorCode.INVALID_ARGUMENT,
      wanted.url === undefined
        ? 'shortLink: give its url (https://host[:port]/v1/link): this transport does not tell the server HTTP address'
        : `shortLink: ${JSON.stringify(wanted.url)} is not an http(s) or ws(s) URL`,
    );
  }
  return new ShortLink({
    ...wanted,
    url,
    connection,
    token: options.token,
    deviceId: options.deviceId,
    maxBodyBytes: options.connection?.codec?.maxBodyBytes,
  });
}
