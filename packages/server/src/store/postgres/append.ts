import { ErrorCode, pb } from '@parley/protocol';
import type pg from 'pg';
import type { AppendInput, AppendResult, StoredMessage } from '../types.js';
import { int } from './connection.js';
import { type MessageRow, toMessage } from './rows.js';

const ALL = '@all';
const INT32_MAX = 2 ** 31 - 1;

type Accepted = Extract<AppendResult, { ok: true }>;

/** A conversation's version as an item of the batch saw it: the locked row's, or that of a fresh item before it. */
type VersionRef = { stored: number } | { fresh: number };

interface Conversation {
  lastSeq: number;
  lastTime: number;
  version: VersionRef;
}

/** A message this batch stores, in input order. */
interface Fresh {
  input: AppendInput;
  message: StoredMessage;
  /** Its result, whose conversationVersion is filled in once versions are taken. */
  result: Accepted;
  /** Needs its own statements (mentions or a recall) rather than the batch's set-based ones. */
  special: boolean;
  /** The recall target to mark, with its sender, if it is not recalled already. */
  recall?: { seq: number; sender: string };
}

/**
 * Runs a hot statement under a fixed name, so each connection parses and plans it once. The
 * texts are constants: one name never stands for two texts.
 */
function prepared<R extends pg.QueryResultRow = pg.QueryResultRow>(
  client: pg.ClientBase,
  name: string,
  text: string,
  values: unknown[],
): Promise<pg.QueryResult<R>> {
  return client.query<R>({ name: `parley_${name}`, text, values });
}

const fail = (code: ErrorCode, message: string): AppendResult => ({ ok: false, code, message });
const key = (conv: string, sender: string, clientId: string): string => JSON.stringify([conv, sender, clientId]);
const at = (conv: string, seq: number): string => `${String(seq)}:${conv}`;

/** Why PostgreSQL would refuse the item's values (the item fails alone), or undefined. */
function inputProblem(input: AppendInput): string | undefined {
  const texts = [input.conversationId, input.messageId, input.senderId, input.senderDeviceId, input.clientMessageId];
  if (texts.some((t) => typeof t !== 'string' || t.includes('\0'))) return 'ids must be text without NUL characters';
  if (!Number.isSafeInteger(input.serverTime)) return 'serverTime must be an integer';
  if (!Number.isInteger(input.type) || Math.abs(input.type) > INT32_MAX) return 'type must be a 32-bit integer';
  if (!(input.content instanceof Uint8Array)) return 'content must be bytes';
  if (!Array.isArray(input.mentions)) return 'mentions must be a list';
  return undefined;
}

/**
 * Writes a batch inside the caller's transaction with a fixed number of round trips for plain
 * messages: lock the batch's conversations (sorted by id, so two batches never deadlock), look
 * up resends and reused message ids, assign seqs in memory from the locked `last_seq`, insert
 * every new message in one statement, move senders' cursors, take versions (the last lock),
 * advance the conversations. Messages with mentions or recalls add a few statements each, run
 * in input order so the result equals appending the items one by one. An item that is bad
 * fails alone; a database error fails the whole batch (the caller rolls back).
 */
export async function appendBatch(client: pg.ClientBase, batch: readonly AppendInput[]): Promise<AppendResult[]> {
  const results = new Array<AppendResult | undefined>(batch.length);
  const valid: number[] = [];
  batch.forEach((input, i) => {
    const problem = inputProblem(input);
    if (problem) results[i] = fail(ErrorCode.INVALID_ARGUMENT, `message rejected by the store: ${problem}`);
    else valid.push(i);
  });
  const convs = await lockConversations(client, [...new Set(valid.map((i) => batch[i]?.conversationId ?? ''))]);
  const live = valid.filter((i) => {
    if (convs.has(batch[i]?.conversationId ?? '')) return true;
    results[i] = fail(ErrorCode.NOT_FOUND, 'no such conversation');
    return false;
  });
  const inputs = live.map((i) => batch[i] as AppendInput);
  const { resent, usedIds } = await findExisting(client, inputs);
  const targets = await findRecallTargets(client, inputs);

  // Assign seqs and decide each item, in input order, as if they were appended one by one.
  const fresh: Fresh[] = [];
  const freshByKey = new Map<string, StoredMessage>();
  const freshIds = new Set<string>();
  const recalledNow = new Set<string>();
  const duplicates: { result: Accepted; version: VersionRef }[] = [];
  for (const i of live) {
    const input = batch[i] as AppendInput;
    const conv = convs.get(input.conversationId) as Conversation;
    const k = key(input.conversationId, input.senderId, input.clientMessageId);
    const original = resent.get(k) ?? freshByKey.get(k);
    if (original) {
      const result: Accepted = { ok: true, message: original, duplicate: true, conversationVersion: 0 };
      results[i] = result;
      duplicates.push({ result, version: conv.version });
      continue;
    }
    if (usedIds.has(input.messageId) || freshIds.has(input.messageId)) {
      results[i] = fail(ErrorCode.INVALID_ARGUMENT, 'message rejected by the store: message id already used');
      continue;
    }
    const seq = conv.lastSeq + 1;
    let recall: Fresh['recall'];
    if (input.type === pb.MessageType.RECALL) {
      const target = input.recallTargetSeq ?? 0;
      if (!Number.isSafeInteger(target) || target < 1) {
        results[i] = fail(ErrorCode.INVALID_ARGUMENT, 'a RECALL needs the seq of an earlier message');
        continue;
      }
      const row = target < seq ? targets.get(at(input.conversationId, target)) : undefined;
      if (!row) {
        results[i] = fail(ErrorCode.NOT_FOUND, 'no message with that seq');
        continue;
      }
      const where = at(input.conversationId, target);
      if (!row.recalled && !recalledNow.has(where)) {
        recalledNow.add(where);
        recall = { seq: target, sender: row.sender };
      }
    }
    const message: StoredMessage = {
      conversationId: input.conversationId,
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
    const result: Accepted = { ok: true, message, duplicate: false, conversationVersion: 0 };
    results[i] = result;
    conv.lastSeq = seq;
    conv.lastTime = Math.max(conv.lastTime, input.serverTime);
    conv.version = { fresh: fresh.length };
    fresh.push({ input, message, result, special: recall !== undefined || input.mentions.length > 0, recall });
    freshByKey.set(k, message);
    freshIds.add(input.messageId);
    // An in-batch message may be the target of a later RECALL in the same batch.
    targets.set(at(input.conversationId, seq), { sender: input.senderId, recalled: false });
  }

  let first = 0;
  if (fresh.length > 0) {
    if (fresh.some((f) => f.special)) {
      await insertMessages(client, fresh, false);
      await applyMemberEffects(client, fresh);
    } else {
      await insertMessages(client, fresh, true);
    }
    first = await advanceConversations(client, convs, fresh.length);
  }
  fresh.forEach((f, n) => (f.result.conversationVersion = first + n));
  for (const d of duplicates) {
    d.result.conversationVersion = 'stored' in d.version ? d.version.stored : first + d.version.fresh;
  }
  return results as AppendResult[];
}

/** Row-locks the conversations in id order and reads their seq counters. */
async function lockConversations(client: pg.ClientBase, ids: string[]): Promise<Map<string, Conversation>> {
  if (ids.length === 0) return new Map();
  const { rows } = await prepared<{ id: string; last_seq: string; updated_at: string; version: string }>(
    client,
    'append_lock',
    'SELECT id, last_seq, updated_at, version FROM conversations WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE',
    [ids.sort()],
  );
  return new Map(
    rows.map((r) => [
      r.id,
      { lastSeq: int(r.last_seq), lastTime: int(r.updated_at), version: { stored: int(r.version) } },
    ]),
  );
}

/**
 * Messages already stored under the items' (conversation, sender, client message id), and
 * message ids already taken (a caller bug: that item fails alone instead of the batch).
 */
async function findExisting(
  client: pg.ClientBase,
  inputs: readonly AppendInput[],
): Promise<{ resent: Map<string, StoredMessage>; usedIds: Set<string> }> {
  if (inputs.length === 0) return { resent: new Map(), usedIds: new Set() };
  const { rows } = await prepared<MessageRow & { resend: boolean }>(
    client,
    'append_existing',
    // One index probe per item (LIMIT 1 keeps the planner from turning the probes into a hash
    // join over the whole table); both keys are unique, so a probe finds at most one row.
    `SELECT m.*, true AS resend FROM unnest($1::text[], $2::text[], $3::text[]) AS k (conv, sender, client_id)
       CROSS JOIN LATERAL (SELECT * FROM messages
                           WHERE conversation_id = k.conv AND sender_id = k.sender AND client_message_id = k.client_id
                           LIMIT 1) m
     UNION ALL
     SELECT m.*, false FROM unnest($4::text[]) AS k (id)
       CROSS JOIN LATERAL (SELECT * FROM messages WHERE message_id = k.id LIMIT 1) m`,
    [
      inputs.map((x) => x.conversationId),
      inputs.map((x) => x.senderId),
      inputs.map((x) => x.clientMessageId),
      inputs.map((x) => x.messageId),
    ],
  );
  const resent = new Map<string, StoredMessage>();
  const usedIds = new Set<string>();
  for (const r of rows) {
    if (r.resend) resent.set(key(r.conversation_id, r.sender_id, r.client_message_id), toMessage(r));
    else usedIds.add(r.message_id);
  }
  return { resent, usedIds };
}

async function findRecallTargets(
  client: pg.ClientBase,
  inputs: readonly AppendInput[],
): Promise<Map<string, { sender: string; recalled: boolean }>> {
  const recalls = inputs.filter(
    (x) => x.type === pb.MessageType.RECALL && Number.isSafeInteger(x.recallTargetSeq) && (x.recallTargetSeq ?? 0) > 0,
  );
  if (recalls.length === 0) return new Map();
  const { rows } = await client.query<{ conversation_id: string; seq: string; sender_id: string; recalled: boolean }>(
    `SELECT m.conversation_id, m.seq, m.sender_id, m.recalled FROM unnest($1::text[], $2::bigint[]) AS k (conv, seq)
       CROSS JOIN LATERAL (SELECT * FROM messages WHERE conversation_id = k.conv AND seq = k.seq LIMIT 1) m`,
    [recalls.map((x) => x.conversationId), recalls.map((x) => x.recallTargetSeq ?? 0)],
  );
  return new Map(rows.map((r) => [at(r.conversation_id, int(r.seq)), { sender: r.sender_id, recalled: r.recalled }]));
}

/**
 * Inserts every new message in one statement; with `moveCursors` (a batch without mentions or
 * recalls) the same statement also moves the senders' cursors, saving a round trip.
 */
async function insertMessages(client: pg.ClientBase, fresh: readonly Fresh[], moveCursors: boolean): Promise<void> {
  const m = fresh.map((f) => f.message);
  const insert = `INSERT INTO messages (conversation_id, seq, message_id, sender_id, sender_device_id,
       client_message_id, server_time, type, content)
     SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[],
       $7::bigint[], $8::integer[], $9::bytea[])`;
  const [name, text] = moveCursors
    ? ['append_insert_cursors', `WITH inserted AS (${insert}) ${SENDER_CURSORS('$1', '$4', '$2')}`]
    : ['append_insert', insert];
  await prepared(client, name, text, [
    m.map((x) => x.conversationId),
    m.map((x) => x.seq),
    m.map((x) => x.messageId),
    m.map((x) => x.senderId),
    m.map((x) => x.senderDeviceId),
    m.map((x) => x.clientMessageId),
    m.map((x) => x.serverTime),
    m.map((x) => x.type),
    m.map((x) => x.content),
  ]);
}

/**
 * Senders' cursors, mention counts and recalls, in input order: runs of plain messages share
 * one statement (moving a sender's cursors to its highest seq is the same as moving them once
 * per message); a message with mentions or a recall is applied on its own, between the runs.
 */
async function applyMemberEffects(client: pg.ClientBase, fresh: readonly Fresh[]): Promise<void> {
  let run: StoredMessage[] = [];
  for (const f of fresh) {
    if (!f.special) {
      run.push(f.message);
      continue;
    }
    await moveSenderCursors(client, [...run, f.message]);
    run = [];
    await recordMentions(client, f.message, f.input.mentions);
    if (f.recall) await recall(client, f.message.conversationId, f.recall.seq, f.recall.sender);
  }
  if (run.length > 0) await moveSenderCursors(client, run);
}

/**
 * The sender has seen what it sent: its own messages never count as unread. Takes the
 * parameter numbers of the conversation, sender and seq arrays.
 */
const SENDER_CURSORS = (conv: string, sender: string, seq: string) =>
  `UPDATE members m SET read_seq = greatest(m.read_seq, k.seq), delivered_seq = greatest(m.delivered_seq, k.seq),
     mention_unread = 0
   FROM (SELECT conv, sender, max(seq) AS seq
         FROM unnest(${conv}::text[], ${sender}::text[], ${seq}::bigint[]) AS u (conv, sender, seq)
         GROUP BY conv, sender) AS k
   WHERE m.conversation_id = k.conv AND m.user_id = k.sender AND NOT m.removed`;

async function moveSenderCursors(client: pg.ClientBase, messages: readonly StoredMessage[]): Promise<void> {
  await prepared(client, 'append_cursors', SENDER_CURSORS('$1', '$2', '$3'), [
    messages.map((x) => x.conversationId),
    messages.map((x) => x.senderId),
    messages.map((x) => x.seq),
  ]);
}

/** Counts the message in mention_unread of mentioned active members other than the sender. */
async function recordMentions(client: pg.ClientBase, m: StoredMessage, mentions: readonly unknown[]): Promise<void> {
  const users = new Set(
    mentions.filter((u): u is string => typeof u === 'string' && u !== m.senderId && !u.includes('\0')),
  );
  if (users.size === 0) return;
  const args = [m.conversationId, m.senderId, m.seq];
  if (users.has(ALL)) {
    await client.query(
      `WITH counted AS (UPDATE members SET mention_unread = mention_unread + 1
                        WHERE conversation_id = $1 AND user_id <> $2 AND NOT removed)
       INSERT INTO mentions (conversation_id, user_id, seq, sender_id) VALUES ($1, '${ALL}', $3, $2)
       ON CONFLICT DO NOTHING`,
      args,
    );
    return;
  }
  // Only active members count, and only they get a row that a later recount would see.
  await client.query(
    `WITH counted AS (UPDATE members SET mention_unread = mention_unread + 1
                      WHERE conversation_id = $1 AND user_id = ANY($4::text[]) AND user_id <> $2 AND NOT removed
                      RETURNING user_id)
     INSERT INTO mentions (conversation_id, user_id, seq, sender_id) SELECT $1, user_id, $3, $2 FROM counted
     ON CONFLICT DO NOTHING`,
    [...args, [...users]],
  );
}

/** Marks the target recalled, drops its content and takes it out of unread mention counts. */
async function recall(client: pg.ClientBase, conv: string, seq: number, sender: string): Promise<void> {
  await client.query(
    `WITH marked AS (UPDATE messages SET recalled = true, content = '\\x'::bytea WHERE conversation_id = $1 AND seq = $2),
          gone AS (DELETE FROM mentions WHERE conversation_id = $1 AND seq = $2 RETURNING user_id)
     UPDATE members m SET mention_unread = greatest(0, m.mention_unread - 1)
     WHERE m.conversation_id = $1 AND m.user_id <> $3 AND NOT m.removed AND m.read_seq < $2
       AND (EXISTS (SELECT 1 FROM gone WHERE user_id = '${ALL}') OR m.user_id IN (SELECT user_id FROM gone))`,
    [conv, seq, sender],
  );
}

/**
 * Takes `count` versions (the counter row is the last lock this transaction takes: see
 * versions.ts) and moves each conversation's seq counter, activity time and version to its
 * last new message, in one statement. Returns the first version taken.
 */
async function advanceConversations(
  client: pg.ClientBase,
  convs: ReadonlyMap<string, Conversation>,
  count: number,
): Promise<number> {
  const moved = [...convs].filter(([, c]) => 'fresh' in c.version);
  const { rows } = await prepared<{ first: string }>(
    client,
    'append_advance',
    `WITH v AS (UPDATE counters SET value = value + $5 WHERE name = 'version' RETURNING value - $5 + 1 AS first)
     UPDATE conversations c SET last_seq = k.seq, updated_at = greatest(c.updated_at, k.time), version = v.first + k.nth
     FROM v, unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) AS k (id, seq, time, nth)
     WHERE c.id = k.id
     RETURNING v.first`,
    [
      moved.map(([id]) => id),
      moved.map(([, c]) => c.lastSeq),
      moved.map(([, c]) => c.lastTime),
      moved.map(([, c]) => ('fresh' in c.version ? c.version.fresh : 0)),
      count,
    ],
  );
  if (rows.length !== moved.length) throw new Error('a locked conversation vanished inside its own transaction');
  return int(rows[0]?.first);
}
