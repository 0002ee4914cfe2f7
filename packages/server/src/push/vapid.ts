import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import webpush from 'web-push';
import { ConfigError } from '../config.js';

export interface VapidKeys {
  publicKey: string;
  privateKey: string;
}

/**
 * The server's VAPID key pair (RFC 8292): from the configuration when given, else from
 * <dataDir>/vapid.json, made there (mode 0600) on first start. The public key is what the
 * web app passes to pushManager.subscribe(); changing it invalidates every subscription.
 */
export function loadOrCreateVapidKeys(dataDir: string, configured: VapidKeys): VapidKeys & { created: boolean } {
  if (configured.publicKey || configured.privateKey) {
    if (!configured.publicKey || !configured.privateKey) {
      throw new ConfigError('push.webPushPublicKey and push.webPushPrivateKey must be given together');
    }
    check(configured, 'push.webPushPublicKey/PrivateKey');
    return { ...configured, created: false };
  }
  const path = join(dataDir, 'vapid.json');
  if (existsSync(path)) {
    let keys: VapidKeys;
    try {
      keys = JSON.parse(readFileSync(path, 'utf8')) as VapidKeys;
    } catch (err) {
      throw new ConfigError(`${path} is not valid JSON; remove it to make new VAPID keys`, { cause: err });
    }
    check(keys, path);
    return { publicKey: keys.publicKey, privateKey: keys.privateKey, created: false };
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const keys = webpush.generateVAPIDKeys();
  writeFileSync(path, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
  return { ...keys, created: true };
}

function check(keys: Partial<VapidKeys>, where: string): void {
  const pub = Buffer.from(typeof keys.publicKey === 'string' ? keys.publicKey : '', 'base64url');
  const priv = Buffer.from(typeof keys.privateKey === 'string' ? keys.privateKey : '', 'base64url');
  if (pub.length !== 65 || pub[0] !== 4 || priv.length !== 32) {
    throw new ConfigError(`${where}: not a P-256 VAPID key pair (base64url, 65-byte public and 32-byte private key)`);
  }
}
