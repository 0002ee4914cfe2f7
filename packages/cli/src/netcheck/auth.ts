// Where the token for the login checks comes from: --token, a data directory, or a
// development server's /v1/dev/token.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { issueToken } from '@parley/server';
import { configFromFlags } from '../flags.js';
import { loadOrCreateAppSecret } from '../secret.js';
import { type HttpTarget, requestJson } from './http.js';
import type { NetcheckOptions } from './options.js';
import { type AuthReport, describe, roundMs } from './report.js';

/** The user netcheck logs in as when it makes the token itself. */
export const DEFAULT_USER = 'netcheck';

export interface Credentials {
  report: AuthReport;
  token?: string;
  /** The device the token is pinned to (its `dev` claim): every login must use it. */
  pinnedDevice?: string;
}

/** The claims of a JWT, read without checking it (the server does that). */
function claims(token: string): { sub?: unknown; dev?: unknown } {
  try {
    const payload = token.split('.')[1] ?? '';
    return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub?: unknown; dev?: unknown };
  } catch {
    return {};
  }
}

function fromToken(token: string, source: AuthReport['source'], ms?: number): Credentials {
  const { sub, dev } = claims(token);
  const report: AuthReport = { status: 'ok', source, ...(ms === undefined ? {} : { ms }) };
  if (typeof sub === 'string') report.userId = sub;
  if (typeof dev === 'string') {
    report.note = `the token is pinned to device ${dev}: logins take turns and the NAT probe cannot run`;
    return { report, token, pinnedDevice: dev };
  }
  return { report, token };
}

/** Signs a token with the app secret of `dataDir`, as `parley token` does. */
async function fromDataDir(options: NetcheckOptions, dataDir: string): Promise<Credentials> {
  const config = configFromFlags({ data: dataDir, config: options.configFile });
  if (config.appSecret === '' && !existsSync(join(config.dataDir, 'app-secret'))) {
    return {
      report: {
        status: 'fail',
        source: 'data-dir',
        error: `no app-secret in ${config.dataDir}`,
        note: "--data must be the server's data directory",
      },
    };
  }
  const token = await issueToken({
    secret: loadOrCreateAppSecret(config),
    userId: options.userId ?? DEFAULT_USER,
    ttlSeconds: 3600,
    issuer: config.tokenIssuer,
    audience: config.tokenAudience,
  });
  return fromToken(token, 'data-dir');
}

/** Asks a development server for a token (POST /v1/dev/token, off in production). */
async function fromDevEndpoint(options: NetcheckOptions, http: HttpTarget | undefined): Promise<Credentials> {
  const none = 'no credentials: pass --token, or --data with the server data directory; login checks skipped';
  if (!http) return { report: { status: 'skip', source: 'none', note: none } };
  const started = performance.now();
  try {
    const res = await requestJson(http, 'POST', '/v1/dev/token', { userId: options.userId ?? DEFAULT_USER });
    const ms = roundMs(performance.now() - started);
    const token = (res.body as { token?: unknown } | undefined)?.token;
    if (res.status === 200 && typeof token === 'string') return fromToken(token, 'dev-endpoint', ms);
    return { report: { status: 'skip', source: 'none', note: none } };
  } catch (err) {
    return { report: { status: 'skip', source: 'none', note: none, error: `/v1/dev/token: ${describe(err)}` } };
  }
}

/** The token for the login checks, and where it came from. */
export function credentials(options: NetcheckOptions, http: HttpTarget | undefined): Promise<Credentials> {
  if (options.token !== undefined) return Promise.resolve(fromToken(options.token, 'flag'));
  if (options.dataDir !== undefined) return fromDataDir(options, options.dataDir);
  return fromDevEndpoint(options, http);
}
