import { createHash } from 'node:crypto';
import { pb } from '@parley/protocol';
import type { ConversationRecord, StoredMessage } from '../store/types.js';
import type { PreviewMode } from './types.js';

/** What every provider turns into its own payload. */
export interface Notification {
  title: string;
  body: string;
  /** The user's total unread count. */
  badge: number;
  /** One per conversation, so a newer notification replaces the older on the device. */
  collapseId: string;
  /** Do-not-disturb: deliver without sound or alerting. */
  quiet: boolean;
  conversationId: string;
  /** The newest message it covers. */
  seq: number;
  /** How many messages it covers (coalesced). */
  count: number;
}

interface Strings {
  newMessage: string;
  newMessages: (n: number) => string;
  from: (sender: string) => string;
  attachment: (n: number) => string;
  image: string;
  video: string;
  audio: string;
  custom: string;
  withdrawn: string;
  notice: string;
}

const EN: Strings = {
  newMessage: 'New message',
  newMessages: (n) => `${String(n)} new messages`,
  from: (s) => `New message from ${s}`,
  attachment: (n) => (n === 1 ? 'Sent a file' : `Sent ${String(n)} files`),
  image: 'Sent a photo',
  video: 'Sent a video',
  audio: 'Sent a voice message',
  custom: 'Sent a message',
  withdrawn: 'A message was withdrawn',
  notice: 'Notice',
};

const LOCALES: Record<string, Strings> = {
  en: EN,
  de: {
    newMessage: 'Neue Nachricht',
    newMessages: (n) => `${String(n)} neue Nachrichten`,
    from: (s) => `Neue Nachricht von ${s}`,
    attachment: (n) => (n === 1 ? 'Hat eine Datei gesendet' : `Hat ${String(n)} Dateien gesendet`),
    image: 'Hat ein Foto gesendet',
    video: 'Hat ein Video gesendet',
    audio: 'Hat eine Sprachnachricht gesendet',
    custom: 'Hat eine Nachricht gesendet',
    withdrawn: 'Eine Nachricht wurde zurückgezogen',
    notice: 'Hinweis',
  },
  fr: {
    newMessage: 'Nouveau message',
    newMessages: (n) => `${String(n)} nouveaux messages`,
    from: (s) => `Nouveau message de ${s}`,
    attachment: (n) => (n === 1 ? 'A envoyé un fichier' : `A envoyé ${String(n)} fichiers`),
    image: 'A envoyé une photo',
    video: 'A envoyé une vidéo',
    audio: 'A envoyé un message vocal',
    custom: 'A envoyé un message',
    withdrawn: 'Un message a été retiré',
    notice: 'Avis',
  },
  es: {
    newMessage: 'Mensaje nuevo',
    newMessages: (n) => `${String(n)} mensajes nuevos`,
    from: (s) => `Mensaje nuevo de ${s}`,
    attachment: (n) => (n === 1 ? 'Envió un archivo' : `Envió ${String(n)} archivos`),
    image: 'Envió una foto',
    video: 'Envió un vídeo',
    audio: 'Envió un mensaje de voz',
    custom: 'Envió un mensaje',
    withdrawn: 'Se retiró un mensaje',
    notice: 'Aviso',
  },
  zh: {
    newMessage: '新消息',
    newMessages: (n) => `${String(n)} 条新消息`,
    from: (s) => `${s} 发来一条新消息`,
    attachment: (n) => (n === 1 ? '[文件]' : `[${String(n)} 个文件]`),
    image: '[图片]',
    video: '[视频]',
    audio: '[语音]',
    custom: '[消息]',
    withdrawn: '一条消息已撤回',
    notice: '通知',
  },
};

/** The strings for a BCP 47 tag: exact language match, else English. */
export function stringsFor(locale: string): Strings {
  const lang = locale.toLowerCase().split(/[-_]/)[0] ?? '';
  return LOCALES[lang] ?? EN;
}

/** Whether a message of this content should notify at all (system changes and recalls do not). */
export function notifies(content: pb.MessageContent.$Properties): boolean {
  switch (content.type) {
    case pb.MessageType.TEXT:
    case pb.MessageType.ATTACHMENT:
    case pb.MessageType.CUSTOM:
      return true;
    case pb.MessageType.SYSTEM:
      return content.system?.type === pb.SystemEventType.NOTICE;
    default:
      return false;
  }
}

/** A conversation's collapse id: 32 URL-safe characters (fits the Web Push Topic header and apns-collapse-id). */
export function collapseIdOf(conversationId: string): string {
  return createHash('sha256').update(conversationId).digest('base64url').slice(0, 32);
}

export interface RenderInput {
  conversation: ConversationRecord;
  message: StoredMessage;
  count: number;
  badge: number;
  preview: PreviewMode;
  quiet: boolean;
  locale: string;
  previewChars: number;
}

/**
 * Title and body by message type and privacy mode:
 * - full: title is the sender (1:1) or the group name; body is the text or a type label
 *   ("Sent a photo"), prefixed by the sender in groups; a burst shows "N new messages".
 * - sender: "New message from <sender>" with no text.
 * - none: "New message" only; nothing about who or where.
 */
export function render(input: RenderInput): Notification {
  const { conversation, message, count, preview } = input;
  const s = stringsFor(input.locale);
  const group = conversation.type !== pb.ConversationType.DIRECT;
  const groupName = conversation.name || conversation.id;
  let title: string;
  let body: string;
  if (preview === 'none') {
    title = s.newMessage;
    body = count > 1 ? s.newMessages(count) : s.newMessage;
  } else if (preview === 'sender') {
    title = group ? groupName : message.senderId;
    body = count > 1 ? s.newMessages(count) : s.from(message.senderId);
  } else {
    title = group ? groupName : message.senderId;
    const text = messageText(message, s);
    const line =
      group && conversation.type !== pb.ConversationType.SYSTEM_CHANNEL ? `${message.senderId}: ${text}` : text;
    body = truncate(count > 1 ? `${s.newMessages(count)} · ${line}` : line, input.previewChars);
  }
  return {
    title: truncate(title, 100),
    body,
    badge: input.badge,
    collapseId: collapseIdOf(conversation.id),
    quiet: input.quiet,
    conversationId: conversation.id,
    seq: message.seq,
    count,
  };
}

function messageText(message: StoredMessage, s: Strings): string {
  if (message.recalled) return s.withdrawn;
  let content: pb.MessageContent;
  try {
    content = pb.MessageContent.decode(message.content);
  } catch {
    return s.newMessage;
  }
  switch (content.type) {
    case pb.MessageType.TEXT:
      return oneLine(content.text);
    case pb.MessageType.ATTACHMENT: {
      const first = content.attachments[0];
      const kind = first?.mimeType?.split('/')[0] ?? '';
      const label =
        content.attachments.length === 1 && kind === 'image'
          ? s.image
          : content.attachments.length === 1 && kind === 'video'
            ? s.video
            : content.attachments.length === 1 && kind === 'audio'
              ? s.audio
              : s.attachment(content.attachments.length);
      return content.text ? `${label}: ${oneLine(content.text)}` : label;
    }
    case pb.MessageType.CUSTOM:
      return customText(content.custom) ?? s.custom;
    case pb.MessageType.SYSTEM:
      return content.system?.text ? oneLine(content.system.text) : s.notice;
    default:
      return s.newMessage;
  }
}

/** A CUSTOM message may carry its own notification text as `"pushText"` in its JSON. */
function customText(json: string): string | undefined {
  try {
    const value = JSON.parse(json) as unknown;
    if (typeof value === 'object' && value !== null && 'pushText' in value) {
      const text = value.pushText;
      if (typeof text === 'string' && text.trim() !== '') return oneLine(text);
    }
  } catch {
    // validated on send; a stored message that no longer parses shows the generic text
  }
  return undefined;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** The user-perceived characters of `text` (an emoji with modifiers is one). */
export function graphemes(text: string): string[] {
  return Array.from(segmenter.segment(text), (s) => s.segment);
}

/** Cuts to `max` characters (graphemes, so no emoji or accent is split) with an ellipsis. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const chars = graphemes(text);
  return chars.length <= max ? text : `${chars.slice(0, Math.max(0, max - 1)).join('')}…`;
}
