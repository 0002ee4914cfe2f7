// The rows of an open conversation: the messages the chat holds, each of one's own with its
// receipt state, then the outgoing ones the server has not acknowledged (or refused).
import type { OutboxMessage, OutboxState, ParleyClient } from '@parley/client';
import type { MessageLog } from './model.js';
import { type ConversationEntry, stateFromCursors } from './render.js';

export function conversationEntries(
  client: ParleyClient,
  log: MessageLog,
  conversationId: string,
  me: string,
): ConversationEntry[] {
  const view = client.conversation(conversationId);
  const out: ConversationEntry[] = log.messages.map((message) => {
    const own = message.senderId === me;
    // The outbox knows the receipts of what this device sent; the cursors cover the rest.
    const record = own ? client.outbox.get(message.clientMessageId) : undefined;
    const state: OutboxState | undefined = own
      ? record?.state === 'delivered' || record?.state === 'read'
        ? record.state
        : stateFromCursors(view, message.seq)
      : undefined;
    return { kind: 'stored', message, own, state };
  });
  const newest = log.messages[log.messages.length - 1]?.seq ?? 0;
  let failed = 0;
  for (const m of client.outbox.list(conversationId)) {
    const unacked = m.state === 'sending' || m.state === 'failed';
    if (!unacked && (m.seq ?? 0) <= newest) continue;
    if (!unacked && log.messages.length === 0) continue; // settled, and no history shown to place it in
    out.push({ kind: 'pending', message: m, failedIndex: m.state === 'failed' ? ++failed : undefined });
  }
  return out;
}

/** The failed messages of a conversation, in the order `/retry N` numbers them. */
export function failedMessages(client: ParleyClient, conversationId: string): OutboxMessage[] {
  return client.outbox.list(conversationId).filter((m) => m.state === 'failed');
}
