// Text of the chat screen: the conversation list, a conversation's messages with their
// states, the status line. Pure functions of plain data, so both the full-screen terminal
// and the line-by-line (non-TTY) output use them, and tests can call them directly.
import { type ChatMessage, type ConnectionState, type ConversationView, type OutboxMessage, pb } from '@parley/client';
import { splitAtWidth, textWidth } from './text-width.js';

/** ANSI styles, or none (non-TTY output, NO_COLOR). */
export interface Style {
  dim(text: string): string;
  bold(text: string): string;
  inverse(text: string): string;
  warn(text: string): string;
}

export const PLAIN: Style = { dim: (t) => t, bold: (t) => t, inverse: (t) => t, warn: (t) => t };
export const ANSI: Style = {
  dim: (t) => `\x1b[2m${t}\x1b[22m`,
  bold: (t) => `\x1b[1m${t}\x1b[22m`,
  inverse: (t) => `\x1b[7m${t}\x1b[27m`,
  warn: (t) => `\x1b[33m${t}\x1b[39m`,
};

/**
 * Removes terminal control characters (C0, DEL, C1): another user's message must not move the
 * cursor, clear the screen or retitle the terminal. Tabs become spaces.
 */
export function sanitize(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\t/g, '  ').replace(/[\u0000-\u001f\u007f-\u009f]/g, '');
}

/** Cuts `text` to `width` columns, marking the cut with `…`. */
export function truncate(text: string, width: number): string {
  if (width <= 0) return '';
  if (textWidth(text) <= width) return text;
  return `${splitAtWidth(text, width - 1)[0]}…`;
}

/** Pads `text` with spaces to `width` columns. */
export function padTo(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - textWidth(text)));
}

/** Splits `text` into lines of at most `width` columns, at spaces where possible. */
export function wrap(text: string, width: number): string[] {
  const w = Math.max(2, width);
  const out: string[] = [];
  for (const paragraph of text.split('\n')) {
    let rest = sanitize(paragraph);
    if (rest === '') out.push('');
    while (rest !== '') {
      if (textWidth(rest) <= w) {
        out.push(rest);
        break;
      }
      const [head] = splitAtWidth(rest, w);
      const space = head.lastIndexOf(' ');
      // Break at the last space that fits (or just after it), else mid-word.
      const cut = rest[head.length] === ' ' ? head.length : space > 0 ? space : head.length;
      out.push(rest.slice(0, cut).trimEnd());
      rest = rest.slice(cut).replace(/^ /, '');
    }
  }
  return out;
}

export function clock(ms: number): string {
  if (ms <= 0) return '     ';
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

// eslint-disable-next-line no-control-regex
export const ANSI_SEQUENCE = /\x1b\[[0-9;?]*[A-Za-z]/g;

/** Columns `text` takes on screen, its ANSI styles left out. */
export function visibleWidth(text: string): number {
  return textWidth(text.replace(ANSI_SEQUENCE, ''));
}

/** One line of a message's content (the list preview, the non-TTY log). */
export function contentText(message: Pick<ChatMessage, 'content' | 'recalled' | 'senderId'>): string {
  if (message.recalled) return '(message recalled)';
  const c = message.content;
  switch (c.type) {
    case pb.MessageType.TEXT:
      return sanitize(c.text ?? '');
    case pb.MessageType.SYSTEM:
      return systemText(c.system ?? {});
    case pb.MessageType.RECALL:
      return `(recalled message ${String(c.recallTargetSeq ?? 0)})`;
    case pb.MessageType.ATTACHMENT:
      return `[attachment${(c.attachments ?? []).length > 1 ? 's' : ''}] ${sanitize(c.text ?? '')}`.trim();
    case pb.MessageType.CUSTOM:
      return '[custom message]';
    default:
      return '[message]';
  }
}

function systemText(event: pb.SystemEvent.$Properties): string {
  const actor = sanitize(event.actor ?? '') || 'the app';
  const users = (event.users ?? []).map(sanitize).join(', ');
  const T = pb.SystemEventType;
  switch (event.type) {
    case T.CONVERSATION_CREATED:
      return `${actor} created the conversation${users ? ` with ${users}` : ''}`;
    case T.MEMBERS_ADDED:
      return `${actor} added ${users}`;
    case T.MEMBERS_REMOVED:
      return `${actor} removed ${users}`;
    case T.MEMBER_LEFT:
      return `${users || actor} left`;
    case T.ROLE_CHANGED:
      return `${actor} changed the role of ${users}`;
    case T.CONVERSATION_UPDATED:
      return `${actor} updated the conversation`;
    case T.MEMBER_SPEAK_MUTED:
      return `${actor} muted ${users}`;
    case T.NOTICE:
      return sanitize(event.text ?? '');
    default:
      return `${actor} changed the conversation`;
  }
}

/** What the status line says about the link. */
export interface LinkStatus {
  state: ConnectionState;
  endpoint: string;
  /** Messages not acknowledged yet. */
  queued: number;
  /** Why the last link ended or attempt failed. */
  lastError: string | undefined;
  /** When the next attempt starts (ms since the epoch). */
  retryAt: number | undefined;
  /** 'short' while requests go over HTTP because the long link cannot be established. */
  link?: 'long' | 'short';
}

export function statusText(status: LinkStatus, now = Date.now()): string {
  const queued = status.queued > 0 ? ` · ${String(status.queued)} queued` : '';
  switch (status.state) {
    case 'connected':
      return `online · ${status.endpoint}${queued}`;
    case 'idle':
    case 'connecting':
    case 'authenticating':
      return `connecting to ${status.endpoint}…${queued}`;
    case 'backing-off': {
      const wait =
        status.retryAt === undefined
          ? ''
          : ` · retry in ${String(Math.max(0, Math.ceil((status.retryAt - now) / 1000)))}s`;
      const why = status.lastError ? ` (${status.lastError})` : '';
      // Sends still get through over HTTP: say so, or the user thinks nothing goes out.
      if (status.link === 'short') return `offline · sending over HTTP${queued}${wait}${why}`;
      return `offline${queued}${wait}${why}`;
    }
    case 'closed':
      return `disconnected${queued}${status.lastError ? ` (${status.lastError})` : ''} · /reconnect`;
  }
}

/** One conversation row: number, title, unread count, time and last message. */
export function listRow(index: number, view: ConversationView, title: string, width: number, style = PLAIN): string {
  const n = `${String(index).padStart(3)}. `;
  const name = padTo(truncate(sanitize(title), 24), 24);
  const unread = view.unread > 0 ? `${String(view.unread)} unread` : '';
  const last = view.lastMessage;
  const preview = last ? `${sanitize(last.senderId) || '*'}: ${contentText(last)}` : '(no messages)';
  const head = `${n}${name} ${unread.padEnd(10)} ${clock(last?.serverTime ?? view.activityAt)}  `;
  const line = truncate(`${head}${preview}`, width);
  return view.unread > 0 ? style.bold(line) : line;
}

export function listLines(
  views: readonly ConversationView[],
  title: (view: ConversationView) => string,
  width: number,
  style = PLAIN,
): string[] {
  if (views.length === 0) return ['  No conversations yet: /dm USER starts one, /group NAME USER... makes a group.'];
  return views.map((view, i) => listRow(i + 1, view, title(view), width, style));
}

/** A row of the open conversation: a stored message or an outgoing one not acknowledged yet. */
export type ConversationEntry =
  | { kind: 'stored'; message: ChatMessage; own: boolean; state: OutboxMessage['state'] | undefined }
  | { kind: 'pending'; message: OutboxMessage; failedIndex: number | undefined };

/** The receipt state of one's own acknowledged message, from the other members' cursors. */
export function stateFromCursors(view: ConversationView | undefined, seq: number): 'sent' | 'delivered' | 'read' {
  if (view && view.peerReadSeq >= seq) return 'read';
  if (view && view.peerDeliveredSeq >= seq) return 'delivered';
  return 'sent';
}

function stateLabel(state: OutboxMessage['state'], style: Style): string {
  return state === 'failed' ? style.warn('failed') : style.dim(state);
}

/** The lines of one entry, wrapped to `width`. */
export function entryLines(entry: ConversationEntry, width: number, style = PLAIN): string[] {
  if (entry.kind === 'pending') {
    const m = entry.message;
    const text = m.content.type === pb.MessageType.TEXT ? (m.content.text ?? '') : '[message]';
    const tag = entry.failedIndex === undefined ? '      ' : `[!${String(entry.failedIndex)}] `.padEnd(6);
    const state =
      m.state === 'failed'
        ? `${stateLabel('failed', style)}${m.error ? ` (${sanitize(m.error.message)})` : ''}: /retry ${String(entry.failedIndex ?? '')}`
        : stateLabel(m.state, style);
    return withSuffix(`${tag}you: `, text, ` · ${state}`, width);
  }
  const m = entry.message;
  const time = style.dim(clock(m.serverTime));
  if (m.content.type === pb.MessageType.SYSTEM)
    return wrap(`* ${contentText(m)}`, width - 6).map((l) => `${time} ${style.dim(l)}`);
  const who = entry.own ? 'you' : sanitize(m.senderId);
  const suffix = entry.own && entry.state ? ` · ${stateLabel(entry.state, style)}` : '';
  return withSuffix(`${time} ${style.bold(who)}: `, contentText(m), suffix, width, 6 + textWidth(who) + 2);
}

/** `prefix text suffix`, wrapped, later lines indented under the text. */
function withSuffix(prefix: string, text: string, suffix: string, width: number, prefixWidth = 11): string[] {
  const indent = Math.min(prefixWidth, Math.floor(width / 3));
  const lines = wrap(text, Math.max(10, width - indent));
  const out = lines.map((l, i) => (i === 0 ? `${prefix}${l}` : `${' '.repeat(indent)}${l}`));
  const last = out[out.length - 1] ?? '';
  if (visibleWidth(last) + visibleWidth(suffix) <= width) {
    out[out.length - 1] = `${last}${suffix}`;
    return out;
  }
  // The state (a failure's reason can be long) gets lines of its own, under the text.
  const plain = suffix.replace(ANSI_SEQUENCE, '').replace(/^ · /, '');
  for (const l of wrap(plain, Math.max(10, width - indent))) out.push(`${' '.repeat(indent)}${l}`);
  return out;
}

/** "bob is typing…", "bob and carol are typing…", "3 people are typing…". */
export function typingText(users: readonly string[]): string {
  if (users.length === 0) return '';
  if (users.length === 1) return `${sanitize(users[0] ?? '')} is typing…`;
  if (users.length === 2) return `${sanitize(users[0] ?? '')} and ${sanitize(users[1] ?? '')} are typing…`;
  return `${String(users.length)} people are typing…`;
}

/** A failure as a person reads it: the message, and the wire code's name when there is one. */
export function errorText(err: unknown): string {
  if (err instanceof Error) {
    const name = (err as { codeName?: unknown }).codeName;
    return typeof name === 'string' && name !== '' && !err.message.includes(name)
      ? `${err.message} (${name})`
      : err.message;
  }
  return String(err);
}
