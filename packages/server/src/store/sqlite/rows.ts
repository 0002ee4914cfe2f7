import type { pb } from '@parley/protocol';
import type { ConversationRecord, ConversationState, MemberRecord, StoredMessage } from '../types.js';

/**
 * Row shapes as SQLite returns them (integers as numbers, booleans as 0/1, blobs as Buffers).
 * Enum columns hold the values the store wrote, so they are typed as their enums.
 */

export interface ConversationRow {
  id: string;
  type: pb.ConversationType;
  name: string;
  attributes: string;
  owner_id: string;
  member_count: number;
  last_seq: number;
  created_at: number;
  updated_at: number;
  version: number;
}

export interface MemberRow {
  conversation_id: string;
  user_id: string;
  role: pb.MemberRole;
  joined_at: number;
  speak_muted_until: number;
  notifications_muted: number;
  muted_until: number;
  read_seq: number;
  delivered_seq: number;
  mention_unread: number;
  removed: number;
  removed_seq: number;
  version: number;
}

export interface MessageRow {
  conversation_id: string;
  seq: number;
  message_id: string;
  sender_id: string;
  sender_device_id: string;
  client_message_id: string;
  server_time: number;
  type: pb.MessageType;
  content: Uint8Array;
  recalled: number;
}

/** A member row joined with its conversation, whose columns carry a `c_` prefix. */
export interface StateRow extends MemberRow {
  c_type: pb.ConversationType;
  c_name: string;
  c_attributes: string;
  c_owner_id: string;
  c_member_count: number;
  c_last_seq: number;
  c_created_at: number;
  c_updated_at: number;
  c_version: number;
}

/** The select list for StateRow; use with `FROM members m JOIN conversations c`. */
export const STATE_COLUMNS = `m.*, c.type AS c_type, c.name AS c_name, c.attributes AS c_attributes,
  c.owner_id AS c_owner_id, c.member_count AS c_member_count, c.last_seq AS c_last_seq,
  c.created_at AS c_created_at, c.updated_at AS c_updated_at, c.version AS c_version`;

/**
 * The version a user's sync sees for one membership. A removed member stops seeing the
 * conversation's later changes, so only the member's own version (its removal) counts.
 */
export const EFFECTIVE_VERSION = 'CASE WHEN m.removed THEN m.version ELSE max(c.version, m.version) END';

export function toConversation(r: ConversationRow): ConversationRecord {
  return {
    id: r.id,
    type: r.type,
    name: r.name,
    attributes: r.attributes,
    ownerId: r.owner_id,
    memberCount: r.member_count,
    lastSeq: r.last_seq,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    version: r.version,
  };
}

export function toMember(r: MemberRow): MemberRecord {
  return {
    conversationId: r.conversation_id,
    userId: r.user_id,
    role: r.role,
    joinedAt: r.joined_at,
    speakMutedUntil: r.speak_muted_until,
    notificationsMuted: r.notifications_muted !== 0,
    mutedUntil: r.muted_until,
    readSeq: r.read_seq,
    deliveredSeq: r.delivered_seq,
    mentionUnread: r.mention_unread,
    removed: r.removed !== 0,
    version: r.version,
  };
}

export function toMessage(r: MessageRow): StoredMessage {
  return {
    conversationId: r.conversation_id,
    seq: r.seq,
    messageId: r.message_id,
    senderId: r.sender_id,
    senderDeviceId: r.sender_device_id,
    clientMessageId: r.client_message_id,
    serverTime: r.server_time,
    type: r.type,
    // A plain Uint8Array view over SQLite's Buffer: callers compare and decode bytes, not Buffers.
    content: new Uint8Array(r.content.buffer, r.content.byteOffset, r.content.byteLength),
    recalled: r.recalled !== 0,
  };
}

/** A user's view of one membership; `lastMessage` is looked up by the caller. */
export function toState(r: StateRow, lastMessage: StoredMessage | undefined): ConversationState {
  const member = toMember(r);
  const conversation: ConversationRecord = {
    id: r.conversation_id,
    type: r.c_type,
    name: r.c_name,
    attributes: r.c_attributes,
    ownerId: r.c_owner_id,
    memberCount: r.c_member_count,
    lastSeq: r.c_last_seq,
    createdAt: r.c_created_at,
    updatedAt: r.c_updated_at,
    version: r.c_version,
  };
  return {
    conversation,
    member,
    lastMessage,
    unread: member.removed ? 0 : Math.max(0, conversation.lastSeq - member.readSeq),
    version: member.removed ? member.version : Math.max(conversation.version, member.version),
  };
}

/** The seq of the last message a member may see: the latest, or the last before removal. */
export function visibleLastSeq(r: StateRow): number {
  return r.removed ? r.removed_seq : r.c_last_seq;
}

// Inputs are validated by callers; these only keep bad values from reaching SQL as nonsense.

export const MAX_LIMIT = 10_000;

/** A page size in 1..MAX_LIMIT (callers ask for limit + 1 to detect more, so the cap is generous). */
export function clampLimit(limit: number): number {
  const n = Number.isFinite(limit) ? Math.trunc(limit) : 1;
  return Math.min(MAX_LIMIT, Math.max(1, n));
}

/** A seq or version: negative, fractional or non-finite values become a sane integer ≥ 0. */
export function clampSeq(seq: number): number {
  if (!Number.isFinite(seq) || seq <= 0) return 0;
  return Math.min(Number.MAX_SAFE_INTEGER, Math.trunc(seq));
}
