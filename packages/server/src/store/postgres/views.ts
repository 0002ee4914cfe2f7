import { ErrorCode, ParleyError } from '@parley/protocol';
import type pg from 'pg';
import { clampLimit, clampSeq } from '../sqlite/rows.js';
import { decodeListCursor, encodeListCursor } from '../sqlite/views.js';
import type { ConversationState, CursorKind, CursorResult, SyncPage } from '../types.js';
import { int } from './connection.js';
import { EFFECTIVE_VERSION, type MemberRow, STATE_FROM, type StateRow, toState } from './rows.js';
import { takeVersions } from './versions.js';

/** Moves a cursor forward, clamped to last_seq; runs inside a transaction, locking the member row. */
export async function updateCursor(
  client: pg.ClientBase,
  conv: string,
  user: string,
  kind: CursorKind,
  seq: number,
): Promise<CursorResult> {
  const { rows } = await client.query<MemberRow & { c_last_seq: string }>(
    `SELECT m.*, c.last_seq AS c_last_seq FROM members m JOIN conversations c ON c.id = m.conversation_id
     WHERE m.conversation_id = $1 AND m.user_id = $2 FOR UPDATE OF m`,
    [conv, user],
  );
  const row = rows[0];
  if (row?.removed !== false) {
    const { rowCount } = await client.query('SELECT 1 FROM conversations WHERE id = $1', [conv]);
    if (rowCount === 0) throw new ParleyError(ErrorCode.NOT_FOUND, 'no such conversation');
    throw new ParleyError(ErrorCode.NOT_MEMBER, 'not a member of this conversation');
  }
  const lastSeq = int(row.c_last_seq);
  const readSeq = int(row.read_seq);
  const target = Math.min(clampSeq(seq), lastSeq);
  const current = kind === 'read' ? readSeq : int(row.delivered_seq);
  if (target <= current) {
    return { seq: current, unread: Math.max(0, lastSeq - readSeq), version: int(row.version), moved: false };
  }
  const version = await takeVersions(client, 1);
  if (kind === 'read') {
    // Reading implies delivery; mention_unread becomes the exact count of mentions (from others) past the cursor.
    await client.query(
      `UPDATE members SET read_seq = $3, delivered_seq = greatest(delivered_seq, $3),
         mention_unread = (SELECT count(DISTINCT seq) FROM mentions
                           WHERE conversation_id = $1 AND user_id IN ($2, '@all') AND seq > $3 AND sender_id <> $2),
         version = $4
       WHERE conversation_id = $1 AND user_id = $2`,
      [conv, user, target, version],
    );
  } else {
    await client.query(
      'UPDATE members SET delivered_seq = $3, version = $4 WHERE conversation_id = $1 AND user_id = $2',
      [conv, user, target, version],
    );
  }
  const unread = Math.max(0, lastSeq - (kind === 'read' ? target : readSeq));
  return { seq: target, unread, version, moved: true };
}

// Reads below are single statements: each one sees one snapshot.

export async function conversationState(
  db: pg.Pool,
  conv: string,
  user: string,
): Promise<ConversationState | undefined> {
  const { rows } = await db.query<StateRow>(`${STATE_FROM} WHERE m.conversation_id = $1 AND m.user_id = $2`, [
    conv,
    user,
  ]);
  return rows[0] ? toState(rows[0]) : undefined;
}

export async function syncConversations(
  db: pg.Pool,
  user: string,
  sinceVersion: number,
  limit: number,
): Promise<SyncPage> {
  const since = clampSeq(sinceVersion);
  const n = clampLimit(limit);
  const { rows } = await db.query<StateRow>(
    `${STATE_FROM} WHERE m.user_id = $1 AND ${EFFECTIVE_VERSION} > $2
     ORDER BY ${EFFECTIVE_VERSION}, m.conversation_id LIMIT $3`,
    [user, since, n + 1],
  );
  const items = rows.slice(0, n).map(toState);
  return { items, version: items.at(-1)?.version ?? since, hasMore: rows.length > n };
}

export async function listConversations(
  db: pg.Pool,
  user: string,
  cursor: string,
  limit: number,
): Promise<{ items: ConversationState[]; nextCursor: string }> {
  const n = clampLimit(limit);
  const after = cursor ? decodeListCursor(cursor) : undefined;
  const { rows } = after
    ? await db.query<StateRow>(
        `${STATE_FROM} WHERE m.user_id = $1 AND NOT m.removed AND (c.updated_at < $2 OR (c.updated_at = $2 AND c.id > $3))
         ORDER BY c.updated_at DESC, c.id LIMIT $4`,
        [user, after.at, after.id, n + 1],
      )
    : await db.query<StateRow>(
        `${STATE_FROM} WHERE m.user_id = $1 AND NOT m.removed ORDER BY c.updated_at DESC, c.id LIMIT $2`,
        [user, n + 1],
      );
  const page = rows.slice(0, n).map(toState);
  const last = page.at(-1);
  return {
    items: page,
    nextCursor: rows.length > n && last ? encodeListCursor(last.conversation.updatedAt, last.conversation.id) : '',
  };
}

export async function userVersion(db: pg.Pool, user: string): Promise<number> {
  const { rows } = await db.query<{ v: string }>(
    `SELECT coalesce(max(${EFFECTIVE_VERSION}), 0) AS v
     FROM members m JOIN conversations c ON c.id = m.conversation_id WHERE m.user_id = $1`,
    [user],
  );
  return int(rows[0]?.v);
}

export async function shareConversation(db: pg.Pool, a: string, b: string): Promise<boolean> {
  const { rows } = await db.query<{ shared: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM members x JOIN members y ON y.conversation_id = x.conversation_id
                    WHERE x.user_id = $1 AND NOT x.removed AND y.user_id = $2 AND NOT y.removed) AS shared`,
    [a, b],
  );
  return rows[0]?.shared === true;
}
