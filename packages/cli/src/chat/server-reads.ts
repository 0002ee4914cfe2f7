// Reads the chat makes over the SDK's connection that the high-level client does not wrap:
// a history page before any seq (the client's `loadHistory` continues from what its own sync
// delivered, but the chat keeps no messages across restarts), and the members of a 1:1.
import { type ChatMessage, Command, type ParleyClient, toChatMessage } from '@parley/client';

/** Offline, a read waits this long for the link before it fails (it is not queued for later). */
const READ_OPTIONS = { retries: 1, maxAgeMs: 10_000, timeoutMs: 10_000 };

/** Messages before `beforeSeq` (0: the latest), any order; `hasMore` when older ones exist. */
export async function historyPage(
  client: ParleyClient,
  conversationId: string,
  beforeSeq: number,
  limit: number,
): Promise<{ messages: ChatMessage[]; hasMore: boolean }> {
  const page = await client.connection.request(Command.HISTORY, { conversationId, beforeSeq, limit }, READ_OPTIONS);
  return { messages: page.messages.map(toChatMessage), hasMore: page.hasMore };
}

/** The other member of a 1:1 conversation. */
export async function directPeer(
  client: ParleyClient,
  conversationId: string,
  me: string,
): Promise<string | undefined> {
  const answer = await client.connection.request(
    Command.MEMBERS_LIST,
    { conversationId, cursor: '', limit: 10 },
    READ_OPTIONS,
  );
  return answer.members.find((m) => m.userId !== me)?.userId ?? undefined;
}
