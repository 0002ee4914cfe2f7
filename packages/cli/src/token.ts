import { issueToken } from '@parley/server';
import { loadOrCreateAppSecret } from './secret.js';
import { configFromFlags, type ConfigFlags } from './flags.js';

export async function tokenCommand(flags: ConfigFlags & { user: string; device?: string; room?: string; ttl: string }) {
  const config = configFromFlags(flags);
  const ttlSeconds = Number(flags.ttl);
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0)
    throw new Error('--ttl must be a positive whole number of seconds');
  const token = await issueToken({
    secret: loadOrCreateAppSecret(config),
    userId: flags.user,
    ttlSeconds,
    ...(flags.device ? { deviceId: flags.device } : {}),
    ...(flags.room ? { room: flags.room } : {}),
    issuer: config.tokenIssuer,
    audience: config.tokenAudience,
  });
  process.stdout.write(`${token}\n`);
}
