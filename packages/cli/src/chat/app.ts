// The chat controller: SDK events in, typed lines in, what to show out (through a Display:
// the full-screen terminal or the line-by-line output for pipes and scripts).
import { type ChatMessage, type ConversationView, type OutboxMessage, pb } from '@parley/client';
import { type ChatInput, HELP_LINES, parseInput } from './commands.js';
import type { ChatConnection } from './connect.js';
import { conversationEntries, failedMessages } from './entries.js';
import { ChatModel, conversationTitle } from './model.js';
import type { ChatOptions } from './options.js';
import { resolveConversation } from './resolve.js';
import { historyPage, directPeer } from './server-reads.js';
import { TypingSender } from './typing-sender.js';
import {
  type ConversationEntry,
  type LinkStatus,
  PLAIN,
  type Style,
  entryLines,
  errorText,
  listLines,
  stateFromCursors,
  statusText,
  typingText,
} from './render.js';

/** Where the chat shows things. */
export interface Display {
  /** Something on screen changed: draw again (full screen) or ignore (line output). */
  changed(): void;
  /** A one-line notice: feedback to a command, an error. */
  notice(text: string, error?: boolean): void;
  /**
   * Several lines at once. `help` and `status` answer a command; `list`, `opened` and `history`
   * repeat what the full screen shows anyway (the line output prints them).
   */
  block(kind: 'help' | 'status' | 'list' | 'opened' | 'history', lines: readonly string[]): void;
  /** A new message in any conversation (line output prints it). */
  message(title: string, message: ChatMessage, own: boolean): void;
  /** An outgoing message changed state (line output prints it). */
  outbox(title: string, message: OutboxMessage, failedIndex: number | undefined): void;
  /** Someone started typing in the open conversation (line output prints it). */
  typing(text: string): void;
  /** The link status changed meaningfully (online, offline, closed). */
  status(text: string): void;
}

const PAGE = 50;

export class ChatApp {
  readonly model: ChatModel;
  readonly #conn: ChatConnection;
  readonly #options: ChatOptions;
  readonly #typingSender: TypingSender;
  #display: Display | undefined;
  #open: string | undefined;
  #status: LinkStatus;
  #lastStatus = '';
  #lastError = '';
  #peerFetches = new Set<string>();
  #typingExpiry: ReturnType<typeof setTimeout> | undefined;
  #readTimer: ReturnType<typeof setTimeout> | undefined;
  #loadingOlder = false;
  #unsubscribe: (() => void)[] = [];
  /** Set by /more: the next frame shows the oldest loaded message at the top. */
  scrollToOldest = false;
  /** Set when the user asked to quit. */
  onQuit: (() => void) | undefined;

  constructor(conn: ChatConnection, options: ChatOptions) {
    this.#conn = conn;
    this.#options = options;
    this.model = new ChatModel(conn.storage);
    this.#typingSender = new TypingSender((id, typing) => conn.client.typing(id, typing));
    this.#status = { state: 'idle', endpoint: conn.endpoint, queued: 0, lastError: undefined, retryAt: undefined };
  }

  get client() {
    return this.#conn.client;
  }

  get options(): ChatOptions {
    return this.#options;
  }

  /** `tcp://host:port` and the like. */
  get endpoint(): string {
    return this.#conn.endpoint;
  }

  get openConversation(): ConversationView | undefined {
    return this.#open === undefined ? undefined : this.client.conversation(this.#open);
  }

  get me(): string {
    return this.client.userId ?? this.#options.userId;
  }

  async start(display: Display): Promise<void> {
    this.#display = display;
    await this.model.load();
    this.#wire();
    await this.client.connect();
    this.#status.queued = this.client.outbox.pending;
    display.changed();
  }

  async stop(): Promise<void> {
    for (const off of this.#unsubscribe) off();
    this.#unsubscribe = [];
    for (const t of [this.#typingExpiry, this.#readTimer]) if (t) clearTimeout(t);
    this.#typingSender.stop();
    await this.client.close();
    this.#conn.release();
  }

  // ---- what to show ----

  title(view: ConversationView): string {
    return conversationTitle(view, this.model.peer(view.id));
  }

  get linkState(): LinkStatus['state'] {
    return this.#status.state;
  }

  statusLine(): string {
    return statusText(this.#status);
  }

  header(): string {
    const view = this.openConversation;
    if (!view) {
      const unread = this.client.conversations().reduce((n, v) => n + v.unread, 0);
      return `Conversations${unread > 0 ? ` · ${String(unread)} unread` : ''} · type a number to open, /help`;
    }
    const kind = view.type === pb.ConversationType.GROUP ? ` · group of ${String(view.memberCount)}` : ' · 1:1';
    const typing = typingText(this.model.typing(view.id).filter((u) => u !== this.me));
    const elsewhere = this.client.conversations().reduce((n, v) => (v.id === view.id ? n : n + v.unread), 0);
    const back = elsewhere > 0 ? `${String(elsewhere)} unread elsewhere: /list` : '/list to go back';
    return `${this.title(view)}${kind}${typing ? ` · ${typing}` : ''} · ${back}`;
  }

  prompt(): string {
    const view = this.openConversation;
    return view ? `${this.title(view)}> ` : '> ';
  }

  /** Whether older messages may exist before what the open conversation holds. */
  hasOlder(): boolean {
    return this.#open !== undefined && this.model.log(this.#open).hasOlder;
  }

  /** The body: the list, or the open conversation's messages (all of them; the display scrolls). */
  bodyLines(width: number, style: Style = PLAIN): string[] {
    if (this.#open === undefined) return listLines(this.client.conversations(), (v) => this.title(v), width, style);
    return this.entries(this.#open).flatMap((e) => entryLines(e, width, style));
  }

  /** The open conversation's rows: stored messages, then outgoing ones not acknowledged yet. */
  entries(conversationId: string): ConversationEntry[] {
    return conversationEntries(this.client, this.model.log(conversationId), conversationId, this.me);
  }

  failedMessages(conversationId: string): OutboxMessage[] {
    return failedMessages(this.client, conversationId);
  }

  // ---- input ----

  /** The user typed a key (TTY): tell the others we are typing. */
  keystroke(line: string): void {
    if (this.#open !== undefined) this.#typingSender.keystroke(this.#open, line);
  }

  /** Handles one typed line; never throws (failures become notices). */
  async handleLine(line: string): Promise<void> {
    const input = parseInput(line, this.#open !== undefined);
    try {
      await this.#run(input);
    } catch (err) {
      this.#notice(errorText(err), true);
    }
    this.#display?.changed();
  }

  async #run(input: ChatInput): Promise<void> {
    switch (input.kind) {
      case 'nothing':
        return;
      case 'error':
        this.#notice(input.message, true);
        return;
      case 'help':
        this.#display?.block('help', HELP_LINES);
        return;
      case 'quit':
        this.onQuit?.();
        return;
      case 'list':
        this.#close();
        this.#display?.block(
          'list',
          listLines(this.client.conversations(), (v) => this.title(v), 200),
        );
        return;
      case 'open': {
        const view = this.#resolve(input.target);
        if (view) await this.open(view.id);
        return;
      }
      case 'send':
        this.#send(input.text);
        return;
      case 'dm':
        await this.#create({ type: 'direct', members: [input.userId] });
        return;
      case 'group':
        await this.#create({ type: 'group', members: input.members, name: input.name });
        return;
      case 'more':
        await this.loadOlder();
        return;
      case 'retry':
        this.#retry(input.which);
        return;
      case 'reconnect':
        this.client.networkChanged();
        if (this.client.connection.state === 'closed') this.client.connection.connect();
        this.#notice('reconnecting…');
        return;
      case 'status':
        this.#display?.block('status', [
          `user ${this.me}, device ${this.#conn.deviceId}`,
          `connection ${this.statusLine()}`,
          `queued messages ${String(this.client.outbox.pending)}`,
          `state kept in ${this.#options.stateDir}`,
        ]);
        return;
    }
  }

  /** Opens a conversation: marks it read and loads its latest page when the chat holds little of it. */
  async open(conversationId: string): Promise<void> {
    if (this.#open !== conversationId) this.#stopTyping();
    this.#open = conversationId;
    this.scrollToOldest = false;
    const view = this.client.conversation(conversationId);
    if (view) this.#markReadSoon(0);
    this.#display?.changed();
    this.#display?.block('opened', [`-- ${this.header()}`]);
    await this.#fillPage(conversationId);
    if (this.#open === conversationId) {
      const shown = this.entries(conversationId);
      this.#display?.block(
        'history',
        shown.slice(-20).flatMap((e) => entryLines(e, 200)),
      );
    }
  }

  /** Loads the latest page when the chat holds little of the conversation (offline: when the link is back). */
  async #fillPage(conversationId: string): Promise<void> {
    const log = this.model.log(conversationId);
    const view = this.client.conversation(conversationId);
    if (view?.lastSeq === 0) log.hasOlder = false; // a new conversation: nothing to load
    if (log.messages.length >= PAGE || !log.hasOlder) return;
    if (this.client.connection.state !== 'connected') {
      this.#notice('offline: the history loads when the connection is back');
      return;
    }
    await this.#loadPage(conversationId, this.model.oldestSeq(conversationId), false);
  }

  /** /more: a page of older messages of the open conversation. */
  async loadOlder(): Promise<void> {
    const id = this.#open;
    if (id === undefined) {
      this.#notice('no conversation open: /open N first', true);
      return;
    }
    if (!this.model.log(id).hasOlder) {
      this.#notice('no older messages');
      this.scrollToOldest = true;
      return;
    }
    await this.#loadPage(id, this.model.oldestSeq(id), true);
  }

  async #loadPage(conversationId: string, beforeSeq: number, scroll: boolean): Promise<void> {
    if (this.#loadingOlder) return;
    this.#loadingOlder = true;
    try {
      const page = await historyPage(this.client, conversationId, beforeSeq, PAGE);
      const messages = page.messages;
      for (const m of messages) this.#learnPeer(m);
      const added = this.model.add(conversationId, messages, !page.hasMore);
      if (scroll) {
        this.scrollToOldest = true;
        const older = this.model.log(conversationId).hasOlder;
        this.#notice(
          `${String(added)} older message${added === 1 ? '' : 's'}${older ? ' · /more for more' : ' · the start of the conversation'}`,
        );
        this.#display?.block(
          'history',
          messages.flatMap((m) => entryLines(this.#storedEntry(m), 200)),
        );
      }
    } catch (err) {
      this.#notice(`history: ${errorText(err)}`, true);
    } finally {
      this.#loadingOlder = false;
    }
  }

  #storedEntry(message: ChatMessage): ConversationEntry {
    const own = message.senderId === this.me;
    const view = this.client.conversation(message.conversationId);
    return { kind: 'stored', message, own, state: own ? stateFromCursors(view, message.seq) : undefined };
  }

  #close(): void {
    this.#stopTyping();
    this.#open = undefined;
  }

  #resolve(target: string): ConversationView | undefined {
    const found = resolveConversation(
      this.client.conversations(),
      target,
      (v) => this.title(v),
      (v) => this.model.peer(v.id),
    );
    if (found.error !== undefined) this.#notice(found.error, true);
    return found.view;
  }

  #send(text: string): void {
    const id = this.#open;
    if (id === undefined) return;
    this.#stopTyping();
    this.client.send(id, text);
    this.scrollToOldest = false;
  }

  #retry(which: number | 'all'): void {
    const id = this.#open;
    if (id === undefined) {
      this.#notice('no conversation open: /open N first', true);
      return;
    }
    const failed = this.failedMessages(id);
    if (failed.length === 0) {
      this.#notice('no failed messages here');
      return;
    }
    const chosen = which === 'all' ? failed : failed.slice(which - 1, which);
    if (chosen.length === 0) {
      this.#notice(`no failed message ${String(which)}: there are ${String(failed.length)}`, true);
      return;
    }
    for (const m of chosen) this.client.retry(m.localId);
    this.#notice(`sending ${String(chosen.length)} message${chosen.length === 1 ? '' : 's'} again`);
  }

  async #create(options: { type: 'direct' | 'group'; members: string[]; name?: string }): Promise<void> {
    if (options.members.every((m) => m === this.me)) {
      this.#notice(options.type === 'direct' ? 'a 1:1 needs another user' : 'a group needs another member', true);
      return;
    }
    if (this.client.connection.state !== 'connected') this.#notice('offline: waiting for the connection…');
    const view = await this.client.createConversation(options);
    if (options.type === 'direct') this.model.setPeer(view.id, options.members[0] ?? '');
    this.#notice(`${options.type === 'direct' ? 'opened' : 'created'} ${this.title(view)}`);
    await this.open(view.id);
  }

  #stopTyping(): void {
    this.#typingSender.stop();
  }

  #markReadSoon(delayMs = 150): void {
    if (this.#readTimer) return;
    this.#readTimer = setTimeout(() => {
      this.#readTimer = undefined;
      const id = this.#open;
      if (id === undefined || this.client.connection.state !== 'connected') return;
      const view = this.client.conversation(id);
      if (!view || (view.unread === 0 && view.readSeq >= view.lastSeq)) return;
      this.client.markRead(id).catch(() => undefined); // tried again with the next message or open
    }, delayMs);
  }

  #notice(text: string, error = false): void {
    this.#display?.notice(text, error);
  }

  // ---- SDK events ----

  #wire(): void {
    const c = this.client;
    const d = (): Display | undefined => this.#display;
    this.#unsubscribe.push(
      c.on('conversations', (list) => {
        for (const view of list) this.#needPeer(view);
        const open = this.#open;
        if (open !== undefined && !c.conversation(open)) {
          this.#close();
          this.#notice('the conversation is gone from your list (you left or were removed)', true);
        }
        d()?.changed();
      }),
      c.on('message', (m) => {
        this.model.add(m.conversationId, [m]);
        this.#learnPeer(m);
        if (m.senderId !== '' && m.senderId !== this.me) this.model.setTyping(m.conversationId, m.senderId, false);
        const view = c.conversation(m.conversationId);
        const own = m.senderId === this.me;
        if (!own || c.outbox.get(m.clientMessageId) === undefined) {
          d()?.message(view ? this.title(view) : m.conversationId, m, own);
        }
        if (m.conversationId === this.#open && !own) this.#markReadSoon();
        d()?.changed();
      }),
      c.on('outbox', (m, previous) => {
        this.#status.queued = c.outbox.pending;
        if (m.state !== previous) {
          const view = c.conversation(m.conversationId);
          const failed = m.state === 'failed' ? this.failedMessages(m.conversationId).indexOf(m) + 1 : undefined;
          d()?.outbox(view ? this.title(view) : m.conversationId, m, failed);
        }
        d()?.changed();
      }),
      c.on('cursor', () => d()?.changed()),
      c.on('typing', (t) => {
        if (t.userId === this.me) return;
        if (this.model.setTyping(t.conversationId, t.userId, t.typing) && t.typing && t.conversationId === this.#open) {
          d()?.typing(typingText([t.userId]));
        }
        this.#scheduleTypingExpiry();
        d()?.changed();
      }),
      c.on('state', (state) => {
        this.#status.state = state;
        if (state === 'connected') this.#status.lastError = undefined;
        this.#status.queued = c.outbox.pending;
        // Going offline is reported by 'disconnected', which knows why.
        if (state !== 'backing-off') this.#reportStatus();
        d()?.changed();
      }),
      c.on('disconnected', (info) => {
        this.#status.lastError = info.error.message;
        this.#status.retryAt = info.reconnectInMs === undefined ? undefined : Date.now() + info.reconnectInMs;
        this.#reportStatus();
        d()?.changed();
      }),
      c.on('link', (link) => {
        this.#status.link = link;
        this.#reportStatus();
        d()?.changed();
      }),
      c.on('connected', () => {
        this.#lastError = '';
        for (const view of c.conversations()) this.#needPeer(view);
        if (this.#open !== undefined) {
          this.#markReadSoon();
          void this.#fillPage(this.#open).then(() => d()?.changed());
        }
      }),
      c.on('error', (err) => {
        // The same failure on every retry (a refused token, a down server) is said once.
        const text = errorText(err);
        if (text === this.#lastError) return;
        this.#lastError = text;
        this.#notice(text, true);
      }),
    );
  }

  /** Reports online, offline (with why) and closed, each change once: a retry loop stays quiet. */
  #reportStatus(): void {
    const text = statusText({ ...this.#status, retryAt: undefined, queued: 0 });
    const kind = this.#status.state;
    if ((kind === 'connected' || kind === 'backing-off' || kind === 'closed') && text !== this.#lastStatus) {
      this.#lastStatus = text;
      this.#display?.status(statusText(this.#status));
    }
  }

  #scheduleTypingExpiry(): void {
    if (this.#typingExpiry) clearTimeout(this.#typingExpiry);
    const next = this.model.nextTypingExpiry();
    if (next === undefined) return;
    this.#typingExpiry = setTimeout(
      () => {
        this.#typingExpiry = undefined;
        this.model.typing(this.#open ?? '');
        this.#scheduleTypingExpiry();
        this.#display?.changed();
      },
      Math.max(50, next - Date.now() + 10),
    );
    this.#typingExpiry.unref();
  }

  #learnPeer(m: ChatMessage): void {
    if (m.conversationType === pb.ConversationType.DIRECT && m.senderId !== '' && m.senderId !== this.me) {
      this.model.setPeer(m.conversationId, m.senderId);
    }
  }

  /** A 1:1 conversation shows its peer's id: ask the server for its members once when unknown. */
  #needPeer(view: ConversationView): void {
    if (view.type !== pb.ConversationType.DIRECT || this.model.peer(view.id) !== undefined) return;
    if (this.#peerFetches.has(view.id) || this.client.connection.state !== 'connected') return;
    this.#peerFetches.add(view.id);
    directPeer(this.client, view.id, this.me).then(
      (peer) => {
        if (peer) this.model.setPeer(view.id, peer);
        this.#display?.changed();
      },
      () => {
        this.#peerFetches.delete(view.id); // asked again on the next connect
      },
    );
  }
}
