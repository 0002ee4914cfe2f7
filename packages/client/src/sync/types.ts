import { pb } from '@parley/protocol';

/** A stored message of a conversation, as the SDK hands it to the app (plain data, every field set). */
export interface ChatMessage {
  conversationId: string;
  /** Gapless per conversation from 1 (rooms: may skip). */
  seq: number;
  /** Server-assigned, unique. */
  messageId: string;
  senderId: string;
  senderDeviceId: string;
  /** The sender's idempotency key: for one's own messages, the outbox `localId`. */
  clientMessageId: string;
  /** Server clock when stored (ms since the epoch). */
  serverTime: number;
  content: pb.MessageContent.$Properties;
  /** Removed by a later RECALL message. */
  recalled: boolean;
  conversationType: pb.ConversationType;
}

/** Normalizes a decoded `pb.Message` (optional fields) into a {@link ChatMessage}. */
export function toChatMessage(m: pb.Message.$Properties): ChatMessage {
  return {
    conversationId: m.conversationId ?? '',
    seq: m.seq ?? 0,
    messageId: m.messageId ?? '',
    senderId: m.senderId ?? '',
    senderDeviceId: m.senderDeviceId ?? '',
    clientMessageId: m.clientMessageId ?? '',
    serverTime: m.serverTime ?? 0,
    content: m.content ?? {},
    recalled: m.recalled ?? false,
    conversationType: m.conversationType ?? pb.ConversationType.CONVERSATION_TYPE_UNSPECIFIED,
  };
}

/** What one sync run did. */
export interface SyncReport {
  /** The version cursor after the run. */
  version: number;
  /** Conversation states received. */
  conversations: number;
  /** Messages pulled with SYNC_MESSAGES during the run. */
  pulled: number;
  durationMs: number;
}

export interface SyncEvents {
  /** A new message, exactly once per (conversation, seq), in seq order per conversation. */
  message: (message: ChatMessage) => void;
  /** A conversation's state from SYNC_CONVERSATIONS, a CONVERSATION push or CONV_CREATE. */
  conversation: (state: pb.ConversationState) => void;
  /**
   * Messages of a newly seen conversation below `beforeSeq` will not come as `message` events
   * (the first sync's `initialMessages` window, or more than `newConversationLimit` to catch
   * up): page them with `loadHistory` when wanted.
   */
  history: (info: { conversationId: string; beforeSeq: number }) => void;
  /** A sync run finished. */
  synced: (report: SyncReport) => void;
  /**
   * Sync failed in a way worth a log line: a PARLEY_ERR_SYNC `ClientError` that is not
   * retryable, once per run of failures (until a run succeeds), or a storage write's error.
   * Retryable failures (no link, timeouts) are routine during an outage, as a dropped link is,
   * and only show in `Sync.lastError`. Sync is tried again on the next login, wake-up, push or
   * short-link poll.
   */
  error: (error: Error) => void;
}
