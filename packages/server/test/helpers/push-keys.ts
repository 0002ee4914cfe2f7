import { type KeyObject, generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** An APNs signing key (.p8: PKCS#8 P-256) written into `dir`, with its public half. */
export function apnsKey(dir: string): { keyFile: string; pem: string; publicKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const keyFile = join(dir, 'AuthKey_TESTKEY123.p8');
  writeFileSync(keyFile, pem, { mode: 0o600 });
  return { keyFile, pem, publicKey };
}

export interface ServiceAccountKeys {
  privateKeyPem: string;
  publicKey: KeyObject;
  clientEmail: string;
  projectId: string;
}

/** A Google service account's RSA key and identity. */
export function serviceAccountKeys(projectId = 'parley-test'): ServiceAccountKeys {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey,
    clientEmail: `push@${projectId}.iam.gserviceaccount.com`,
    projectId,
  };
}

/** The key file the Firebase console hands out, with its token_uri pointing at `tokenUri`. */
export function writeServiceAccount(dir: string, keys: ServiceAccountKeys, tokenUri: string): string {
  const file = join(dir, 'service-account.json');
  writeFileSync(
    file,
    JSON.stringify({
      type: 'service_account',
      project_id: keys.projectId,
      private_key_id: 'test',
      private_key: keys.privateKeyPem,
      client_email: keys.clientEmail,
      token_uri: tokenUri,
    }),
    { mode: 0o600 },
  );
  return file;
}

export const TEAM_ID = 'TEAM123456';
export const KEY_ID = 'TESTKEY123';
export const TOPIC = 'org.parley.test';
