import { ErrorCode, ParleyError, pb } from '@parley/protocol';
import type {
  ConversationPatch,
  ConversationRecord,
  MemberPatch,
  MemberRecord,
  NewConversation,
  NewMember,
} from '../types.js';
import { type ConversationRow, toConversation, toMember } from './rows.js';
import type { Statements } from './statements.js';

// Each function here runs inside one write transaction opened by the store.

function requireConversation(sql: Statements, id: string): ConversationRow {
  const row = sql.getConversation.get(id);
  if (!row) throw new ParleyError(ErrorCode.NOT_FOUND, 'no such conversation');
  return row;
}

function reread(sql: Statements, id: string): ConversationRecord {
  return toConversation(requireConversation(sql, id));
}

/** First mention of each user wins; later duplicates in one request are ignored. */
function uniqueMembers(members: readonly NewMember[]): NewMember[] {
  const seen = new Map<string, NewMember>();
  for (const m of members) if (!seen.has(m.userId)) seen.set(m.userId, m);
  return [...seen.values()];
}

export function createConversation(
  sql: Statements,
  input: NewConversation,
): { conversation: ConversationRecord; created: boolean } {
  const existing = sql.getConversation.get(input.id);
  if (existing) {
    // A DIRECT id derives from the pair, so a second create is the same conversation.
    if (input.type === pb.ConversationType.DIRECT && existing.type === pb.ConversationType.DIRECT) {
      return { conversation: toConversation(existing), created: false };
    }
    throw new ParleyError(ErrorCode.ALREADY_EXISTS, 'a conversation with this id exists');
  }
  const members = uniqueMembers(input.members);
  // One version for the conversation and its first members: they are one change, in one conversation.
  const version = sql.nextVersion.get() ?? 0;
  sql.insertConversation.run({
    id: input.id,
    type: input.type,
    name: input.name,
    attributes: input.attributes,
    owner: input.ownerId,
    count: members.length,
    now: input.now,
    version,
  });
  for (const m of members) {
    sql.insertMember.run({ conv: input.id, user: m.userId, role: m.role, now: input.now, seq: 0, version });
  }
  return { conversation: reread(sql, input.id), created: true };
}

export function updateConversation(
  sql: Statements,
  id: string,
  patch: ConversationPatch,
  now: number,
): ConversationRecord {
  const row = requireConversation(sql, id);
  const next = {
    name: patch.name ?? row.name,
    attributes: patch.attributes ?? row.attributes,
    owner: patch.ownerId ?? row.owner_id,
  };
  if (next.name === row.name && next.attributes === row.attributes && next.owner === row.owner_id) {
    return toConversation(row);
  }
  sql.updateConversation.run({ id, ...next, now, version: sql.nextVersion.get() ?? 0 });
  return reread(sql, id);
}

/**
 * Adds new members and re-activates removed ones, who start reading at the current last seq.
 * Checks the cap against the count after the change; a refusal throws, so the caller's
 * transaction rolls back and nobody is added.
 */
export function addMembers(
  sql: Statements,
  id: string,
  members: readonly NewMember[],
  memberCap: number,
  now: number,
): string[] {
  const conversation = requireConversation(sql, id);
  const toAdd = uniqueMembers(members).filter((m) => {
    const row = sql.getMember.get(id, m.userId);
    return row?.removed !== 0;
  });
  if (toAdd.length === 0) return [];
  if (conversation.member_count + toAdd.length > memberCap) {
    throw new ParleyError(ErrorCode.MEMBER_LIMIT, `the conversation holds at most ${String(memberCap)} members`);
  }
  const version = sql.nextVersion.get() ?? 0;
  const seq = conversation.last_seq;
  for (const m of toAdd) {
    const args = { conv: id, user: m.userId, role: m.role, now, seq, version };
    if (sql.rejoinMember.run(args).changes === 0) sql.insertMember.run(args);
  }
  sql.changeMemberCount.run({ id, delta: toAdd.length, now, version });
  return toAdd.map((m) => m.userId);
}

/** Marks active members removed; their view of the conversation stops at the current last seq. */
export function removeMembers(sql: Statements, id: string, userIds: readonly string[], now: number): string[] {
  const conversation = requireConversation(sql, id);
  let version: number | undefined;
  const removed: string[] = [];
  for (const user of new Set(userIds)) {
    const row = sql.getMember.get(id, user);
    if (row?.removed !== 0) continue;
    version ??= sql.nextVersion.get() ?? 0;
    sql.removeMember.run({ conv: id, user, seq: conversation.last_seq, version });
    removed.push(user);
  }
  if (version !== undefined) sql.changeMemberCount.run({ id, delta: -removed.length, now, version });
  return removed;
}

/** Changes one active member's own settings; bumps that member's version only if something changed. */
export function updateMember(sql: Statements, id: string, userId: string, patch: MemberPatch): MemberRecord {
  requireConversation(sql, id);
  const row = sql.getMember.get(id, userId);
  if (row?.removed !== 0) throw new ParleyError(ErrorCode.NOT_FOUND, 'no such member');
  const next = {
    role: patch.role ?? row.role,
    speakMutedUntil: patch.speakMutedUntil ?? row.speak_muted_until,
    notificationsMuted:
      patch.notificationsMuted === undefined ? row.notifications_muted : Number(patch.notificationsMuted),
    mutedUntil: patch.mutedUntil ?? row.muted_until,
  };
  if (
    next.role === row.role &&
    next.speakMutedUntil === row.speak_muted_until &&
    next.notificationsMuted === row.notifications_muted &&
    next.mutedUntil === row.muted_until
  ) {
    return toMember(row);
  }
  sql.updateMember.run({ conv: id, user: userId, ...next, version: sql.nextVersion.get() ?? 0 });
  const updated = sql.getMember.get(id, userId);
  if (!updated) throw new Error('member vanished inside its own transaction');
  return toMember(updated);
}
