import { ErrorCode, pb } from '@parley/protocol';
import type Database from 'better-sqlite3';
import type { AppendInput, AppendResult, StoredMessage } from '../types.js';
import { toMessage } from './rows.js';
import type { Statements } from './statements.js';

const ALL = '@all';

/** A failure that belongs to one item of a batch; its savepoint is rolled back, the batch goes on. */
class ItemFailure extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Builds the batch writer: the whole batch in one IMMEDIATE transaction (one fsync), each item
 * in its own savepoint so that a bad item fails alone. IMMEDIATE takes the write lock before
 * reading `last_seq`, so appenders in other processes serialise instead of racing for a seq.
 */
export function batchAppender(
  db: Database.Database,
  sql: Statements,
): (batch: readonly AppendInput[]) => AppendResult[] {
  const item = db.transaction((input: AppendInput): AppendResult => appendOne(sql, input));
  const all = db.transaction((batch: readonly AppendInput[]): AppendResult[] =>
    batch.map((input) => {
      try {
        return item(input);
      } catch (err) {
        if (err instanceof ItemFailure) return { ok: false, code: err.code, message: err.message };
        // Bad input (e.g. a reused messageId) fails the item alone; anything else (I/O, disk
        // full) fails the whole batch, which rolls back and stores nothing.
        if (isInputError(err)) {
          return {
            ok: false,
            code: ErrorCode.INVALID_ARGUMENT,
            message: `message rejected by the store: ${err.message}`,
          };
        }
        throw err;
      }
    }),
  );
  return (batch) => all.immediate(batch);
}

/** A constraint the item broke, or a value SQLite cannot bind: the item's fault, not the store's. */
function isInputError(err: unknown): err is Error {
  if (err instanceof TypeError || err instanceof RangeError) return true;
  return (
    err instanceof Error && 'code' in err && typeof err.code === 'string' && err.code.startsWith('SQLITE_CONSTRAINT')
  );
}

function appendOne(sql: Statements, input: AppendInput): AppendResult {
  const conv = input.conversationId;
  const existing = sql.findByClientId.get(conv, input.senderId, input.clientMessageId);
  if (existing) {
    const version = sql.getConversation.get(conv)?.version ?? 0;
    return { ok: true, message: toMessage(existing), duplicate: true, conversationVersion: version };
  }
  const conversation = sql.getConversation.get(conv);
  if (!conversation) throw new ItemFailure(ErrorCode.NOT_FOUND, 'no such conversation');
  const seq = conversation.last_seq + 1;

  let recallTarget: { seq: number; sender: string; recalled: boolean } | undefined;
  if (input.type === pb.MessageType.RECALL) {
    const target = input.recallTargetSeq ?? 0;
    if (!Number.isSafeInteger(target) || target < 1) {
      throw new ItemFailure(ErrorCode.INVALID_ARGUMENT, 'a RECALL needs the seq of an earlier message');
    }
    const row = target < seq ? sql.getMessage.get(conv, target) : undefined;
    if (!row) throw new ItemFailure(ErrorCode.NOT_FOUND, 'no message with that seq');
    recallTarget = { seq: target, sender: row.sender_id, recalled: row.recalled !== 0 };
  }

  const version = sql.nextVersion.get() ?? 0;
  sql.insertMessage.run({
    conv,
    seq,
    messageId: input.messageId,
    sender: input.senderId,
    device: input.senderDeviceId,
    clientId: input.clientMessageId,
    time: input.serverTime,
    type: input.type,
    content: input.content,
  });
  const advanced = sql.advanceConversation.run({ id: conv, seq, time: input.serverTime, version });
  if (advanced.changes !== 1) throw new Error(`conversation ${conv} moved under a write transaction`);
  sql.senderCursors.run({ conv, user: input.senderId, seq });
  recordMentions(sql, conv, seq, input.senderId, input.mentions);
  if (recallTarget && !recallTarget.recalled) recall(sql, conv, recallTarget.seq, recallTarget.sender);

  const message: StoredMessage = {
    conversationId: conv,
    seq,
    messageId: input.messageId,
    senderId: input.senderId,
    senderDeviceId: input.senderDeviceId,
    clientMessageId: input.clientMessageId,
    serverTime: input.serverTime,
    type: input.type,
    content: input.content,
    recalled: false,
  };
  return { ok: true, message, duplicate: false, conversationVersion: version };
}

/** Counts the message in mention_unread of mentioned active members other than the sender. */
function recordMentions(sql: Statements, conv: string, seq: number, sender: string, mentions: readonly string[]): void {
  if (mentions.length === 0) return;
  const users = new Set(mentions.filter((m) => typeof m === 'string' && m !== sender));
  if (users.has(ALL)) {
    sql.insertMention.run({ conv, user: ALL, seq, sender });
    sql.mentionAll.run({ conv, sender });
    return;
  }
  for (const user of users) {
    // Only active members count, and only they get a row that a later recount would see.
    if (sql.mentionMember.run({ conv, user, sender }).changes > 0) {
      sql.insertMention.run({ conv, user, seq, sender });
    }
  }
}

/** Marks the target recalled, drops its content and takes it out of unread mention counts. */
function recall(sql: Statements, conv: string, seq: number, sender: string): void {
  sql.recallMessage.run(conv, seq);
  const mentioned = sql.mentionsOf.all(conv, seq);
  if (mentioned.length === 0) return;
  sql.deleteMentionsOf.run(conv, seq);
  if (mentioned.includes(ALL)) {
    sql.unmentionAll.run({ conv, seq, sender });
    return;
  }
  for (const user of mentioned) sql.unmentionMember.run({ conv, user, seq, sender });
}
