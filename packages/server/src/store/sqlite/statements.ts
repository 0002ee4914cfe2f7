import type Database from 'better-sqlite3';
import {
  type ConversationRow,
  EFFECTIVE_VERSION,
  type MemberRow,
  type MessageRow,
  STATE_COLUMNS,
  type StateRow,
} from './rows.js';

/** The part of a prepared statement the store uses, under a name declaration files can emit. */
export interface Statement<P extends unknown[], R> {
  run(...params: P): Database.RunResult;
  get(...params: P): R | undefined;
  all(...params: P): R[];
}

/** Prepares `source`; named parameters bind from one object, positional ones from a tuple. */
function prepare<P extends unknown[] | object, R = unknown>(
  db: Database.Database,
  source: string,
  pluck = false,
): Statement<P extends unknown[] ? P : [P], R> {
  const statement = db.prepare(source);
  if (pluck) statement.pluck();
  return statement as unknown as Statement<P extends unknown[] ? P : [P], R>;
}

interface ConvUser {
  conv: string;
  user: string;
}

/** Every statement the store runs, prepared once per connection after the schema is current. */
export function prepareStatements(db: Database.Database) {
  const p = <P extends unknown[] | object, R = unknown>(source: string) => prepare<P, R>(db, source);
  const pluck = <P extends unknown[] | object, R = unknown>(source: string) => prepare<P, R>(db, source, true);
  return {
    // The store-wide version counter: one UPDATE per change, so values are unique and only grow.
    nextVersion: pluck<[], number>(`UPDATE counters SET value = value + 1 WHERE name = 'version' RETURNING value`),

    // Conversations ------------------------------------------------------------------------
    getConversation: p<[string], ConversationRow>('SELECT * FROM conversations WHERE id = ?'),
    insertConversation: p<{
      id: string;
      type: number;
      name: string;
      attributes: string;
      owner: string;
      count: number;
      now: number;
      version: number;
    }>(
      `INSERT INTO conversations (id, type, name, attributes, owner_id, member_count, last_seq, created_at, updated_at, version)
       VALUES (@id, @type, @name, @attributes, @owner, @count, 0, @now, @now, @version)`,
    ),
    updateConversation: p<{
      id: string;
      name: string;
      attributes: string;
      owner: string;
      now: number;
      version: number;
    }>(
      `UPDATE conversations SET name = @name, attributes = @attributes, owner_id = @owner,
         updated_at = max(updated_at, @now), version = @version WHERE id = @id`,
    ),
    changeMemberCount: p<{ id: string; delta: number; now: number; version: number }>(
      `UPDATE conversations SET member_count = member_count + @delta, updated_at = max(updated_at, @now),
         version = @version WHERE id = @id`,
    ),
    advanceConversation: p<{ id: string; seq: number; time: number; version: number }>(
      `UPDATE conversations SET last_seq = @seq, updated_at = max(updated_at, @time), version = @version
       WHERE id = @id AND last_seq = @seq - 1`,
    ),

    // Members ------------------------------------------------------------------------------
    getMember: p<[string, string], MemberRow>('SELECT * FROM members WHERE conversation_id = ? AND user_id = ?'),
    insertMember: p<ConvUser & { role: number; now: number; seq: number; version: number }>(
      `INSERT INTO members (conversation_id, user_id, role, joined_at, read_seq, delivered_seq, version)
       VALUES (@conv, @user, @role, @now, @seq, @seq, @version)`,
    ),
    // Re-joining starts reading at the current end: history before it is not unread.
    rejoinMember: p<ConvUser & { role: number; now: number; seq: number; version: number }>(
      `UPDATE members SET removed = 0, removed_seq = 0, role = @role, joined_at = @now,
         read_seq = max(read_seq, @seq), delivered_seq = max(delivered_seq, @seq), mention_unread = 0,
         version = @version
       WHERE conversation_id = @conv AND user_id = @user AND removed = 1`,
    ),
    removeMember: p<ConvUser & { seq: number; version: number }>(
      `UPDATE members SET removed = 1, removed_seq = @seq, mention_unread = 0, version = @version
       WHERE conversation_id = @conv AND user_id = @user AND removed = 0`,
    ),
    updateMember: p<
      ConvUser & {
        role: number;
        speakMutedUntil: number;
        notificationsMuted: number;
        mutedUntil: number;
        version: number;
      }
    >(
      `UPDATE members SET role = @role, speak_muted_until = @speakMutedUntil,
         notifications_muted = @notificationsMuted, muted_until = @mutedUntil, version = @version
       WHERE conversation_id = @conv AND user_id = @user`,
    ),
    listMemberIds: pluck<[string], string>(
      'SELECT user_id FROM members WHERE conversation_id = ? AND removed = 0 ORDER BY user_id',
    ),
    listMembers: p<[string, string, number], MemberRow>(
      `SELECT * FROM members WHERE conversation_id = ? AND removed = 0 AND user_id > ? ORDER BY user_id LIMIT ?`,
    ),

    // Appends ------------------------------------------------------------------------------
    findByClientId: p<[string, string, string], MessageRow>(
      'SELECT * FROM messages WHERE conversation_id = ? AND sender_id = ? AND client_message_id = ?',
    ),
    insertMessage: p<{
      conv: string;
      seq: number;
      messageId: string;
      sender: string;
      device: string;
      clientId: string;
      time: number;
      type: number;
      content: Uint8Array;
    }>(
      `INSERT INTO messages (conversation_id, seq, message_id, sender_id, sender_device_id, client_message_id,
         server_time, type, content, recalled)
       VALUES (@conv, @seq, @messageId, @sender, @device, @clientId, @time, @type, @content, 0)`,
    ),
    // The sender has seen what it sent: its own messages never count as unread.
    senderCursors: p<ConvUser & { seq: number }>(
      `UPDATE members SET read_seq = max(read_seq, @seq), delivered_seq = max(delivered_seq, @seq), mention_unread = 0
       WHERE conversation_id = @conv AND user_id = @user AND removed = 0`,
    ),
    insertMention: p<ConvUser & { seq: number; sender: string }>(
      `INSERT OR IGNORE INTO mentions (conversation_id, user_id, seq, sender_id) VALUES (@conv, @user, @seq, @sender)`,
    ),
    mentionMember: p<ConvUser & { sender: string }>(
      `UPDATE members SET mention_unread = mention_unread + 1
       WHERE conversation_id = @conv AND user_id = @user AND user_id <> @sender AND removed = 0`,
    ),
    mentionAll: p<{ conv: string; sender: string }>(
      `UPDATE members SET mention_unread = mention_unread + 1
       WHERE conversation_id = @conv AND user_id <> @sender AND removed = 0`,
    ),
    recallMessage: p<[string, number]>(
      `UPDATE messages SET recalled = 1, content = x'' WHERE conversation_id = ? AND seq = ?`,
    ),
    mentionsOf: pluck<[string, number], string>('SELECT user_id FROM mentions WHERE conversation_id = ? AND seq = ?'),
    deleteMentionsOf: p<[string, number]>('DELETE FROM mentions WHERE conversation_id = ? AND seq = ?'),
    // Undo one counted mention of a recalled message, for members who had not read past it.
    unmentionMember: p<ConvUser & { seq: number; sender: string }>(
      `UPDATE members SET mention_unread = max(0, mention_unread - 1)
       WHERE conversation_id = @conv AND user_id = @user AND user_id <> @sender AND removed = 0 AND read_seq < @seq`,
    ),
    unmentionAll: p<{ conv: string; seq: number; sender: string }>(
      `UPDATE members SET mention_unread = max(0, mention_unread - 1)
       WHERE conversation_id = @conv AND user_id <> @sender AND removed = 0 AND read_seq < @seq`,
    ),

    // Reads --------------------------------------------------------------------------------
    getMessage: p<[string, number], MessageRow>('SELECT * FROM messages WHERE conversation_id = ? AND seq = ?'),
    range: p<[string, number, number, number], MessageRow>(
      'SELECT * FROM messages WHERE conversation_id = ? AND seq >= ? AND seq <= ? ORDER BY seq LIMIT ?',
    ),
    history: p<[string, number, number], MessageRow>(
      'SELECT * FROM messages WHERE conversation_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?',
    ),

    // Cursors ------------------------------------------------------------------------------
    // mention_unread becomes the exact count of mentioning messages (from others) past the new cursor.
    moveRead: p<ConvUser & { seq: number; version: number }>(
      `UPDATE members SET read_seq = @seq, delivered_seq = max(delivered_seq, @seq),
         mention_unread = (SELECT count(DISTINCT seq) FROM mentions
                           WHERE conversation_id = @conv AND user_id IN (@user, '@all') AND seq > @seq
                             AND sender_id <> @user),
         version = @version
       WHERE conversation_id = @conv AND user_id = @user`,
    ),
    moveDelivered: p<ConvUser & { seq: number; version: number }>(
      `UPDATE members SET delivered_seq = @seq, version = @version WHERE conversation_id = @conv AND user_id = @user`,
    ),

    // A user's view ------------------------------------------------------------------------
    state: p<[string, string], StateRow>(
      `SELECT ${STATE_COLUMNS} FROM members m JOIN conversations c ON c.id = m.conversation_id
       WHERE m.conversation_id = ? AND m.user_id = ?`,
    ),
    sync: p<{ user: string; since: number; limit: number }, StateRow>(
      `SELECT ${STATE_COLUMNS} FROM members m JOIN conversations c ON c.id = m.conversation_id
       WHERE m.user_id = @user AND ${EFFECTIVE_VERSION} > @since
       ORDER BY ${EFFECTIVE_VERSION}, m.conversation_id LIMIT @limit`,
    ),
    listFirst: p<{ user: string; limit: number }, StateRow>(
      `SELECT ${STATE_COLUMNS} FROM members m JOIN conversations c ON c.id = m.conversation_id
       WHERE m.user_id = @user AND m.removed = 0
       ORDER BY c.updated_at DESC, c.id LIMIT @limit`,
    ),
    listAfter: p<{ user: string; at: number; id: string; limit: number }, StateRow>(
      `SELECT ${STATE_COLUMNS} FROM members m JOIN conversations c ON c.id = m.conversation_id
       WHERE m.user_id = @user AND m.removed = 0 AND (c.updated_at < @at OR (c.updated_at = @at AND c.id > @id))
       ORDER BY c.updated_at DESC, c.id LIMIT @limit`,
    ),
    userVersion: pluck<[string], number>(
      `SELECT coalesce(max(${EFFECTIVE_VERSION}), 0) FROM members m JOIN conversations c ON c.id = m.conversation_id
         WHERE m.user_id = ?`,
    ),
    share: pluck<{ a: string; b: string }, number>(
      `SELECT EXISTS (SELECT 1 FROM members a JOIN members b ON b.conversation_id = a.conversation_id
                        WHERE a.user_id = @a AND a.removed = 0 AND b.user_id = @b AND b.removed = 0)`,
    ),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;
