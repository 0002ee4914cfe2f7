import { ParleyError } from '@parley/protocol';
import type pg from 'pg';
import { sqlState, storeError } from './connection.js';

/** Conflicts PostgreSQL resolves by aborting one transaction; running it again is correct. */
const CONFLICTS = new Set(['40P01', '40001', '23505']);

/** When `inTransaction` runs a transaction again. */
export interface RetryPolicy {
  /** Runs at most, the first included. */
  attempts: number;
  /** Also run again when the connection failed before BEGIN was answered (nothing was written). */
  retryBeforeBegin: boolean;
}

/**
 * Runs `fn` in a READ COMMITTED transaction on one pooled connection. A conflict PostgreSQL
 * aborted (deadlock, serialization failure, unique race) is run again, up to the policy's
 * attempts. A connection that failed any other way is discarded, never returned to the pool
 * mid-transaction, and the call rejects with `storeError`: after a lost COMMIT the outcome is
 * unknown.
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  target: string,
  policy: RetryPolicy,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    let client: pg.PoolClient | undefined;
    let begun = false;
    let reusable = true;
    try {
      client = await pool.connect();
      await client.query('BEGIN');
      begun = true;
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      const state = sqlState(err);
      // A ParleyError or an error PostgreSQL answered with leaves a working connection to roll back.
      if (client && begun && (err instanceof ParleyError || state !== undefined)) {
        reusable = await client.query('ROLLBACK').then(
          () => true,
          () => false,
        );
      } else {
        reusable = false;
      }
      const conflict = state !== undefined && CONFLICTS.has(state);
      const beforeBegin = policy.retryBeforeBegin && client !== undefined && !begun;
      if (attempt >= policy.attempts || !(conflict || beforeBegin)) throw storeError(err, target);
    } finally {
      client?.release(reusable ? undefined : true);
    }
  }
}
