import { ErrorCode, ParleyError, pb } from '@parley/protocol';
import type pg from 'pg';
import type {
  ConversationPatch,
  ConversationRecord,
  MemberPatch,
  MemberRecord,
  NewConversation,
  NewMember,
} from '../types.js';
import { int } from './connection.js';
import { type ConversationRow, type MemberRow, only, toConversation, toMember } from './rows.js';
import { takeVersions } from './versions.js';

// Each function here runs inside one transaction opened by the store, and locks the rows it
// will change before it takes a version (see versions.ts for the lock order).

async function lockConversation(client: pg.ClientBase, id: string): Promise<ConversationRow> {
  const { rows } = await client.query<ConversationRow>('SELECT * FROM conversations WHERE id = $1 FOR UPDATE', [id]);
  const row = rows[0];
  if (!row) throw new ParleyError(ErrorCode.NOT_FOUND, 'no such conversation');
  return row;
}

/** First mention of each user wins; later duplicates in one request are ignored. */
function uniqueMembers(members: readonly NewMember[]): NewMember[] {
  const seen = new Map<string, NewMember>();
  for (const m of members) if (!seen.has(m.userId)) seen.set(m.userId, m);
  return [...seen.values()];
}

export async function createConversation(
  client: pg.ClientBase,
  input: NewConversation,
): Promise<{ conversation: ConversationRecord; created: boolean }> {
  // Inserting first claims the id: a concurrent create of the same id waits here, then finds it.
  const inserted = await client.query(
    `INSERT INTO conversations (id, type, name, attributes, owner_id, member_count, last_seq, created_at, updated_at, version)
     VALUES ($1, $2, $3, $4, $5, 0, 0, $6, $6, 0) ON CONFLICT (id) DO NOTHING`,
    [input.id, input.type, input.name, input.attributes, input.ownerId, input.now],
  );
  if (inserted.rowCount !== 1) {
    const { rows } = await client.query<ConversationRow>('SELECT * FROM conversations WHERE id = $1', [input.id]);
    const existing = rows[0];
    // A DIRECT id derives from the pair, so a second create is the same conversation.
    if (existing && input.type === pb.ConversationType.DIRECT && existing.type === pb.ConversationType.DIRECT) {
      return { conversation: toConversation(existing), created: false };
    }
    throw new ParleyError(ErrorCode.ALREADY_EXISTS, 'a conversation with this id exists');
  }
  const members = uniqueMembers(input.members);
  // One version for the conversation and its first members: they are one change.
  const version = await takeVersions(client, 1);
  await client.query(
    `INSERT INTO members (conversation_id, user_id, role, joined_at, read_seq, delivered_seq, version)
     SELECT $1, k.user_id, k.role, $4, 0, 0, $5 FROM unnest($2::text[], $3::integer[]) AS k (user_id, role)`,
    [input.id, members.map((m) => m.userId), members.map((m) => m.role), input.now, version],
  );
  const { rows } = await client.query<ConversationRow>(
    'UPDATE conversations SET member_count = $2, version = $3 WHERE id = $1 RETURNING *',
    [input.id, members.length, version],
  );
  return { conversation: toConversation(only(rows, 'create conversation')), created: true };
}

export async function updateConversation(
  client: pg.ClientBase,
  id: string,
  patch: ConversationPatch,
  now: number,
): Promise<ConversationRecord> {
  const row = await lockConversation(client, id);
  const next = {
    name: patch.name ?? row.name,
    attributes: patch.attributes ?? row.attributes,
    owner: patch.ownerId ?? row.owner_id,
  };
  if (next.name === row.name && next.attributes === row.attributes && next.owner === row.owner_id) {
    return toConversation(row);
  }
  const version = await takeVersions(client, 1);
  const { rows } = await client.query<ConversationRow>(
    `UPDATE conversations SET name = $2, attributes = $3, owner_id = $4, updated_at = greatest(updated_at, $5),
       version = $6 WHERE id = $1 RETURNING *`,
    [id, next.name, next.attributes, next.owner, now, version],
  );
  return toConversation(only(rows, 'update conversation'));
}

/** Locks the given users' member rows of a locked conversation; returns them by user id. */
async function lockMembers(client: pg.ClientBase, id: string, userIds: string[]): Promise<Map<string, MemberRow>> {
  const { rows } = await client.query<MemberRow>(
    'SELECT * FROM members WHERE conversation_id = $1 AND user_id = ANY($2::text[]) ORDER BY user_id FOR UPDATE',
    [id, userIds],
  );
  return new Map(rows.map((r) => [r.user_id, r]));
}

/**
 * Adds new members and re-activates removed ones, who start reading at the current last seq.
 * Checks the cap against the count after the change; a refusal throws before any write.
 */
export async function addMembers(
  client: pg.ClientBase,
  id: string,
  members: readonly NewMember[],
  memberCap: number,
  now: number,
): Promise<string[]> {
  const conversation = await lockConversation(client, id);
  const unique = uniqueMembers(members);
  const existing = await lockMembers(
    client,
    id,
    unique.map((m) => m.userId),
  );
  const toAdd = unique.filter((m) => existing.get(m.userId)?.removed !== false);
  if (toAdd.length === 0) return [];
  if (conversation.member_count + toAdd.length > memberCap) {
    throw new ParleyError(ErrorCode.MEMBER_LIMIT, `the conversation holds at most ${String(memberCap)} members`);
  }
  const version = await takeVersions(client, 1);
  const seq = int(conversation.last_seq);
  // Re-joining starts reading at the current end: history before it is not unread.
  await client.query(
    `INSERT INTO members (conversation_id, user_id, role, joined_at, read_seq, delivered_seq, version)
     SELECT $1, k.user_id, k.role, $4, $5, $5, $6 FROM unnest($2::text[], $3::integer[]) AS k (user_id, role)
     ON CONFLICT (conversation_id, user_id) DO UPDATE SET removed = false, removed_seq = 0, role = excluded.role,
       joined_at = excluded.joined_at, read_seq = greatest(members.read_seq, excluded.read_seq),
       delivered_seq = greatest(members.delivered_seq, excluded.delivered_seq), mention_unread = 0,
       version = excluded.version
     WHERE members.removed`,
    [id, toAdd.map((m) => m.userId), toAdd.map((m) => m.role), now, seq, version],
  );
  await changeMemberCount(client, id, toAdd.length, now, version);
  return toAdd.map((m) => m.userId);
}

async function changeMemberCount(
  client: pg.ClientBase,
  id: string,
  delta: number,
  now: number,
  version: number,
): Promise<void> {
  await client.query(
    `UPDATE conversations SET member_count = member_count + $2, updated_at = greatest(updated_at, $3), version = $4
     WHERE id = $1`,
    [id, delta, now, version],
  );
}

/** Marks active members removed; their view of the conversation stops at the current last seq. */
export async function removeMembers(
  client: pg.ClientBase,
  id: string,
  userIds: readonly string[],
  now: number,
): Promise<string[]> {
  const conversation = await lockConversation(client, id);
  const unique = [...new Set(userIds)];
  const existing = await lockMembers(client, id, unique);
  const removed = unique.filter((u) => existing.get(u)?.removed === false);
  if (removed.length === 0) return [];
  const version = await takeVersions(client, 1);
  await client.query(
    `UPDATE members SET removed = true, removed_seq = $3, mention_unread = 0, version = $4
     WHERE conversation_id = $1 AND user_id = ANY($2::text[]) AND NOT removed`,
    [id, removed, conversation.last_seq, version],
  );
  await changeMemberCount(client, id, -removed.length, now, version);
  return removed;
}

/** Changes one active member's own settings; bumps that member's version only if something changed. */
export async function updateMember(
  client: pg.ClientBase,
  id: string,
  userId: string,
  patch: MemberPatch,
): Promise<MemberRecord> {
  const { rows } = await client.query<MemberRow>(
    `SELECT m.* FROM conversations c JOIN members m ON m.conversation_id = c.id
     WHERE c.id = $1 AND m.user_id = $2 FOR UPDATE OF m`,
    [id, userId],
  );
  const row = rows[0];
  if (row?.removed !== false) {
    const { rowCount } = await client.query('SELECT 1 FROM conversations WHERE id = $1', [id]);
    throw new ParleyError(ErrorCode.NOT_FOUND, rowCount === 0 ? 'no such conversation' : 'no such member');
  }
  const next = {
    role: patch.role ?? row.role,
    speakMutedUntil: patch.speakMutedUntil ?? int(row.speak_muted_until),
    notificationsMuted: patch.notificationsMuted ?? row.notifications_muted,
    mutedUntil: patch.mutedUntil ?? int(row.muted_until),
  };
  if (
    next.role === row.role &&
    next.speakMutedUntil === int(row.speak_muted_until) &&
    next.notificationsMuted === row.notifications_muted &&
    next.mutedUntil === int(row.muted_until)
  ) {
    return toMember(row);
  }
  const version = await takeVersions(client, 1);
  const updated = await client.query<MemberRow>(
    `UPDATE members SET role = $3, speak_muted_until = $4, notifications_muted = $5, muted_until = $6, version = $7
     WHERE conversation_id = $1 AND user_id = $2 RETURNING *`,
    [id, userId, next.role, next.speakMutedUntil, next.notificationsMuted, next.mutedUntil, version],
  );
  return toMember(only(updated.rows, 'update member'));
}
