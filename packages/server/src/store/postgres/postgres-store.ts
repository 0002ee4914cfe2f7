import { ErrorCode, ParleyError } from '@parley/protocol';
import type pg from 'pg';
import { clampLimit, clampSeq } from '../sqlite/rows.js';
import type {
  AppendInput,
  AppendResult,
  ConversationPatch,
  ConversationRecord,
  ConversationState,
  CursorKind,
  CursorResult,
  MemberPatch,
  MemberRecord,
  NewConversation,
  NewMember,
  Store,
  StoredMessage,
  SyncPage,
} from '../types.js';
import { appendBatch } from './append.js';
import {
  type ConnectionSettings,
  type PostgresOptions,
  createPool,
  parseConnection,
  storeError,
} from './connection.js';
import * as membership from './membership.js';
import { SCHEMA_VERSION, migrate, schemaVersion } from './migrations.js';
import { type ConversationRow, type MemberRow, type MessageRow, toConversation, toMember, toMessage } from './rows.js';
import { type RetryPolicy, inTransaction } from './transaction.js';
import * as views from './views.js';

/** How `#transaction` runs a write again (see there). */
const RETRY: RetryPolicy = { attempts: 3, retryBeforeBegin: true };

/**
 * The cluster store: PostgreSQL through a node-postgres pool, shared by every node. Writes run
 * in READ COMMITTED transactions that row-lock what they change; seqs come from the locked
 * conversation row, so nodes appending to one conversation queue on that row and seqs stay
 * gapless. A resolved `appendMessages` means PostgreSQL reported the COMMIT (durable under its
 * `synchronous_commit`, which must not be `off`). When the database is unreachable or drops a
 * connection mid-batch, calls reject with UNAVAILABLE and nothing is acked; the pool opens
 * fresh connections on later calls, so the store recovers when the database returns.
 */
export class PostgresStore implements Store {
  readonly #settings: ConnectionSettings;
  readonly #pool: pg.Pool;
  #ready = false;
  #closing: Promise<void> | undefined;

  /** Validates the URL (INVALID_ARGUMENT if it cannot work); connects on first use. */
  constructor(options: PostgresOptions | string) {
    const opts = typeof options === 'string' ? { url: options } : options;
    this.#settings = parseConnection(opts);
    this.#pool = createPool(this.#settings, opts);
  }

  /** The schema the tables live in (undefined: the connection's default search path). */
  get schema(): string | undefined {
    return this.#settings.schema;
  }

  /** Where the store connects (host:port/database, no credentials), for logs. */
  get target(): string {
    return this.#settings.target;
  }

  /**
   * The store's connection pool, shared by the PostgresPushStore whose tables sit beside the
   * store's (as `SqliteStore.database` serves the SqlitePushStore). Closed by `close()`.
   */
  get pool(): pg.Pool {
    return this.#pool;
  }

  async migrate(): Promise<void> {
    this.#open();
    let client: pg.PoolClient | undefined;
    try {
      client = await this.#pool.connect();
      await migrate(client, this.#settings.schema);
      client.release();
      this.#ready = true;
    } catch (err) {
      client?.release(true);
      throw storeError(err, this.#settings.target);
    }
  }

  close(): Promise<void> {
    this.#ready = false;
    return (this.#closing ??= this.#pool.end());
  }

  // Conversations and members ------------------------------------------------------------

  createConversation(input: NewConversation): Promise<{ conversation: ConversationRecord; created: boolean }> {
    return this.#transaction((c) => membership.createConversation(c, input));
  }

  getConversation(conversationId: string): Promise<ConversationRecord | undefined> {
    return this.#read(async (db) => {
      const { rows } = await db.query<ConversationRow>('SELECT * FROM conversations WHERE id = $1', [conversationId]);
      return rows[0] ? toConversation(rows[0]) : undefined;
    });
  }

  updateConversation(conversationId: string, patch: ConversationPatch, now: number): Promise<ConversationRecord> {
    return this.#transaction((c) => membership.updateConversation(c, conversationId, patch, now));
  }

  getMember(conversationId: string, userId: string): Promise<MemberRecord | undefined> {
    return this.#read(async (db) => {
      const { rows } = await db.query<MemberRow>('SELECT * FROM members WHERE conversation_id = $1 AND user_id = $2', [
        conversationId,
        userId,
      ]);
      return rows[0] ? toMember(rows[0]) : undefined;
    });
  }

  listMemberIds(conversationId: string): Promise<string[]> {
    return this.#read(async (db) => {
      const { rows } = await db.query<{ user_id: string }>(
        'SELECT user_id FROM members WHERE conversation_id = $1 AND NOT removed ORDER BY user_id',
        [conversationId],
      );
      return rows.map((r) => r.user_id);
    });
  }

  listMembers(conversationId: string, afterUserId: string, limit: number): Promise<MemberRecord[]> {
    return this.#read(async (db) => {
      const { rows } = await db.query<MemberRow>(
        `SELECT * FROM members WHERE conversation_id = $1 AND NOT removed AND user_id > $2 ORDER BY user_id LIMIT $3`,
        [conversationId, afterUserId, clampLimit(limit)],
      );
      return rows.map(toMember);
    });
  }

  addMembers(conversationId: string, members: NewMember[], memberCap: number, now: number): Promise<string[]> {
    return this.#transaction((c) => membership.addMembers(c, conversationId, members, memberCap, now));
  }

  removeMembers(conversationId: string, userIds: string[], now: number): Promise<string[]> {
    return this.#transaction((c) => membership.removeMembers(c, conversationId, userIds, now));
  }

  updateMember(conversationId: string, userId: string, patch: MemberPatch): Promise<MemberRecord> {
    return this.#transaction((c) => membership.updateMember(c, conversationId, userId, patch));
  }

  // Messages ------------------------------------------------------------------------------

  appendMessages(batch: AppendInput[]): Promise<AppendResult[]> {
    if (batch.length === 0) return this.#read(() => Promise.resolve([]));
    return this.#transaction((c) => appendBatch(c, batch));
  }

  getMessage(conversationId: string, seq: number): Promise<StoredMessage | undefined> {
    return this.#read(async (db) => {
      const { rows } = await db.query<MessageRow>('SELECT * FROM messages WHERE conversation_id = $1 AND seq = $2', [
        conversationId,
        clampSeq(seq),
      ]);
      return rows[0] ? toMessage(rows[0]) : undefined;
    });
  }

  getMessages(conversationId: string, fromSeq: number, toSeq: number, limit: number): Promise<StoredMessage[]> {
    return this.#read(async (db) => {
      const to = clampSeq(toSeq) || Number.MAX_SAFE_INTEGER;
      const { rows } = await db.query<MessageRow>(
        'SELECT * FROM messages WHERE conversation_id = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq LIMIT $4',
        [conversationId, clampSeq(fromSeq), to, clampLimit(limit)],
      );
      return rows.map(toMessage);
    });
  }

  getHistory(conversationId: string, beforeSeq: number, limit: number): Promise<StoredMessage[]> {
    return this.#read(async (db) => {
      const before = clampSeq(beforeSeq) || Number.MAX_SAFE_INTEGER;
      const { rows } = await db.query<MessageRow>(
        'SELECT * FROM messages WHERE conversation_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3',
        [conversationId, before, clampLimit(limit)],
      );
      return rows.map(toMessage);
    });
  }

  // Cursors and sync ----------------------------------------------------------------------

  updateCursor(conversationId: string, userId: string, kind: CursorKind, seq: number): Promise<CursorResult> {
    return this.#transaction((c) => views.updateCursor(c, conversationId, userId, kind, seq));
  }

  syncConversations(userId: string, sinceVersion: number, limit: number): Promise<SyncPage> {
    return this.#read((db) => views.syncConversations(db, userId, sinceVersion, limit));
  }

  listConversations(
    userId: string,
    cursor: string,
    limit: number,
  ): Promise<{ items: ConversationState[]; nextCursor: string }> {
    return this.#read((db) => views.listConversations(db, userId, cursor, limit));
  }

  getConversationState(conversationId: string, userId: string): Promise<ConversationState | undefined> {
    return this.#read((db) => views.conversationState(db, conversationId, userId));
  }

  userVersion(userId: string): Promise<number> {
    return this.#read((db) => views.userVersion(db, userId));
  }

  shareConversation(userA: string, userB: string): Promise<boolean> {
    return this.#read((db) => views.shareConversation(db, userA, userB));
  }

  // Internals -----------------------------------------------------------------------------

  #open(): void {
    if (this.#closing) throw new ParleyError(ErrorCode.UNAVAILABLE, 'the store is closed');
  }

  /** Another node may have migrated the schema; use it once its version is current. */
  async #ensureReady(): Promise<void> {
    this.#open();
    if (this.#ready) return;
    const client = await this.#pool.connect();
    let version: number;
    try {
      version = await schemaVersion(client);
      client.release();
    } catch (err) {
      client.release(true);
      throw err;
    }
    if (version !== SCHEMA_VERSION) {
      throw new ParleyError(ErrorCode.UNAVAILABLE, 'the store schema is not current: call migrate() first');
    }
    this.#ready = true;
  }

  /** One statement (or a few that need no common snapshot) on any pooled connection. */
  async #read<T>(fn: (db: pg.Pool) => Promise<T>): Promise<T> {
    try {
      await this.#ensureReady();
      return await fn(this.#pool);
    } catch (err) {
      throw storeError(err, this.#settings.target);
    }
  }

  /**
   * Runs `fn` in a transaction on one connection. A conflict PostgreSQL aborted (deadlock,
   * unique race) is run again; a connection that failed before BEGIN was answered is replaced
   * once. A connection that failed any other way is discarded, never returned to the pool
   * mid-transaction, and the call rejects: after a lost COMMIT the outcome is unknown, which
   * is why nothing is acked and a resend is deduplicated.
   */
  async #transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    try {
      await this.#ensureReady();
    } catch (err) {
      throw storeError(err, this.#settings.target);
    }
    return inTransaction(this.#pool, this.#settings.target, RETRY, fn);
  }
}
