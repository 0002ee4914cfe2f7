import type pg from 'pg';
import { int } from './connection.js';

/**
 * Takes `n` fresh values from the store-wide version counter and returns the first; the values
 * are first .. first + n - 1. The UPDATE row-locks the counter until the transaction ends, so
 * transactions that take versions commit in version order, which is what makes "a sync never
 * sees a version before every smaller one is committed" hold across nodes.
 *
 * Lock order, which keeps writers free of deadlocks: conversation rows (sorted by id), then
 * member rows, then this counter LAST. Callers lock what they will write before calling this.
 */
export async function takeVersions(client: pg.ClientBase, n: number): Promise<number> {
  const { rows } = await client.query<{ value: string }>(
    `UPDATE counters SET value = value + $1 WHERE name = 'version' RETURNING value`,
    [n],
  );
  return int(rows[0]?.value) - n + 1;
}
