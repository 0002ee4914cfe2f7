import { randomUUID } from 'node:crypto';
import type { ApnsProviderToken } from './apns-token.js';
import { Http2Client, Http2RequestError } from './http2-client.js';
import { type PushProvider, type SendOutcome, retryAfterMs } from './provider.js';
import { type Notification, graphemes, truncate } from './templates.js';
import type { ApnsEnvironmentName, PushDevice } from './types.js';

/** APNs refuses payloads over 4 KB for ordinary notifications. */
export const APNS_MAX_PAYLOAD_BYTES = 4096;

export interface ApnsOptions {
  token: ApnsProviderToken;
  /** Used when a device registered without its own topic. */
  defaultTopic: string;
  productionUrl: string;
  sandboxUrl: string;
  maxStreams: number;
  ttlSeconds: number;
  ca?: string | undefined;
  onDisconnect?: (environment: ApnsEnvironmentName, reason: string) => void;
}

/** 410 reasons: the token will never work again. */
const GONE = new Set(['Unregistered', 'ExpiredToken']);

/**
 * APNs over HTTP/2 with token-based auth: one kept-open connection per environment, the
 * provider token in `authorization`, one POST /3/device/<token> per notification.
 */
export class ApnsProvider implements PushProvider {
  readonly name = 'apns' as const;
  readonly clients: Record<ApnsEnvironmentName, Http2Client>;

  constructor(private readonly options: ApnsOptions) {
    const client = (env: ApnsEnvironmentName, url: string) =>
      new Http2Client(url, {
        ca: options.ca,
        maxStreams: options.maxStreams,
        onDisconnect: (reason) => options.onDisconnect?.(env, reason),
      });
    this.clients = {
      production: client('production', options.productionUrl),
      sandbox: client('sandbox', options.sandboxUrl),
    };
  }

  async send(device: PushDevice, n: Notification): Promise<SendOutcome> {
    const payload = apnsPayload(n);
    let jwt = await this.options.token.get();
    const first = await this.#post(device, n, payload, jwt);
    if (first.kind === 'retry' && first.reason === 'ExpiredProviderToken') {
      jwt = await this.options.token.refresh(jwt);
      return { ...(await this.#post(device, n, payload, jwt)), refreshedAfter: first.reason };
    }
    return first;
  }

  close(): Promise<void> {
    return Promise.all([this.clients.production.close(), this.clients.sandbox.close()]).then(() => undefined);
  }

  async #post(device: PushDevice, n: Notification, payload: string, jwt: string): Promise<SendOutcome> {
    const headers = {
      ':path': `/3/device/${device.token}`,
      authorization: `bearer ${jwt}`,
      'apns-topic': device.topic || this.options.defaultTopic,
      'apns-push-type': 'alert',
      // 10 = deliver now; 5 = when the device is awake anyway (quiet hours).
      'apns-priority': n.quiet ? '5' : '10',
      'apns-expiration': String(Math.floor(Date.now() / 1000) + this.options.ttlSeconds),
      'apns-collapse-id': n.collapseId,
      'apns-id': randomUUID(),
      'content-type': 'application/json',
    };
    let res;
    try {
      res = await this.clients[device.environment].request(headers, payload);
    } catch (err) {
      return { kind: 'retry', reason: err instanceof Http2RequestError ? `connection_${err.code}` : 'connection' };
    }
    if (res.status === 200) return { kind: 'sent', reason: 'Success' };
    const reason = reasonOf(res.body) ?? `HTTP_${String(res.status)}`;
    if (res.status === 410 || GONE.has(reason)) return { kind: 'unregistered', reason };
    if (res.status === 403 && reason === 'ExpiredProviderToken') return { kind: 'retry', reason };
    if (res.status === 429 || res.status >= 500) {
      const after = retryAfterMs(res.headers['retry-after']);
      return after === undefined ? { kind: 'retry', reason } : { kind: 'retry', reason, retryAfterMs: after };
    }
    return { kind: 'dropped', reason };
  }
}

function reasonOf(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { reason?: unknown };
    return typeof parsed.reason === 'string' && /^[A-Za-z]{1,64}$/.test(parsed.reason) ? parsed.reason : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The JSON payload: the alert, the badge (the user's unread total), a thread id per
 * conversation, and the conversation and seq for the app to open. Quiet hours drop the
 * sound and mark the notification passive. The body is shortened until the payload fits.
 */
export function apnsPayload(n: Notification): string {
  let body = n.body;
  for (;;) {
    const payload = JSON.stringify({
      aps: {
        alert: { title: n.title, body },
        badge: n.badge,
        'thread-id': n.collapseId,
        ...(n.quiet ? { 'interruption-level': 'passive' } : { sound: 'default' }),
      },
      conversationId: n.conversationId,
      seq: n.seq,
      count: n.count,
    });
    if (Buffer.byteLength(payload) <= APNS_MAX_PAYLOAD_BYTES || body.length === 0) return payload;
    const chars = graphemes(body).length;
    body = chars <= 2 ? '' : truncate(body, Math.floor(chars / 2));
  }
}
