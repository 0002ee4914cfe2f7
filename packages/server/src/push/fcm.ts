import { AccessTokenError, type FcmAccessToken } from './fcm-auth.js';
import { Http2Client, Http2RequestError } from './http2-client.js';
import { type PushProvider, type SendOutcome, retryAfterMs } from './provider.js';
import type { Notification } from './templates.js';
import type { PushDevice } from './types.js';

export interface FcmOptions {
  projectId: string;
  /** Origin of the FCM API, e.g. https://fcm.googleapis.com */
  endpoint: string;
  auth: FcmAccessToken;
  ttlSeconds: number;
  ca?: string | undefined;
  onDisconnect?: (reason: string) => void;
}

interface FcmErrorBody {
  error?: { code?: number; status?: string; message?: string; details?: { '@type'?: string; errorCode?: string }[] };
}

/**
 * FCM HTTP v1: POST /v1/projects/<project>/messages:send with an OAuth2 bearer token, over
 * one kept-open HTTP/2 connection. The notification carries the collapse key and tag of the
 * conversation, the badge as notification_count (and as the APNs badge for iOS apps on FCM).
 */
export class FcmProvider implements PushProvider {
  readonly name = 'fcm' as const;
  readonly client: Http2Client;
  readonly #path: string;

  constructor(private readonly options: FcmOptions) {
    this.client = new Http2Client(options.endpoint, {
      ca: options.ca,
      ...(options.onDisconnect ? { onDisconnect: options.onDisconnect } : {}),
    });
    this.#path = `/v1/projects/${encodeURIComponent(options.projectId)}/messages:send`;
  }

  async send(device: PushDevice, n: Notification): Promise<SendOutcome> {
    let token: string;
    try {
      token = await this.options.auth.get();
    } catch (err) {
      return authFailure(err);
    }
    const body = JSON.stringify(fcmMessage(device.token, n, this.options.ttlSeconds));
    const first = await this.#post(body, token);
    if (first.kind === 'retry' && first.reason === 'UNAUTHENTICATED') {
      try {
        token = await this.options.auth.refresh(token);
      } catch (err) {
        return authFailure(err);
      }
      return { ...(await this.#post(body, token)), refreshedAfter: first.reason };
    }
    return first;
  }

  close(): Promise<void> {
    return this.client.close();
  }

  async #post(body: string, token: string): Promise<SendOutcome> {
    let res;
    try {
      res = await this.client.request(
        { ':path': this.#path, authorization: `Bearer ${token}`, 'content-type': 'application/json; charset=utf-8' },
        body,
      );
    } catch (err) {
      return { kind: 'retry', reason: err instanceof Http2RequestError ? `connection_${err.code}` : 'connection' };
    }
    if (res.status === 200) return { kind: 'sent', reason: 'OK' };
    const reason = reasonOf(res.body) ?? `HTTP_${String(res.status)}`;
    if (reason === 'UNREGISTERED' || res.status === 404) return { kind: 'unregistered', reason };
    // 401 without THIRD_PARTY_AUTH_ERROR: our access token was refused.
    if (res.status === 401 && reason !== 'THIRD_PARTY_AUTH_ERROR') return { kind: 'retry', reason: 'UNAUTHENTICATED' };
    if (res.status === 429 || res.status >= 500) {
      const after = retryAfterMs(res.headers['retry-after']);
      return after === undefined ? { kind: 'retry', reason } : { kind: 'retry', reason, retryAfterMs: after };
    }
    return { kind: 'dropped', reason };
  }
}

function authFailure(err: unknown): SendOutcome {
  if (err instanceof AccessTokenError && !err.retryable) return { kind: 'dropped', reason: 'oauth_refused' };
  return { kind: 'retry', reason: 'oauth_unavailable' };
}

/** The FcmError code from the details, else the google.rpc status. */
function reasonOf(body: string): string | undefined {
  try {
    const { error } = JSON.parse(body) as FcmErrorBody;
    const fcm = error?.details?.find((d) => d['@type']?.endsWith('google.firebase.fcm.v1.FcmError'))?.errorCode;
    const word = fcm ?? error?.status;
    return typeof word === 'string' && /^[A-Z_]{1,64}$/.test(word) ? word : undefined;
  } catch {
    return undefined;
  }
}

export function fcmMessage(token: string, n: Notification, ttlSeconds: number): unknown {
  return {
    message: {
      token,
      notification: { title: n.title, body: n.body },
      data: { conversationId: n.conversationId, seq: String(n.seq), count: String(n.count), badge: String(n.badge) },
      android: {
        collapse_key: n.collapseId,
        priority: n.quiet ? 'NORMAL' : 'HIGH',
        ttl: `${String(ttlSeconds)}s`,
        notification: {
          tag: n.collapseId,
          notification_count: n.badge,
          ...(n.quiet ? { notification_priority: 'PRIORITY_LOW' } : { sound: 'default' }),
        },
      },
      apns: {
        headers: { 'apns-collapse-id': n.collapseId, 'apns-priority': n.quiet ? '5' : '10' },
        payload: { aps: { badge: n.badge, ...(n.quiet ? { 'interruption-level': 'passive' } : { sound: 'default' }) } },
      },
    },
  };
}
