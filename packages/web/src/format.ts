// Small pure helpers for display: times, day labels, initials, colours, message previews,
// and splitting text into links and mentions.
import { type ChatMessage, pb } from '@parley/client';

const DAY_MS = 24 * 3600 * 1000;

function startOfDay(t: number): number {
  const d = new Date(t);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

export function sameDay(a: number, b: number): boolean {
  return startOfDay(a) === startOfDay(b);
}

/** "14:05" */
export function clock(t: number): string {
  return new Date(t).toLocaleTimeString(undefined, { hour: 'numeric', minute: '2-digit' });
}

/** For the conversation list: a clock today, "Yesterday", a weekday this week, else a date. */
export function listTime(t: number, now = Date.now()): string {
  if (t === 0) return '';
  const days = Math.round((startOfDay(now) - startOfDay(t)) / DAY_MS);
  if (days <= 0) return clock(t);
  if (days === 1) return 'Yesterday';
  if (days < 7) return new Date(t).toLocaleDateString(undefined, { weekday: 'short' });
  return new Date(t).toLocaleDateString(undefined, { day: 'numeric', month: 'short' });
}

/** The separator between days in a chat. */
export function dayLabel(t: number, now = Date.now()): string {
  const days = Math.round((startOfDay(now) - startOfDay(t)) / DAY_MS);
  if (days <= 0) return 'Today';
  if (days === 1) return 'Yesterday';
  return new Date(t).toLocaleDateString(undefined, { weekday: 'long', day: 'numeric', month: 'long' });
}

/** "alice" → "A", "bob-smith" / "Bob Smith" → "BS". */
export function initials(name: string): string {
  const parts = name
    .trim()
    .split(/[\s._-]+/)
    .filter(Boolean);
  const letters = parts.length > 1 ? [parts[0]?.[0], parts[1]?.[0]] : [parts[0]?.[0]];
  return letters.join('').toUpperCase() || '?';
}

/** A stable hue per name, so a person keeps one avatar colour everywhere. */
export function hue(name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return h % 360;
}

/** One line about a message, for the conversation list and notifications. */
export function preview(message: ChatMessage | undefined, me: string | undefined): string {
  if (!message) return 'No messages yet';
  const who = message.senderId === me ? 'You' : message.senderId;
  const c = message.content;
  if (message.recalled) return `${who} recalled a message`;
  switch (c.type) {
    case pb.MessageType.RECALL:
      return `${who} recalled a message`;
    case pb.MessageType.SYSTEM:
      return systemText(c.system ?? {}, me);
    case pb.MessageType.ATTACHMENT: {
      const a = c.attachments?.[0];
      const what = a && isImage(a) ? 'Photo' : 'Attachment';
      return c.text ? `${what}: ${c.text}` : `${what}: ${a?.name || a?.url || ''}`;
    }
    case pb.MessageType.CUSTOM:
      return 'Custom message';
    default:
      return c.text ?? '';
  }
}

function names(users: readonly string[] | null | undefined, me: string | undefined): string {
  const list = (users ?? []).map((u) => (u === me ? 'you' : u));
  if (list.length <= 1) return list.join('');
  return `${list.slice(0, -1).join(', ')} and ${String(list.at(-1))}`;
}

/** The sentence a SYSTEM notice stands for. */
export function systemText(s: pb.SystemEvent.$Properties, me: string | undefined): string {
  const actor = s.actor ? (s.actor === me ? 'You' : s.actor) : 'The app';
  switch (s.type) {
    case pb.SystemEventType.CONVERSATION_CREATED:
      return `${actor} created the conversation`;
    case pb.SystemEventType.MEMBERS_ADDED:
      return `${actor} added ${names(s.users, me)}`;
    case pb.SystemEventType.MEMBERS_REMOVED:
      return `${actor} removed ${names(s.users, me)}`;
    case pb.SystemEventType.MEMBER_LEFT:
      return `${names(s.users?.length ? s.users : [s.actor ?? ''], me)} left`;
    case pb.SystemEventType.ROLE_CHANGED:
      return `${actor} made ${names(s.users, me)} ${roleName(s.role ?? pb.MemberRole.MEMBER).toLowerCase()}`;
    case pb.SystemEventType.CONVERSATION_UPDATED:
      return `${actor} updated the conversation`;
    case pb.SystemEventType.MEMBER_SPEAK_MUTED:
      return `${actor} changed who may speak`;
    case pb.SystemEventType.NOTICE:
      return s.text ?? '';
    default:
      return 'Conversation updated';
  }
}

export function roleName(role: pb.MemberRole): string {
  if (role === pb.MemberRole.OWNER) return 'Owner';
  if (role === pb.MemberRole.ADMIN) return 'Admin';
  return 'Member';
}

const IMAGE_EXT = /\.(png|jpe?g|gif|webp|avif|svg)(\?.*)?$/i;

export function isImage(a: pb.Attachment.$Properties): boolean {
  return (a.mimeType ?? '').startsWith('image/') || IMAGE_EXT.test(a.url ?? '');
}

/** Only http(s) URLs become links or images: no javascript: or data: from other people. */
export function safeUrl(url: string): string | undefined {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : undefined;
  } catch {
    return undefined;
  }
}

export function guessMime(url: string): string {
  const ext = /\.([a-z0-9]+)(\?.*)?$/i.exec(url)?.[1]?.toLowerCase() ?? '';
  const map: Record<string, string> = {
    png: 'image/png',
    jpg: 'image/jpeg',
    jpeg: 'image/jpeg',
    gif: 'image/gif',
    webp: 'image/webp',
    avif: 'image/avif',
    svg: 'image/svg+xml',
    pdf: 'application/pdf',
    mp4: 'video/mp4',
    mp3: 'audio/mpeg',
  };
  return map[ext] ?? '';
}

export function fileName(url: string): string {
  try {
    const path = new URL(url).pathname;
    return decodeURIComponent(path.slice(path.lastIndexOf('/') + 1)) || new URL(url).host;
  } catch {
    return url;
  }
}

export type TextPart =
  | { kind: 'text'; text: string }
  | { kind: 'link'; href: string; text: string }
  | { kind: 'mention'; user: string; text: string };

const TOKEN = /(https?:\/\/[^\s<>"]+[^\s<>".,;:!?)\]'])|(@[\w.-]+)/g;

/** Splits message text into plain runs, links and @mentions (only of `members`, when given). */
export function textParts(text: string, members?: ReadonlySet<string>): TextPart[] {
  const parts: TextPart[] = [];
  let last = 0;
  for (const m of text.matchAll(TOKEN)) {
    const index = m.index;
    const [token] = m;
    let part: TextPart | undefined;
    if (m[1]) {
      const href = safeUrl(token);
      if (href) part = { kind: 'link', href, text: token };
    } else {
      const user = token.slice(1);
      if (user === 'all' || !members || members.has(user)) part = { kind: 'mention', user, text: token };
    }
    if (!part) continue;
    if (index > last) parts.push({ kind: 'text', text: text.slice(last, index) });
    parts.push(part);
    last = index + token.length;
  }
  if (last < text.length) parts.push({ kind: 'text', text: text.slice(last) });
  return parts;
}

/** The user ids a draft mentions (`@all` as "@all", as the protocol wants it). */
export function mentionsIn(text: string, members: ReadonlySet<string>): string[] {
  const found = new Set<string>();
  for (const part of textParts(text, members)) {
    if (part.kind === 'mention') found.add(part.user === 'all' ? '@all' : part.user);
  }
  return [...found];
}
