import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConfigInput } from '../../src/index.js';
import { ApnsStandIn, FcmStandIn } from './push-stand-ins.js';
import { KEY_ID, TEAM_ID, TOPIC, apnsKey, serviceAccountKeys, writeServiceAccount } from './push-keys.js';
import { WebPushService } from './web-push-service.js';

/** APNs and FCM stand-ins sharing one CA, web-push-testing, and the `push` config that points at them. */
export class PushEnv {
  private constructor(
    readonly dir: string,
    readonly apns: ApnsStandIn,
    readonly fcm: FcmStandIn,
    readonly web: WebPushService,
    readonly push: NonNullable<ConfigInput['push']>,
  ) {}

  static async start(overrides: ConfigInput['push'] = {}): Promise<PushEnv> {
    const dir = mkdtempSync(join(tmpdir(), 'parley-push-env-'));
    const key = apnsKey(dir);
    const certDir = join(dir, 'cert');
    const apns = await ApnsStandIn.start(
      { teamId: TEAM_ID, keyId: KEY_ID, publicKey: key.publicKey, topic: TOPIC },
      { certDir },
    );
    const keys = serviceAccountKeys();
    const fcm = await FcmStandIn.start(keys, { certDir });
    const web = await WebPushService.start();
    return new PushEnv(dir, apns, fcm, web, {
      apnsTeamId: TEAM_ID,
      apnsKeyId: KEY_ID,
      apnsKeyFile: key.keyFile,
      apnsTopic: TOPIC,
      apnsProductionUrl: apns.url,
      apnsSandboxUrl: apns.url,
      fcmServiceAccountFile: writeServiceAccount(dir, keys, fcm.tokenUri),
      fcmEndpoint: fcm.url,
      caFile: apns.caFile,
      webPushAllowHttp: true,
      webPushAllowPrivateEndpoints: true,
      coalesceMs: 1_500,
      retryBaseMs: 200,
      retryMaxMs: 1_000,
      pollMs: 200,
      ...overrides,
    });
  }

  async close(): Promise<void> {
    await Promise.all([this.apns.close(), this.fcm.close(), this.web.close()]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 20_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const hexToken = (label: string): string => Buffer.from(label.padEnd(32, '.')).toString('hex').slice(0, 64);
