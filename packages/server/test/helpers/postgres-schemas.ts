// Fresh PostgreSQL schemas for tests on the machine's shared database: names no other run uses,
// each store's tables in one of them, all dropped when the test file ends.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { POSTGRES, requireService } from './services.js';

export const POSTGRES_TEST_URL = process.env.PARLEY_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** `false` when the test database answers; else a skip message (or a throw in CI), like requireService. */
export function requireTestPostgres(): Promise<false | string> {
  const target = new URL(POSTGRES_TEST_URL);
  return requireService({ ...POSTGRES, host: target.hostname, port: Number(target.port || 5432) });
}

/** `base` with `?schema=`: the store keeps its tables in that schema. */
export function schemaUrl(schema: string, base = POSTGRES_TEST_URL): string {
  const url = new URL(base);
  url.searchParams.set('schema', schema);
  return url.toString();
}

/** Schema names of this run under `prefix`; `dropAll` removes every one handed out. */
export class TestSchemas {
  /** This run's tag, in every name it hands out. */
  readonly run = randomUUID().slice(0, 8);
  readonly #names: string[] = [];

  constructor(private readonly prefix: string) {}

  /** A schema name no other run uses. */
  fresh(): string {
    const name = `${this.prefix}_${this.run}_${String(this.#names.length + 1)}`;
    this.#names.push(name);
    return name;
  }

  async dropAll(): Promise<void> {
    const client = new pg.Client({ connectionString: POSTGRES_TEST_URL });
    await client.connect();
    try {
      for (const s of this.#names) {
        // Retried: a drop can lose a deadlock against another run's DDL on the shared catalog.
        for (let attempt = 1; ; attempt++) {
          try {
            await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
            break;
          } catch (err) {
            if (attempt >= 5) throw err;
            await new Promise((r) => setTimeout(r, 100 * attempt));
          }
        }
      }
    } finally {
      await client.end();
    }
  }
}
