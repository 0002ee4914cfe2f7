import type { pb } from '@parley/protocol';
import type { ChatMessage } from '../sync/types.js';

/**
 * One conversation as a list row needs it. Views are immutable: a change makes a new object,
 * so a renderer can compare rows by reference.
 */
export interface ConversationView {
  readonly id: string;
  readonly type: pb.ConversationType;
  readonly name: string;
  /** App JSON. */
  readonly attributes: string;
  readonly ownerId: string;
  readonly memberCount: number;
  /** The caller's role. */
  readonly role: pb.MemberRole;
  /** The latest message known locally (from sync, a push or one's own ack). */
  readonly lastMessage: ChatMessage | undefined;
  /** The conversation's latest seq known locally. */
  readonly lastSeq: number;
  /** Messages after the caller's read cursor (one's own never count: sending moves the cursor). */
  readonly unread: number;
  /** Unread messages that mention the caller (or `@all`). */
  readonly mentionUnread: number;
  /** The caller's read cursor (any of the caller's devices). */
  readonly readSeq: number;
  /** The caller's delivered cursor. */
  readonly deliveredSeq: number;
  /** The highest READ cursor of any other member seen (1:1: the peer's). */
  readonly peerReadSeq: number;
  /** The highest DELIVERED (or READ) cursor of any other member seen. */
  readonly peerDeliveredSeq: number;
  readonly notificationsMuted: boolean;
  readonly mutedUntil: number;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** Sort key: the last message's server time, else the conversation's update time. */
  readonly activityAt: number;
}

export interface CacheEvents {
  /** The list changed (coalesced: at most once per microtask). The argument is `conversations()`. */
  change: (conversations: readonly ConversationView[]) => void;
  /** A storage write failed. */
  error: (error: Error) => void;
}
