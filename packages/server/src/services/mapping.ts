import { pb } from '@parley/protocol';
import type { ConversationRecord, ConversationState, MemberRecord, StoredMessage } from '../store/types.js';

/** Store records to wire messages. */

export function messageToPb(m: StoredMessage, conversationType: pb.ConversationType): pb.Message.$Properties {
  return {
    conversationId: m.conversationId,
    seq: m.seq,
    messageId: m.messageId,
    senderId: m.senderId,
    senderDeviceId: m.senderDeviceId,
    clientMessageId: m.clientMessageId,
    serverTime: m.serverTime,
    content: m.content.length > 0 ? pb.MessageContent.decode(m.content) : { type: m.type },
    recalled: m.recalled,
    conversationType,
  };
}

export function conversationToPb(c: ConversationRecord): pb.Conversation.$Properties {
  return {
    conversationId: c.id,
    type: c.type,
    name: c.name,
    attributes: c.attributes,
    ownerId: c.ownerId,
    memberCount: c.memberCount,
    lastSeq: c.lastSeq,
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
  };
}

export function stateToPb(s: ConversationState): pb.ConversationState.$Properties {
  return {
    conversation: conversationToPb(s.conversation),
    ...(s.lastMessage ? { lastMessage: messageToPb(s.lastMessage, s.conversation.type) } : {}),
    unread: s.member.removed ? 0 : s.unread,
    readSeq: s.member.readSeq,
    deliveredSeq: s.member.deliveredSeq,
    role: s.member.role,
    notificationsMuted: s.member.notificationsMuted,
    mutedUntil: s.member.mutedUntil,
    removed: s.member.removed,
    version: s.version,
    mentionUnread: s.member.mentionUnread,
  };
}

export function memberToPb(m: MemberRecord): pb.Member.$Properties {
  return { userId: m.userId, role: m.role, joinedAt: m.joinedAt, speakMutedUntil: m.speakMutedUntil };
}
