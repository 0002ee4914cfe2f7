import { ErrorCode, ParleyError } from '@parley/protocol';
import type { ConversationState, CursorKind, CursorResult, SyncPage } from '../types.js';
import { type StateRow, clampLimit, clampSeq, toMessage, toState, visibleLastSeq } from './rows.js';
import type { Statements } from './statements.js';

/** Moves a cursor forward, clamped to last_seq; runs inside a write transaction. */
export function updateCursor(sql: Statements, conv: string, user: string, kind: CursorKind, seq: number): CursorResult {
  const row = sql.state.get(conv, user);
  if (row?.removed !== 0) {
    if (!sql.getConversation.get(conv)) throw new ParleyError(ErrorCode.NOT_FOUND, 'no such conversation');
    throw new ParleyError(ErrorCode.NOT_MEMBER, 'not a member of this conversation');
  }
  const target = Math.min(clampSeq(seq), row.c_last_seq);
  const current = kind === 'read' ? row.read_seq : row.delivered_seq;
  if (target <= current) {
    return { seq: current, unread: Math.max(0, row.c_last_seq - row.read_seq), version: row.version, moved: false };
  }
  const version = sql.nextVersion.get() ?? 0;
  // Reading implies delivery, so a read cursor also pulls the delivered cursor along.
  if (kind === 'read') sql.moveRead.run({ conv, user, seq: target, version });
  else sql.moveDelivered.run({ conv, user, seq: target, version });
  const readSeq = kind === 'read' ? target : row.read_seq;
  return { seq: target, unread: Math.max(0, row.c_last_seq - readSeq), version, moved: true };
}

function withLastMessage(sql: Statements, row: StateRow): ConversationState {
  const last = visibleLastSeq(row);
  const message = last > 0 ? sql.getMessage.get(row.conversation_id, last) : undefined;
  return toState(row, message ? toMessage(message) : undefined);
}

export function conversationState(sql: Statements, conv: string, user: string): ConversationState | undefined {
  const row = sql.state.get(conv, user);
  return row ? withLastMessage(sql, row) : undefined;
}

export function syncConversations(sql: Statements, user: string, sinceVersion: number, limit: number): SyncPage {
  const since = clampSeq(sinceVersion);
  const n = clampLimit(limit);
  const rows = sql.sync.all({ user, since, limit: n + 1 });
  const items = rows.slice(0, n).map((r) => withLastMessage(sql, r));
  return { items, version: items.at(-1)?.version ?? since, hasMore: rows.length > n };
}

export function listConversations(
  sql: Statements,
  user: string,
  cursor: string,
  limit: number,
): { items: ConversationState[]; nextCursor: string } {
  const n = clampLimit(limit);
  const after = cursor ? decodeListCursor(cursor) : undefined;
  const rows = after ? sql.listAfter.all({ user, ...after, limit: n + 1 }) : sql.listFirst.all({ user, limit: n + 1 });
  const page = rows.slice(0, n);
  const last = page.at(-1);
  return {
    items: page.map((r) => withLastMessage(sql, r)),
    nextCursor: rows.length > n && last ? encodeListCursor(last.c_updated_at, last.conversation_id) : '',
  };
}

/** The list cursor is opaque to clients: base64url of "updatedAt:conversationId". */
export function encodeListCursor(at: number, id: string): string {
  return Buffer.from(`${String(at)}:${id}`).toString('base64url');
}

export function decodeListCursor(cursor: string): { at: number; id: string } {
  const text = Buffer.from(cursor, 'base64url').toString();
  const colon = text.indexOf(':');
  const at = Number(text.slice(0, colon));
  if (colon < 1 || !Number.isSafeInteger(at)) {
    throw new ParleyError(ErrorCode.INVALID_ARGUMENT, 'invalid conversation list cursor');
  }
  return { at, id: text.slice(colon + 1) };
}
