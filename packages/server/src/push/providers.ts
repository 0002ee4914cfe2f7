import { readFileSync } from 'node:fs';
import { ConfigError } from '../config.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { ApnsProvider } from './apns.js';
import { ApnsProviderToken } from './apns-token.js';
import type { PushConfig } from './config.js';
import { FcmAccessToken, readServiceAccount } from './fcm-auth.js';
import { FcmProvider } from './fcm.js';
import { Http2Client } from './http2-client.js';
import type { PushProvider } from './provider.js';
import type { PushProviderName } from './types.js';
import { type VapidKeys, loadOrCreateVapidKeys } from './vapid.js';
import { WebPushProvider } from './web-push.js';

export interface Providers {
  byName: Map<PushProviderName, PushProvider>;
  /** Set when Web Push is on. */
  vapid: VapidKeys | undefined;
}

/**
 * Builds the providers the configuration turns on: APNs when team id, key id and key file are
 * given; FCM when a service account file is; Web Push unless switched off. A provider whose
 * credentials are given but unusable stops the start with a ConfigError naming the key.
 */
export async function createProviders(
  config: PushConfig,
  dataDir: string,
  metrics: Metrics,
  logger: Logger,
): Promise<Providers> {
  const byName = new Map<PushProviderName, PushProvider>();
  const ca = config.caFile ? readText(config.caFile, 'push.caFile') : undefined;
  const disconnected = (provider: string) => (reason: string) => {
    metrics.pushConnections.inc({ provider, event: reason.split(' ')[0] ?? reason });
    logger.debug({ provider, reason }, 'push provider connection ended');
  };

  const apnsGiven = [config.apnsTeamId, config.apnsKeyId, config.apnsKeyFile].filter((v) => v !== '').length;
  if (apnsGiven > 0) {
    if (apnsGiven < 3) {
      throw new ConfigError('APNs needs push.apnsTeamId, push.apnsKeyId and push.apnsKeyFile together');
    }
    const pem = readText(config.apnsKeyFile, 'push.apnsKeyFile');
    let token: ApnsProviderToken;
    try {
      token = await ApnsProviderToken.fromPem(pem, config.apnsTeamId, config.apnsKeyId);
    } catch (err) {
      throw new ConfigError(`push.apnsKeyFile ${config.apnsKeyFile}: not a PKCS#8 P-256 key (.p8)`, { cause: err });
    }
    byName.set(
      'apns',
      new ApnsProvider({
        token,
        defaultTopic: config.apnsTopic,
        productionUrl: config.apnsProductionUrl,
        sandboxUrl: config.apnsSandboxUrl,
        maxStreams: config.apnsMaxStreams,
        ttlSeconds: config.ttlSeconds,
        ca,
        onDisconnect: (env, reason) => {
          disconnected(`apns_${env}`)(reason);
        },
      }),
    );
  }

  if (config.fcmServiceAccountFile) {
    const account = readServiceAccount(config.fcmServiceAccountFile);
    const tokenUrl = new URL(config.fcmTokenEndpoint || account.tokenUri);
    const auth = new FcmAccessToken(
      account,
      new Http2Client(tokenUrl.origin, { ca, onDisconnect: disconnected('fcm_oauth') }),
      `${tokenUrl.pathname}${tokenUrl.search}`,
      account.tokenUri,
    );
    byName.set(
      'fcm',
      new FcmProvider({
        projectId: account.projectId,
        endpoint: config.fcmEndpoint,
        auth,
        ttlSeconds: config.ttlSeconds,
        ca,
        onDisconnect: disconnected('fcm'),
      }),
    );
  }

  let vapid: VapidKeys | undefined;
  if (config.webPush) {
    vapid = loadOrCreateVapidKeys(dataDir, {
      publicKey: config.webPushPublicKey,
      privateKey: config.webPushPrivateKey,
    });
    byName.set(
      'webpush',
      new WebPushProvider({
        vapid,
        subject: config.webPushSubject,
        ttlSeconds: config.ttlSeconds,
        ca,
        allowPrivateEndpoints: config.webPushAllowPrivateEndpoints,
      }),
    );
  }
  return { byName, vapid: vapid ? { publicKey: vapid.publicKey, privateKey: vapid.privateKey } : undefined };
}

function readText(file: string, key: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${key} ${file}: cannot be read`, { cause: err });
  }
}
