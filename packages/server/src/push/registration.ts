import { ErrorCode, ParleyError, pb } from '@parley/protocol';
import type { ApnsEnvironmentName, PushDevice, PushProviderName } from './types.js';

const MAX_TOKEN = 4096;

/** Checks a RegisterPushRequest and turns it into the device's registration. */
export function deviceFromRequest(
  userId: string,
  deviceId: string,
  req: pb.RegisterPushRequest.$Properties,
  options: { allowHttpWebPush: boolean; sessionLocale: string; now: number },
): PushDevice {
  const provider = providerName(req.provider ?? pb.PushProvider.PUSH_PROVIDER_UNSPECIFIED);
  const locale = (req.locale || options.sessionLocale).slice(0, 35);
  if (!/^[A-Za-z0-9_-]*$/.test(locale)) throw invalid('locale must be a BCP 47 tag');
  const topic = req.topic ?? '';
  if (topic.length > 255 || /[\s\p{Cc}]/u.test(topic))
    throw invalid('topic must be at most 255 characters without spaces');
  const base = { userId, deviceId, provider, topic, locale, updatedAt: options.now };
  switch (provider) {
    case 'apns': {
      const token = (req.token ?? '').toLowerCase();
      // 32 bytes today; Apple says the length may grow, so allow up to 100 bytes.
      if (!/^[0-9a-f]{64,200}$/.test(token)) throw invalid('an APNs device token is 64 or more hex digits');
      return { ...base, token, webKeys: '', environment: environmentName(req.apnsEnvironment) };
    }
    case 'fcm': {
      const token = req.token ?? '';
      if (token.length === 0 || token.length > MAX_TOKEN || !/^[\x21-\x7e]+$/.test(token)) {
        throw invalid('an FCM registration token is 1 to 4096 printable characters');
      }
      return { ...base, token, webKeys: '', environment: 'production' };
    }
    case 'webpush': {
      const sub = parseSubscription(req.webPushSubscription ?? '', options.allowHttpWebPush);
      return { ...base, token: sub.endpoint, webKeys: JSON.stringify(sub.keys), environment: 'production' };
    }
  }
}

function providerName(p: pb.PushProvider): PushProviderName {
  switch (p) {
    case pb.PushProvider.APNS:
      return 'apns';
    case pb.PushProvider.FCM:
      return 'fcm';
    case pb.PushProvider.WEB_PUSH:
      return 'webpush';
    default:
      throw invalid('provider must be APNS, FCM or WEB_PUSH');
  }
}

function environmentName(e: pb.ApnsEnvironment | null | undefined): ApnsEnvironmentName {
  return e === pb.ApnsEnvironment.SANDBOX ? 'sandbox' : 'production';
}

/** The PushSubscription JSON a browser gives: `{"endpoint": ..., "keys": {"p256dh": ..., "auth": ...}}`. */
export function parseSubscription(
  json: string,
  allowHttp: boolean,
): { endpoint: string; keys: { p256dh: string; auth: string } } {
  if (json.length === 0 || json.length > MAX_TOKEN)
    throw invalid('web_push_subscription must be the PushSubscription JSON');
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw invalid('web_push_subscription is not valid JSON');
  }
  const sub = value as { endpoint?: unknown; keys?: { p256dh?: unknown; auth?: unknown } } | null;
  const endpoint = typeof sub?.endpoint === 'string' ? sub.endpoint : '';
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw invalid('web_push_subscription.endpoint must be a URL');
  }
  if (url.protocol !== 'https:' && !(allowHttp && url.protocol === 'http:')) {
    throw invalid('web_push_subscription.endpoint must be an https URL');
  }
  if (url.username || url.password) throw invalid('web_push_subscription.endpoint must not carry credentials');
  const p256dh = typeof sub?.keys?.p256dh === 'string' ? sub.keys.p256dh : '';
  const auth = typeof sub?.keys?.auth === 'string' ? sub.keys.auth : '';
  const point = decode(p256dh);
  if (point?.length !== 65 || point[0] !== 4) throw invalid('web_push_subscription.keys.p256dh must be a P-256 point');
  if (decode(auth)?.length !== 16) throw invalid('web_push_subscription.keys.auth must be 16 bytes');
  return { endpoint: url.href, keys: { p256dh, auth } };
}

function decode(s: string): Buffer | undefined {
  return /^[A-Za-z0-9_-]+={0,2}$/.test(s) ? Buffer.from(s, 'base64url') : undefined;
}

function invalid(message: string): ParleyError {
  return new ParleyError(ErrorCode.INVALID_ARGUMENT, message);
}
