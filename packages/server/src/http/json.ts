import { pb } from '@parley/protocol';
import { z } from 'zod';
import type { ConversationRecord, MemberRecord } from '../store/types.js';

/**
 * The JSON shapes of the HTTP API and the webhooks, as zod schemas (the OpenAPI document is
 * generated from them) and the mappers from wire/store records to them. Field names are the
 * protocol's in camelCase; enum values are the protocol's names in lower case (`"text"`,
 * `"group"`, `"owner"`); `attributes` and `custom`, JSON text on the wire, are JSON values here.
 */

/** Lower-case names of a protobufjs enum (`MESSAGE_TYPE_UNSPECIFIED` becomes `unspecified`). */
class EnumJson<E extends number> {
  readonly names: [string, ...string[]];
  readonly #byValue = new Map<number, string>();
  readonly #byName = new Map<string, E>();

  constructor(values: object) {
    const names: string[] = [];
    for (const [name, value] of Object.entries(values as Record<string, unknown>)) {
      if (typeof value !== 'number') continue;
      const json = name.endsWith('_UNSPECIFIED') ? 'unspecified' : name.toLowerCase();
      names.push(json);
      this.#byValue.set(value, json);
      this.#byName.set(json, value as E);
    }
    const [first, ...rest] = names;
    if (first === undefined) throw new Error('empty enum');
    this.names = [first, ...rest];
  }

  toJson(value: number | null | undefined): string {
    return this.#byValue.get(value ?? 0) ?? String(value);
  }

  /** The enum value of a name (any case), or undefined. */
  fromJson(name: string): E | undefined {
    return this.#byName.get(name.toLowerCase());
  }

  schema(description: string) {
    return z.enum(this.names).describe(description);
  }
}

export const messageTypes = new EnumJson<pb.MessageType>(pb.MessageType);
export const conversationTypes = new EnumJson<pb.ConversationType>(pb.ConversationType);
export const memberRoles = new EnumJson<pb.MemberRole>(pb.MemberRole);
export const systemEventTypes = new EnumJson<pb.SystemEventType>(pb.SystemEventType);
export const platforms = new EnumJson<pb.Platform>(pb.Platform);

const jsonValue = z.unknown().describe('Any JSON value');

export const AttachmentJson = z.object({
  url: z.string(),
  mimeType: z.string().optional(),
  size: z.number().int().optional().describe('Bytes'),
  name: z.string().optional(),
  width: z.number().int().optional(),
  height: z.number().int().optional(),
  durationMs: z.number().int().optional(),
  thumbnailUrl: z.string().optional(),
});
export type AttachmentJson = z.infer<typeof AttachmentJson>;

export const SystemEventJson = z.object({
  type: systemEventTypes.schema('What happened'),
  actor: z.string().describe('User who did it; empty for the app server (admin API)'),
  users: z.array(z.string()).describe('Users it concerns'),
  role: memberRoles.schema('The new role, for role_changed').optional(),
  text: z.string().optional().describe('Notice text, for notice'),
});
export type SystemEventJson = z.infer<typeof SystemEventJson>;

export const MessageContentJson = z.object({
  type: messageTypes.schema('Message type'),
  text: z.string().optional().describe('The text of a text message; the optional caption of an attachment'),
  custom: jsonValue.optional().describe('The app-defined JSON value of a custom message'),
  attachments: z.array(AttachmentJson).optional(),
  mentions: z.array(z.string()).optional().describe('Mentioned user ids; "@all" mentions everyone'),
  system: SystemEventJson.optional(),
  recallTargetSeq: z.number().int().optional().describe('The seq of the message a recall message recalls'),
});
export type MessageContentJson = z.infer<typeof MessageContentJson>;

export const MessageJson = z.object({
  conversationId: z.string(),
  conversationType: conversationTypes.schema('Type of the conversation'),
  seq: z.number().int().describe('Gapless position in the conversation, from 1'),
  messageId: z.string(),
  senderId: z.string().describe('Empty for messages of the app server'),
  senderDeviceId: z.string(),
  clientMessageId: z.string().describe("The sender's idempotency key"),
  serverTime: z.number().int().describe('Milliseconds since the epoch'),
  recalled: z.boolean(),
  content: MessageContentJson,
});
export type MessageJson = z.infer<typeof MessageJson>;

export const ConversationJson = z.object({
  id: z.string(),
  type: conversationTypes.schema('Conversation type'),
  name: z.string(),
  attributes: jsonValue.describe("The app's JSON value; null when unset"),
  ownerId: z.string(),
  memberCount: z.number().int(),
  lastSeq: z.number().int(),
  createdAt: z.number().int(),
  updatedAt: z.number().int(),
});
export type ConversationJson = z.infer<typeof ConversationJson>;

export const MemberJson = z.object({
  userId: z.string(),
  role: memberRoles.schema('Role in the conversation'),
  joinedAt: z.number().int(),
  speakMutedUntil: z.number().int().describe('0 = may speak'),
});
export type MemberJson = z.infer<typeof MemberJson>;

export const PresenceJson = z.object({
  userId: z.string(),
  online: z.boolean(),
  lastSeen: z.number().int().describe('When the user was last online, ms since the epoch (0 = unknown)'),
  platforms: z.array(platforms.schema('Platform')).describe('Platforms with a live session'),
});
export type PresenceJson = z.infer<typeof PresenceJson>;

/** Parses JSON text for output; text that is not JSON stays a string. */
function parseJsonText(text: string | null | undefined): unknown {
  if (!text) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

export function attachmentToJson(a: pb.Attachment.$Properties): AttachmentJson {
  const out: AttachmentJson = { url: a.url ?? '' };
  if (a.mimeType) out.mimeType = a.mimeType;
  if (a.size) out.size = a.size;
  if (a.name) out.name = a.name;
  if (a.width) out.width = a.width;
  if (a.height) out.height = a.height;
  if (a.durationMs) out.durationMs = a.durationMs;
  if (a.thumbnailUrl) out.thumbnailUrl = a.thumbnailUrl;
  return out;
}

export function contentToJson(c: pb.MessageContent.$Properties): MessageContentJson {
  const out: MessageContentJson = { type: messageTypes.toJson(c.type) };
  if (c.text) out.text = c.text;
  if (c.custom) out.custom = parseJsonText(c.custom);
  if (c.attachments?.length) out.attachments = c.attachments.map(attachmentToJson);
  if (c.mentions?.length) out.mentions = [...c.mentions];
  if (c.system) {
    const s = c.system;
    out.system = { type: systemEventTypes.toJson(s.type), actor: s.actor ?? '', users: [...(s.users ?? [])] };
    if (s.role) out.system.role = memberRoles.toJson(s.role);
    if (s.text) out.system.text = s.text;
  }
  if (c.recallTargetSeq) out.recallTargetSeq = c.recallTargetSeq;
  return out;
}

export function messageToJson(m: pb.Message.$Properties): MessageJson {
  return {
    conversationId: m.conversationId ?? '',
    conversationType: conversationTypes.toJson(m.conversationType),
    seq: m.seq ?? 0,
    messageId: m.messageId ?? '',
    senderId: m.senderId ?? '',
    senderDeviceId: m.senderDeviceId ?? '',
    clientMessageId: m.clientMessageId ?? '',
    serverTime: m.serverTime ?? 0,
    recalled: m.recalled ?? false,
    content: contentToJson(m.content ?? {}),
  };
}

export function conversationToJson(c: ConversationRecord): ConversationJson {
  return {
    id: c.id,
    type: conversationTypes.toJson(c.type),
    name: c.name,
    attributes: parseJsonText(c.attributes),
    ownerId: c.ownerId,
    memberCount: c.memberCount,
    lastSeq: c.lastSeq,
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
  };
}

export function memberToJson(m: MemberRecord): MemberJson {
  return {
    userId: m.userId,
    role: memberRoles.toJson(m.role),
    joinedAt: m.joinedAt,
    speakMutedUntil: m.speakMutedUntil,
  };
}

export function presenceToJson(p: pb.PresenceStatus.$Properties): PresenceJson {
  return {
    userId: p.userId ?? '',
    online: p.online ?? false,
    lastSeen: p.lastSeen ?? 0,
    platforms: (p.platforms ?? []).map((x) => platforms.toJson(x)),
  };
}

/**
 * Content an app sends in (the before-send hook's rewrite): the user-sendable types only.
 * Turned into protocol content; the message service then validates it like a client's.
 */
export const MessageContentInput = z
  .object({
    type: z.string().transform((name, ctx) => {
      const value = messageTypes.fromJson(name);
      if (value === undefined) {
        ctx.addIssue({ code: 'custom', message: `unknown message type "${name}"` });
        return z.NEVER;
      }
      return value;
    }),
    text: z.string().optional(),
    custom: z.unknown().optional(),
    attachments: z.array(AttachmentJson).max(100).optional(),
    mentions: z.array(z.string()).max(1000).optional(),
  })
  .transform((c): pb.MessageContent.$Properties => {
    const out: pb.MessageContent.$Properties = { type: c.type };
    if (c.text !== undefined) out.text = c.text;
    if (c.custom !== undefined) out.custom = JSON.stringify(c.custom);
    if (c.attachments) out.attachments = c.attachments;
    if (c.mentions) out.mentions = c.mentions;
    return out;
  });
