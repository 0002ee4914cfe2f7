// The token provider of `parley chat`: the SDK calls it for the first login and again
// whenever the server says the token expired or is invalid.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, ParleyError } from '@parley/protocol';
import { issueToken } from '@parley/server';
import { configFromFlags } from '../flags.js';
import { requestJson } from '../netcheck/http.js';
import { loadOrCreateAppSecret } from '../secret.js';
import type { ChatOptions, TokenSource } from './options.js';

const COMMAND_TIMEOUT_MS = 15_000;
const DEV_TOKEN_TTL_SECONDS = 3600;

function tokenError(message: string, cause?: unknown): ParleyError {
  return new ParleyError(ErrorCode.TOKEN_INVALID, message, cause === undefined ? undefined : { cause });
}

/** Runs the user's command (through /bin/sh) and takes the first line of its output as the token. */
function fromCommand(command: string, env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      '/bin/sh',
      ['-c', command],
      { timeout: COMMAND_TIMEOUT_MS, maxBuffer: 64 * 1024, env: { ...process.env, ...env } },
      (err, stdout, stderr) => {
        if (err) {
          const detail = stderr.trim().split('\n')[0] ?? '';
          const how =
            err.killed || err.signal
              ? `was stopped (${err.signal ?? 'timeout'})`
              : typeof err.code === 'number'
                ? `exited with code ${String(err.code)}`
                : `could not run (${err.message})`;
          reject(tokenError(`--token-command ${how}${detail ? `: ${detail}` : ''}`, err));
          return;
        }
        const token = stdout.trim().split('\n')[0]?.trim() ?? '';
        if (token === '') reject(tokenError('--token-command printed no token'));
        else resolve(token);
      },
    );
  });
}

/** Signs a token with the app secret of the server's data directory, as `parley token` does. */
async function fromDataDir(dataDir: string, configFile: string | undefined, userId: string): Promise<string> {
  const config = configFromFlags({ data: dataDir, config: configFile });
  if (config.appSecret === '' && !existsSync(join(config.dataDir, 'app-secret'))) {
    throw tokenError(`no app-secret in ${config.dataDir}: --data must be the server's data directory`);
  }
  return issueToken({
    secret: loadOrCreateAppSecret(config),
    userId,
    ttlSeconds: DEV_TOKEN_TTL_SECONDS,
    issuer: config.tokenIssuer,
    audience: config.tokenAudience,
  });
}

/** Asks a development server for a token: `POST /v1/dev/token` (off in production mode). */
async function fromDevEndpoint(options: ChatOptions): Promise<string> {
  const res = await requestJson(
    {
      address: options.host,
      hostname: options.host,
      port: options.httpPort,
      tls: options.httpTls,
      ca: options.ca.length === 0 ? undefined : options.ca,
      insecure: options.insecure,
      timeoutMs: 10_000,
    },
    'POST',
    '/v1/dev/token',
    { userId: options.userId },
  ).catch((err: unknown) => {
    throw new ParleyError(
      ErrorCode.UNAVAILABLE,
      `development token endpoint unreachable: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  });
  const token = (res.body as { token?: unknown } | undefined)?.token;
  if (res.status === 200 && typeof token === 'string' && token !== '') return token;
  throw tokenError(
    res.status === 404
      ? 'the server issues no development tokens (production mode): pass --token or --token-command'
      : `development token endpoint answered HTTP ${String(res.status)}`,
  );
}

/** The provider for the SDK; `deviceId` is passed to a --token-command as PARLEY_DEVICE. */
export function tokenProvider(options: ChatOptions, deviceId: () => string): () => Promise<string> {
  const source: TokenSource = options.token;
  switch (source.kind) {
    case 'flag':
      return () => Promise.resolve(source.token);
    case 'command':
      return () => fromCommand(source.command, { PARLEY_USER: options.userId, PARLEY_DEVICE: deviceId() });
    case 'data-dir':
      return () => fromDataDir(source.dataDir, source.configFile, options.userId);
    case 'dev-endpoint':
      return () => fromDevEndpoint(options);
  }
}

/** The `sub` and `dev` claims of a JWT, read without checking it (the server does that). */
export function tokenClaims(token: string): { userId?: string; deviceId?: string } {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      sub?: unknown;
      dev?: unknown;
    };
    return {
      ...(typeof payload.sub === 'string' ? { userId: payload.sub } : {}),
      ...(typeof payload.dev === 'string' ? { deviceId: payload.dev } : {}),
    };
  } catch {
    return {};
  }
}
