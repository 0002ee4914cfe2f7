import { ErrorCode, ParleyError, type pb } from '@parley/protocol';
import type { ConversationRecord, ConversationState, MemberRecord, StoredMessage } from '../types.js';
import { int } from './connection.js';

/**
 * Row shapes as node-postgres returns them: bigint columns as decimal strings (converted with a
 * range check by `int`), integer columns as numbers, booleans as booleans, bytea as Buffers.
 */

type Int8 = string;

export interface ConversationRow {
  id: string;
  type: pb.ConversationType;
  name: string;
  attributes: string;
  owner_id: string;
  member_count: number;
  last_seq: Int8;
  created_at: Int8;
  updated_at: Int8;
  version: Int8;
}

export interface MemberRow {
  conversation_id: string;
  user_id: string;
  role: pb.MemberRole;
  joined_at: Int8;
  speak_muted_until: Int8;
  notifications_muted: boolean;
  muted_until: Int8;
  read_seq: Int8;
  delivered_seq: Int8;
  mention_unread: number;
  removed: boolean;
  removed_seq: Int8;
  version: Int8;
}

export interface MessageRow {
  conversation_id: string;
  seq: Int8;
  message_id: string;
  sender_id: string;
  sender_device_id: string;
  client_message_id: string;
  server_time: Int8;
  type: pb.MessageType;
  content: Buffer;
  recalled: boolean;
}

/** A member row with its conversation (`c_` columns) and the last message it may see (`l_`, all null if none). */
export interface StateRow extends MemberRow {
  c_type: pb.ConversationType;
  c_name: string;
  c_attributes: string;
  c_owner_id: string;
  c_member_count: number;
  c_last_seq: Int8;
  c_created_at: Int8;
  c_updated_at: Int8;
  c_version: Int8;
  l_seq: Int8 | null;
  l_message_id: string | null;
  l_sender_id: string | null;
  l_sender_device_id: string | null;
  l_client_message_id: string | null;
  l_server_time: Int8 | null;
  l_type: pb.MessageType | null;
  l_content: Buffer | null;
  l_recalled: boolean | null;
}

/**
 * The version a user's sync sees for one membership. A removed member stops seeing the
 * conversation's later changes, so only the member's own version (its removal) counts.
 */
export const EFFECTIVE_VERSION = 'CASE WHEN m.removed THEN m.version ELSE greatest(c.version, m.version) END';

/**
 * Selects StateRow: `FROM members m JOIN conversations c` plus the last visible message (the
 * latest, or the last before a removal), joined in the same statement so a page is one round trip.
 */
export const STATE_FROM = `SELECT m.*, c.type AS c_type, c.name AS c_name, c.attributes AS c_attributes,
    c.owner_id AS c_owner_id, c.member_count AS c_member_count, c.last_seq AS c_last_seq,
    c.created_at AS c_created_at, c.updated_at AS c_updated_at, c.version AS c_version,
    l.seq AS l_seq, l.message_id AS l_message_id, l.sender_id AS l_sender_id,
    l.sender_device_id AS l_sender_device_id, l.client_message_id AS l_client_message_id,
    l.server_time AS l_server_time, l.type AS l_type, l.content AS l_content, l.recalled AS l_recalled
  FROM members m JOIN conversations c ON c.id = m.conversation_id
  LEFT JOIN messages l ON l.conversation_id = m.conversation_id
    AND l.seq = CASE WHEN m.removed THEN m.removed_seq ELSE c.last_seq END`;

export function toConversation(r: ConversationRow): ConversationRecord {
  return {
    id: r.id,
    type: r.type,
    name: r.name,
    attributes: r.attributes,
    ownerId: r.owner_id,
    memberCount: r.member_count,
    lastSeq: int(r.last_seq),
    createdAt: int(r.created_at),
    updatedAt: int(r.updated_at),
    version: int(r.version),
  };
}

export function toMember(r: MemberRow): MemberRecord {
  return {
    conversationId: r.conversation_id,
    userId: r.user_id,
    role: r.role,
    joinedAt: int(r.joined_at),
    speakMutedUntil: int(r.speak_muted_until),
    notificationsMuted: r.notifications_muted,
    mutedUntil: int(r.muted_until),
    readSeq: int(r.read_seq),
    deliveredSeq: int(r.delivered_seq),
    mentionUnread: r.mention_unread,
    removed: r.removed,
    version: int(r.version),
  };
}

/** A plain Uint8Array view over pg's Buffer: callers compare and decode bytes, not Buffers. */
function bytes(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export function toMessage(r: MessageRow): StoredMessage {
  return {
    conversationId: r.conversation_id,
    seq: int(r.seq),
    messageId: r.message_id,
    senderId: r.sender_id,
    senderDeviceId: r.sender_device_id,
    clientMessageId: r.client_message_id,
    serverTime: int(r.server_time),
    type: r.type,
    content: bytes(r.content),
    recalled: r.recalled,
  };
}

function lastMessage(r: StateRow): StoredMessage | undefined {
  if (r.l_seq === null || r.l_content === null || r.l_type === null) return undefined;
  return {
    conversationId: r.conversation_id,
    seq: int(r.l_seq),
    messageId: r.l_message_id ?? '',
    senderId: r.l_sender_id ?? '',
    senderDeviceId: r.l_sender_device_id ?? '',
    clientMessageId: r.l_client_message_id ?? '',
    serverTime: int(r.l_server_time),
    type: r.l_type,
    content: bytes(r.l_content),
    recalled: r.l_recalled ?? false,
  };
}

export function toState(r: StateRow): ConversationState {
  const member = toMember(r);
  const conversation: ConversationRecord = {
    id: r.conversation_id,
    type: r.c_type,
    name: r.c_name,
    attributes: r.c_attributes,
    ownerId: r.c_owner_id,
    memberCount: r.c_member_count,
    lastSeq: int(r.c_last_seq),
    createdAt: int(r.c_created_at),
    updatedAt: int(r.c_updated_at),
    version: int(r.c_version),
  };
  return {
    conversation,
    member,
    lastMessage: lastMessage(r),
    unread: member.removed ? 0 : Math.max(0, conversation.lastSeq - member.readSeq),
    version: member.removed ? member.version : Math.max(conversation.version, member.version),
  };
}

/** The row a statement that must return one (UPDATE ... RETURNING on a locked row) returned. */
export function only<T>(rows: readonly T[], what: string): T {
  const row = rows[0];
  if (row === undefined) throw new ParleyError(ErrorCode.INTERNAL, `${what} returned no row`);
  return row;
}
