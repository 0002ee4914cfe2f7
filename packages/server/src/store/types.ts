import type { pb } from '@parley/protocol';

/**
 * Durable state of a Parley server. Adapters: SQLite (embedded default) and, for clusters,
 * PostgreSQL. Every adapter passes the same contract suite (test/store-contract.ts).
 *
 * Rules every adapter keeps:
 * - `seq` is gapless per conversation from 1, assigned inside the transaction that stores
 *   the message; concurrent appenders (several nodes) never get the same or a skipped seq.
 * - (conversationId, senderId, clientMessageId) is unique, enforced by a unique index: a
 *   resend returns the stored message with `duplicate: true` and changes nothing.
 * - `appendMessages` writes its whole batch in one transaction (group commit) and resolves
 *   only when the transaction is durable.
 * - Versions come from one store-wide counter that only grows. A conversation's `version`
 *   moves on every change every member sees (a message, a rename, a member change); a
 *   member's `version` on changes to that member's own state (cursor, role, mute, removal).
 *   A user's sync returns conversations where either is above the user's cursor. Each change
 *   takes its own value, so no two of a user's conversations share a version and a sync page
 *   never splits a tie; and a version is never visible to a sync before every smaller one
 *   is committed.
 * - A removed member's view stops at the removal: only the member's own version counts for
 *   it (later messages do not resurface it), its last message is the last one before the
 *   removal, and its unread is 0.
 * - Unread for a member = lastSeq − readSeq. Appending a message moves its sender's read and
 *   delivered cursors to it, so one's own messages never count as unread.
 */
export interface Store {
  /** Creates or upgrades the schema. Safe to call on every start. */
  migrate(): Promise<void>;
  close(): Promise<void>;

  // Conversations and members ------------------------------------------------------------

  /**
   * Creates a conversation with its members. For DIRECT conversations, whose id derives
   * from the pair, an existing one is returned with `created: false`.
   */
  createConversation(input: NewConversation): Promise<{ conversation: ConversationRecord; created: boolean }>;
  getConversation(conversationId: string): Promise<ConversationRecord | undefined>;
  updateConversation(conversationId: string, patch: ConversationPatch, now: number): Promise<ConversationRecord>;

  /** A member row, including removed members (`removed: true`). */
  getMember(conversationId: string, userId: string): Promise<MemberRecord | undefined>;
  /** Active members' user ids, for fan-out. */
  listMemberIds(conversationId: string): Promise<string[]>;
  /** Active members ordered by user id, after `afterUserId` (exclusive). */
  listMembers(conversationId: string, afterUserId: string, limit: number): Promise<MemberRecord[]>;
  /**
   * Adds members (re-activating removed ones), who start reading at the current last seq.
   * Refuses with MEMBER_LIMIT, atomically, when the active count would exceed `memberCap`.
   * Returns the users actually added.
   */
  addMembers(conversationId: string, members: NewMember[], memberCap: number, now: number): Promise<string[]>;
  /** Marks members removed (their sync then reports `removed`). Returns the users actually removed. */
  removeMembers(conversationId: string, userIds: string[], now: number): Promise<string[]>;
  updateMember(conversationId: string, userId: string, patch: MemberPatch): Promise<MemberRecord>;

  // Messages ------------------------------------------------------------------------------

  /**
   * Stores a batch in one durable transaction. Results are in input order; one bad item
   * (e.g. its conversation vanished) fails alone with its error, never the batch.
   */
  appendMessages(batch: AppendInput[]): Promise<AppendResult[]>;
  getMessage(conversationId: string, seq: number): Promise<StoredMessage | undefined>;
  /** from ≤ seq ≤ to (to = 0: no upper bound), ascending, at most `limit`. */
  getMessages(conversationId: string, fromSeq: number, toSeq: number, limit: number): Promise<StoredMessage[]>;
  /** seq < beforeSeq (0: from the latest), descending, at most `limit`. */
  getHistory(conversationId: string, beforeSeq: number, limit: number): Promise<StoredMessage[]>;

  // Cursors and sync ----------------------------------------------------------------------

  /**
   * Moves a member's delivered or read cursor forward (never back, never past lastSeq); reading
   * also moves delivered. NOT_FOUND for an unknown conversation, NOT_MEMBER for a non-member.
   */
  updateCursor(conversationId: string, userId: string, kind: CursorKind, seq: number): Promise<CursorResult>;
  /** The user's conversations changed after `sinceVersion`, ascending by change version. */
  syncConversations(userId: string, sinceVersion: number, limit: number): Promise<SyncPage>;
  /** The user's active conversations by latest activity, newest first. `cursor` is opaque ('' = first page). */
  listConversations(
    userId: string,
    cursor: string,
    limit: number,
  ): Promise<{ items: ConversationState[]; nextCursor: string }>;
  /** The user's state in one conversation (undefined if never a member). */
  getConversationState(conversationId: string, userId: string): Promise<ConversationState | undefined>;
  /** The highest change version among the user's conversations (0 if none). */
  userVersion(userId: string): Promise<number>;
  /** Whether two users share an active conversation (presence is visible only then). */
  shareConversation(userA: string, userB: string): Promise<boolean>;
}

export type ConversationType = pb.ConversationType;
export type MemberRole = pb.MemberRole;
export type CursorKind = 'delivered' | 'read';

export interface ConversationRecord {
  id: string;
  type: ConversationType;
  name: string;
  /** App JSON, as text. */
  attributes: string;
  ownerId: string;
  memberCount: number;
  lastSeq: number;
  createdAt: number;
  updatedAt: number;
  /** Change version of the conversation itself. */
  version: number;
}

export interface NewConversation {
  id: string;
  type: ConversationType;
  name: string;
  attributes: string;
  ownerId: string;
  members: NewMember[];
  now: number;
}

export interface NewMember {
  userId: string;
  role: MemberRole;
}

export interface ConversationPatch {
  name?: string;
  attributes?: string;
  ownerId?: string;
}

export interface MemberRecord {
  conversationId: string;
  userId: string;
  role: MemberRole;
  joinedAt: number;
  /** 0 = may speak. */
  speakMutedUntil: number;
  notificationsMuted: boolean;
  /** 0 = indefinitely (while notificationsMuted). */
  mutedUntil: number;
  readSeq: number;
  deliveredSeq: number;
  /** Unread messages that mention this member (reset when the read cursor passes them). */
  mentionUnread: number;
  removed: boolean;
  /** Change version of this member's own state. */
  version: number;
}

export interface MemberPatch {
  role?: MemberRole;
  speakMutedUntil?: number;
  notificationsMuted?: boolean;
  mutedUntil?: number;
}

export interface AppendInput {
  conversationId: string;
  /** Server-generated, unique (ULID). Ignored for duplicates. */
  messageId: string;
  senderId: string;
  senderDeviceId: string;
  clientMessageId: string;
  serverTime: number;
  type: pb.MessageType;
  /** pb.MessageContent, encoded. */
  content: Uint8Array;
  /** Users mentioned ("@all" mentions every member). */
  mentions: string[];
  /** For RECALL: the seq whose message is marked recalled in the same transaction. */
  recallTargetSeq?: number;
}

export type AppendResult =
  | { ok: true; message: StoredMessage; duplicate: boolean; conversationVersion: number }
  | { ok: false; code: pb.ErrorCode; message: string };

export interface StoredMessage {
  conversationId: string;
  seq: number;
  messageId: string;
  senderId: string;
  senderDeviceId: string;
  clientMessageId: string;
  serverTime: number;
  type: pb.MessageType;
  /** pb.MessageContent, encoded (emptied when recalled). */
  content: Uint8Array;
  recalled: boolean;
}

export interface CursorResult {
  seq: number;
  unread: number;
  /** The member's change version after the update. */
  version: number;
  /** False when the cursor was already at or past `seq`. */
  moved: boolean;
}

export interface ConversationState {
  conversation: ConversationRecord;
  member: MemberRecord;
  lastMessage: StoredMessage | undefined;
  unread: number;
  /** max(conversation.version, member.version); member.version alone for a removed member. */
  version: number;
}

export interface SyncPage {
  items: ConversationState[];
  /** Pass as sinceVersion for the next page; equals sinceVersion when nothing changed. */
  version: number;
  hasMore: boolean;
}
