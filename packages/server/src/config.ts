import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { pushConfigSchema } from './push/config.js';

/**
 * Server configuration. Sources, strongest first: command-line flags, `PARLEY_*` environment
 * variables, a JSON config file (`--config FILE`, `PARLEY_CONFIG`, or ./parley.config.json),
 * then these defaults. Every key has an environment name: `tcpPort` is `PARLEY_TCP_PORT`,
 * `limits.loginTimeoutMs` is `PARLEY_LIMITS_LOGIN_TIMEOUT_MS`.
 */
const port = z.coerce.number().int().min(0).max(65535);
const ms = z.coerce.number().int().min(0);
const bool = z.preprocess(
  (v) => (typeof v === 'string' ? !['false', '0', 'no', 'off', ''].includes(v) : v),
  z.boolean(),
);

export const configSchema = z.object({
  /** development: dev token endpoint on, pretty logs. production: dev endpoint off. */
  mode: z.enum(['development', 'production']).default('development'),
  host: z.string().min(1).default('127.0.0.1'),
  tcpPort: port.default(7100),
  tlsPort: port.default(7101),
  httpPort: port.default(7180),
  /** Turn a gateway off without picking a port. */
  tcp: bool.default(true),
  tls: bool.default(true),
  dataDir: z.string().min(1).default('./data'),
  /** sqlite:PATH or postgres://... ; default sqlite:<dataDir>/parley.db */
  store: z.string().default(''),
  /** memory or redis://... */
  bus: z
    .string()
    .regex(/^(memory|rediss?:\/\/.+)$/, 'memory or redis://host:port')
    .default('memory'),
  /** This node's name in a cluster (Redis keys and channels); random per start when unset. */
  nodeId: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, "_", "." and "-", at most 64')
    .default(() => `node-${randomBytes(6).toString('hex')}`),
  /** Cluster mode (a redis:// bus): see "Cluster routing" in docs/architecture.md. */
  cluster: z
    .object({
      /** How long a node's presence, room and watch entries live in Redis without a refresh. */
      presenceTtlMs: z.coerce.number().int().min(1_000).default(30_000),
      /** Prefix of every Redis key and channel, so several clusters can share one Redis. */
      keyPrefix: z
        .string()
        .regex(/^[A-Za-z0-9_.:-]{1,64}$/)
        .default('parley'),
      /**
       * After a Redis outage, this node's sessions are told to sync (SYNC_HINT) at random
       * moments within this window, so they do not all pull at once. 0 = all at once.
       */
      syncHintWindowMs: ms.max(600_000).default(5_000),
    })
    .prefault({}),
  /** PEM files; without them a self-signed development certificate is made in dataDir. */
  tlsCert: z.string().default(''),
  tlsKey: z.string().default(''),
  /** HS256 secret the app's server signs user tokens with; generated into dataDir when empty. */
  appSecret: z.string().default(''),
  /** Optional ES256 public key (PEM file) accepted for user tokens besides HS256. */
  tokenPublicKey: z.string().default(''),
  /** Optional required `iss` / `aud` claims. */
  tokenIssuer: z.string().default(''),
  tokenAudience: z.string().default(''),
  /** Admin API key; generated into dataDir (mode 0600) when empty. */
  adminKey: z.string().default(''),
  /** Serve POST /v1/dev/token without the admin key. Defaults to on only in development mode. */
  devTokens: bool.optional(),
  /** The built web app served at `/` (packages/web/dist when empty). */
  webDir: z.string().default(''),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  limits: z
    .object({
      loginTimeoutMs: ms.default(10_000),
      heartbeatMinMs: ms.default(1_000),
      heartbeatMaxMs: ms.default(15 * 60_000),
      heartbeatDefaultMs: ms.default(210_000),
      /** Extra silence allowed beyond the declared interval before a connection is dropped. */
      heartbeatGraceMs: ms.default(30_000),
      /** Longest silence a PROBE may ask for (network diagnosis: the path's NAT idle timeout). */
      probeMaxDelayMs: ms.default(30 * 60_000),
      maxFrameBytes: z.coerce
        .number()
        .int()
        .min(1024)
        .default(1024 * 1024),
      maxMessageBytes: z.coerce
        .number()
        .int()
        .min(256)
        .default(64 * 1024),
      compressAboveBytes: z.coerce.number().int().min(0).default(4096),
      /** Queued outgoing bytes per connection before it counts as a slow consumer. */
      sendBudgetBytes: z.coerce
        .number()
        .int()
        .min(16 * 1024)
        .default(2 * 1024 * 1024),
      /** How long a connection may stay over its send budget before it is dropped. */
      slowConsumerGraceMs: ms.default(10_000),
      sendsPerSecond: z.coerce.number().positive().default(20),
      sendBurst: z.coerce.number().positive().default(40),
      requestsPerSecond: z.coerce.number().positive().default(50),
      requestBurst: z.coerce.number().positive().default(100),
      /** Frames a connection may send before logging in. */
      preLoginFrames: z.coerce.number().int().min(1).default(8),
      memberCap: z.coerce.number().int().min(2).default(10_000),
      recallWindowMs: ms.default(120_000),
      roomRecentMessages: z.coerce.number().int().min(0).default(50),
      roomSendsPerSecond: z.coerce.number().positive().default(100),
      /** Every room join needs a join token (a JWT with a \`room\` claim signed with the app secret). */
      roomsRequireToken: bool.default(false),
      /** Receipts and typing are pushed to all members only in conversations up to this size. */
      receiptFanoutMaxMembers: z.coerce.number().int().min(2).default(200),
      pageLimit: z.coerce.number().int().min(1).default(200),
      /** Sessions per user and platform: 'multi' allows any number; 'one-per-platform' keeps the newest (web exempt). */
      platformPolicy: z.enum(['multi', 'one-per-platform']).default('multi'),
    })
    .prefault({}),
  shutdown: z
    .object({
      /** Reconnect delay hinted to clients in GOAWAY. */
      goawayDelayMs: ms.default(2_000),
      /** Longest wait for queued writes to flush before exit. */
      drainTimeoutMs: ms.default(5_000),
    })
    .prefault({}),
  webhooks: z
    .object({
      beforeSendUrl: z.string().default(''),
      beforeSendTimeoutMs: ms.default(2_000),
      /** When the hook fails or times out: true delivers the message anyway, false rejects it. */
      beforeSendFailOpen: bool.default(true),
      afterSendUrl: z.string().default(''),
      afterSendMaxAttempts: z.coerce.number().int().min(1).default(8),
    })
    .prefault({}),
  /** Offline push (APNs, FCM, Web Push): see docs/push.md. */
  push: pushConfigSchema,
});

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

type Tree = Record<string, unknown>;

/** Maps `PARLEY_LIMITS_LOGIN_TIMEOUT_MS` style variables onto the schema's keys. */
export function configFromEnv(env: NodeJS.ProcessEnv): Tree {
  const out: Tree = {};
  for (const [key, shape] of Object.entries(configSchema.shape)) {
    const nested = nestedShape(shape);
    if (nested) {
      const group: Tree = {};
      for (const sub of Object.keys(nested)) {
        const value = env[`PARLEY_${envName(key)}_${envName(sub)}`];
        if (value !== undefined) group[sub] = value;
      }
      if (Object.keys(group).length > 0) out[key] = group;
    } else {
      const value = env[`PARLEY_${envName(key)}`];
      if (value !== undefined) out[key] = value;
    }
  }
  return out;
}

function nestedShape(shape: unknown): Record<string, unknown> | undefined {
  // Unwrap .prefault()/.default() to reach an object schema's shape.
  let s = shape as { shape?: Record<string, unknown>; def?: { innerType?: unknown } } | undefined;
  for (let i = 0; i < 4 && s; i++) {
    if (s.shape) return s.shape;
    s = s.def?.innerType as typeof s;
  }
  return undefined;
}

function envName(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** Reads a JSON config file; a missing default file is fine, a missing named one is an error. */
export function configFromFile(path: string | undefined): Tree {
  const file = path ?? 'parley.config.json';
  if (!existsSync(file)) {
    if (path !== undefined) throw new ConfigError(`config file not found: ${resolve(file)}`);
    return {};
  }
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Tree;
  } catch (err) {
    throw new ConfigError(`config file ${resolve(file)} is not valid JSON`, { cause: err });
  }
}

export class ConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConfigError';
  }
}

/** Merges the sources (flags > env > file > defaults) and validates the result. */
export function loadConfig(sources: { flags?: Tree; env?: NodeJS.ProcessEnv; file?: string } = {}): Config {
  const env = sources.env ?? process.env;
  const merged = deepMerge(
    deepMerge(configFromFile(sources.file ?? env.PARLEY_CONFIG), configFromEnv(env)),
    sources.flags ?? {},
  );
  return parseConfig(merged);
}

/** Validates a config object, filling defaults. Throws ConfigError naming every bad key. */
export function parseConfig(input: unknown): Config {
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const config = parsed.data;
  if (config.store === '') config.store = `sqlite:${resolve(config.dataDir, 'parley.db')}`;
  config.devTokens ??= config.mode === 'development';
  return config;
}

function deepMerge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    const b = out[k];
    out[k] = isTree(v) && isTree(b) ? deepMerge(b, v) : v;
  }
  return out;
}

function isTree(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
