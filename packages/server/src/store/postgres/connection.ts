import { ErrorCode, ParleyError } from '@parley/protocol';
import pg from 'pg';

/** Settings of the PostgreSQL store; every field but `url` has a default. */
export interface PostgresOptions {
  /**
   * `postgres://` or `postgresql://` URL as libpq and node-postgres read it. Two query
   * parameters are the store's own and are removed before connecting:
   * `schema=NAME` (tables live in that schema, created by `migrate()`; default: the
   * connection's default search path, normally `public`) and `pool_size=N`.
   */
  url: string;
  /** Most connections this store holds open. Default 10 (or the URL's `pool_size`). */
  poolSize?: number;
  /** How long to wait for a new connection before the call fails UNAVAILABLE. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** A query that gets no answer for this long fails UNAVAILABLE and its connection is dropped. Default 30000 ms. */
  queryTimeoutMs?: number;
}

export interface ConnectionSettings {
  /** node-postgres connection string, without the store's own parameters. */
  connectionString: string;
  /** Schema named in the URL, or undefined for the connection's default. */
  schema: string | undefined;
  poolSize: number;
  /** host:port/database, for messages (never the password). */
  target: string;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const MAX_POOL = 1000;

function invalid(message: string): ParleyError {
  return new ParleyError(ErrorCode.INVALID_ARGUMENT, `invalid PostgreSQL store URL: ${message}`);
}

/** Reads and checks the URL; refuses what cannot work with INVALID_ARGUMENT before any connection. */
export function parseConnection(options: PostgresOptions): ConnectionSettings {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw invalid('not a URL (expected postgres://USER@HOST:PORT/DATABASE)');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw invalid(`scheme "${url.protocol}" is not postgres: or postgresql:`);
  }
  if (url.hostname === '' && !url.searchParams.has('host')) throw invalid('no host');
  const schema = url.searchParams.get('schema') ?? undefined;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw invalid(`schema "${schema}" must be a lower-case SQL identifier (a-z, 0-9, _; at most 63)`);
  }
  const poolParam = url.searchParams.get('pool_size');
  const poolSize = options.poolSize ?? (poolParam === null ? 10 : Number(poolParam));
  if (!Number.isSafeInteger(poolSize) || poolSize < 1 || poolSize > MAX_POOL) {
    throw invalid(`pool size must be an integer in 1..${String(MAX_POOL)}`);
  }
  url.searchParams.delete('schema');
  url.searchParams.delete('pool_size');
  const database = decodeURIComponent(url.pathname.slice(1)) || '(default)';
  return {
    connectionString: url.toString(),
    schema,
    poolSize,
    target: `${url.hostname}:${url.port || '5432'}/${database}`,
  };
}

/**
 * A pool that never crashes the process: an idle connection that dies (database restart,
 * network cut) is dropped by the pool and replaced on the next checkout, so the store
 * recovers by itself when the database returns.
 */
export function createPool(settings: ConnectionSettings, options: PostgresOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: settings.connectionString,
    max: settings.poolSize,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    query_timeout: options.queryTimeoutMs ?? 30_000,
    // A node that vanished mid-transaction must not hold the version counter's lock for long.
    idle_in_transaction_session_timeout: 15_000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    application_name: 'parley',
    ...(settings.schema ? { options: `-c search_path=${settings.schema}` } : {}),
  });
  const ignore = () => {
    // Callers see the failure on their own queries, and the pool discards the connection.
  };
  // An 'error' event without a listener would crash the process: the pool listens while a
  // connection is idle, this listener covers the time it is checked out.
  pool.on('error', ignore);
  pool.on('connect', (client) => client.on('error', ignore));
  return pool;
}

/** SQLSTATE classes and codes that mean "could not talk to the database": worth a retry. */
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300', '40001', '40P01', '55P03', '57014', '25P03']);
const UNAVAILABLE_CLASSES = new Set(['08', '28', '3D', '53']);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
const NETWORK_MESSAGE = /connection|terminated|timeout|not queryable|ended/i;

/** The SQLSTATE of an error the database answered with, if it is one. */
export function sqlState(err: unknown): string | undefined {
  return err instanceof pg.DatabaseError ? err.code : undefined;
}

/** Whether `err` says the database was unreachable, went away, or refused for now. */
export function isUnavailable(err: unknown): boolean {
  const state = sqlState(err);
  if (state !== undefined) return UNAVAILABLE_STATES.has(state) || UNAVAILABLE_CLASSES.has(state.slice(0, 2));
  if (!(err instanceof Error)) return false;
  if ('code' in err && typeof err.code === 'string' && NETWORK_CODES.has(err.code)) return true;
  if (err instanceof AggregateError) return err.errors.some(isUnavailable);
  return NETWORK_MESSAGE.test(err.message);
}

/**
 * The error a store call rejects with: ParleyErrors pass through; an unreachable or departed
 * database is UNAVAILABLE (retryable: nothing was acked, and a resend is deduplicated);
 * anything else is INTERNAL.
 */
export function storeError(err: unknown, target: string): ParleyError {
  if (err instanceof ParleyError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  if (isUnavailable(err)) {
    return new ParleyError(ErrorCode.UNAVAILABLE, `PostgreSQL at ${target} is unavailable: ${detail}`, { cause: err });
  }
  return new ParleyError(ErrorCode.INTERNAL, `PostgreSQL store error: ${detail}`, { cause: err });
}

/** Checked bigint → number: pg returns int8 as text so that no precision is lost silently. */
export function int(value: string | number | null | undefined): number {
  if (value === null || value === undefined) return 0;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(n)) {
    throw new ParleyError(ErrorCode.INTERNAL, `stored integer ${String(value)} is beyond 2^53`);
  }
  return n;
}
