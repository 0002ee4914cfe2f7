import { ErrorCode, ParleyError } from '@parley/protocol';
import type Database from 'better-sqlite3';
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
import { batchAppender } from './append.js';
import { type SqliteOptions, type SqliteSettings, openDatabase, readSettings } from './database.js';
import * as membership from './membership.js';
import { SCHEMA_VERSION, migrate, schemaVersion } from './migrations.js';
import { clampLimit, clampSeq, toConversation, toMember, toMessage } from './rows.js';
import { type Statements, prepareStatements } from './statements.js';
import * as views from './views.js';

/**
 * The embedded store: one SQLite file (or ':memory:') through better-sqlite3. Its calls are
 * synchronous, so each method runs to completion within one event-loop turn and in-process
 * callers never interleave; writes still take SQLite's write lock up front (IMMEDIATE) so that
 * other processes on the same file serialise too. A resolved `appendMessages` means the
 * transaction was committed with `synchronous = FULL`, i.e. fsynced.
 */
export class SqliteStore implements Store {
  readonly path: string;
  readonly #db: Database.Database;
  #sql: Statements | undefined;
  #append: ((batch: readonly AppendInput[]) => AppendResult[]) | undefined;
  readonly #tx: Database.Transaction<(fn: () => unknown) => unknown>;

  /** Opens (creating the parent directory) `path`, or an in-memory database for ':memory:'. */
  constructor(path: string, options: SqliteOptions = {}) {
    this.path = path;
    this.#db = openDatabase(path, options);
    this.#tx = this.#db.transaction((fn: () => unknown) => fn());
  }

  /**
   * The open connection, for modules that keep their own tables in the same file and read
   * these (the push queue: src/push/sqlite-push-store.ts). Calls are synchronous, so sharing
   * it never interleaves with this store's transactions.
   */
  get database(): Database.Database {
    return this.#db;
  }

  /** The connection's durability settings (journal mode, synchronous, ...), for checks and health. */
  settings(): SqliteSettings {
    return readSettings(this.#db);
  }

  migrate(): Promise<void> {
    return run(() => {
      migrate(this.#db);
      this.#prepare();
    });
  }

  close(): Promise<void> {
    return run(() => {
      if (this.#db.open) this.#db.close();
      this.#sql = undefined;
      this.#append = undefined;
    });
  }

  // Conversations and members ------------------------------------------------------------

  createConversation(input: NewConversation): Promise<{ conversation: ConversationRecord; created: boolean }> {
    return this.#write((sql) => membership.createConversation(sql, input));
  }

  getConversation(conversationId: string): Promise<ConversationRecord | undefined> {
    return this.#get((sql) => {
      const row = sql.getConversation.get(conversationId);
      return row ? toConversation(row) : undefined;
    });
  }

  updateConversation(conversationId: string, patch: ConversationPatch, now: number): Promise<ConversationRecord> {
    return this.#write((sql) => membership.updateConversation(sql, conversationId, patch, now));
  }

  getMember(conversationId: string, userId: string): Promise<MemberRecord | undefined> {
    return this.#get((sql) => {
      const row = sql.getMember.get(conversationId, userId);
      return row ? toMember(row) : undefined;
    });
  }

  listMemberIds(conversationId: string): Promise<string[]> {
    return this.#get((sql) => sql.listMemberIds.all(conversationId));
  }

  listMembers(conversationId: string, afterUserId: string, limit: number): Promise<MemberRecord[]> {
    return this.#get((sql) => sql.listMembers.all(conversationId, afterUserId, clampLimit(limit)).map(toMember));
  }

  addMembers(conversationId: string, members: NewMember[], memberCap: number, now: number): Promise<string[]> {
    return this.#write((sql) => membership.addMembers(sql, conversationId, members, memberCap, now));
  }

  removeMembers(conversationId: string, userIds: string[], now: number): Promise<string[]> {
    return this.#write((sql) => membership.removeMembers(sql, conversationId, userIds, now));
  }

  updateMember(conversationId: string, userId: string, patch: MemberPatch): Promise<MemberRecord> {
    return this.#write((sql) => membership.updateMember(sql, conversationId, userId, patch));
  }

  // Messages ------------------------------------------------------------------------------

  appendMessages(batch: AppendInput[]): Promise<AppendResult[]> {
    return run(() => {
      this.#statements();
      if (batch.length === 0) return [];
      if (!this.#append) throw notReady();
      return this.#append(batch);
    });
  }

  getMessage(conversationId: string, seq: number): Promise<StoredMessage | undefined> {
    return this.#get((sql) => {
      const row = sql.getMessage.get(conversationId, clampSeq(seq));
      return row ? toMessage(row) : undefined;
    });
  }

  getMessages(conversationId: string, fromSeq: number, toSeq: number, limit: number): Promise<StoredMessage[]> {
    return this.#get((sql) => {
      const to = clampSeq(toSeq) || Number.MAX_SAFE_INTEGER;
      return sql.range.all(conversationId, clampSeq(fromSeq), to, clampLimit(limit)).map(toMessage);
    });
  }

  getHistory(conversationId: string, beforeSeq: number, limit: number): Promise<StoredMessage[]> {
    return this.#get((sql) => {
      const before = clampSeq(beforeSeq) || Number.MAX_SAFE_INTEGER;
      return sql.history.all(conversationId, before, clampLimit(limit)).map(toMessage);
    });
  }

  // Cursors and sync ----------------------------------------------------------------------

  updateCursor(conversationId: string, userId: string, kind: CursorKind, seq: number): Promise<CursorResult> {
    return this.#write((sql) => views.updateCursor(sql, conversationId, userId, kind, seq));
  }

  syncConversations(userId: string, sinceVersion: number, limit: number): Promise<SyncPage> {
    return this.#read((sql) => views.syncConversations(sql, userId, sinceVersion, limit));
  }

  listConversations(
    userId: string,
    cursor: string,
    limit: number,
  ): Promise<{ items: ConversationState[]; nextCursor: string }> {
    return this.#read((sql) => views.listConversations(sql, userId, cursor, limit));
  }

  getConversationState(conversationId: string, userId: string): Promise<ConversationState | undefined> {
    return this.#read((sql) => views.conversationState(sql, conversationId, userId));
  }

  userVersion(userId: string): Promise<number> {
    return this.#get((sql) => sql.userVersion.get(userId) ?? 0);
  }

  shareConversation(userA: string, userB: string): Promise<boolean> {
    return this.#get((sql) => sql.share.get({ a: userA, b: userB }) === 1);
  }

  // Internals -----------------------------------------------------------------------------

  #statements(): Statements {
    if (this.#sql) return this.#sql;
    if (!this.#db.open) throw new ParleyError(ErrorCode.UNAVAILABLE, 'the store is closed');
    // Another process may have migrated the file; use it if its schema is current.
    if (schemaVersion(this.#db) !== SCHEMA_VERSION) throw notReady();
    return this.#prepare();
  }

  #prepare(): Statements {
    const sql = prepareStatements(this.#db);
    this.#sql = sql;
    this.#append = batchAppender(this.#db, sql);
    return sql;
  }

  /** A read of one statement, which is its own snapshot. */
  #get<T>(fn: (sql: Statements) => T): Promise<T> {
    return run(() => fn(this.#statements()));
  }

  /** Several reads that must see one snapshot (a deferred transaction takes no write lock). */
  #read<T>(fn: (sql: Statements) => T): Promise<T> {
    return run(() => {
      const sql = this.#statements();
      return this.#tx.deferred(() => fn(sql)) as T;
    });
  }

  /** A write takes the lock before its first read, so what it reads is what it updates. */
  #write<T>(fn: (sql: Statements) => T): Promise<T> {
    return run(() => {
      const sql = this.#statements();
      return this.#tx.immediate(() => fn(sql)) as T;
    });
  }
}

/** Runs synchronous work behind the async interface, turning a throw into a rejection. */
function run<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

function notReady(): ParleyError {
  return new ParleyError(ErrorCode.UNAVAILABLE, 'the store schema is not current: call migrate() first');
}
