import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A secret kept in a file of the data dir (mode 0600): read if present, made on first use.
 * A value given in the configuration wins and no file is written.
 */
export function loadOrCreateSecret(
  dataDir: string,
  name: 'app-secret' | 'admin-key',
  configured: string,
): { value: string; created: boolean; path: string | undefined } {
  if (configured) return { value: configured, created: false, path: undefined };
  const path = join(dataDir, name);
  if (existsSync(path)) {
    const value = readFileSync(path, 'utf8').trim();
    if (value.length >= 16) {
      chmodSync(path, 0o600);
      return { value, created: false, path };
    }
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const value = `${name === 'admin-key' ? 'pk_admin_' : ''}${randomBytes(32).toString('base64url')}`;
  writeFileSync(path, `${value}\n`, { mode: 0o600 });
  return { value, created: true, path };
}
