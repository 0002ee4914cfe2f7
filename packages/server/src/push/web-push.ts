import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import webpush from 'web-push';
import { isPrivateEndpointError, publicOnlyLookup, refuseLiteral } from './endpoint-guard.js';
import { type PushProvider, type SendOutcome, retryAfterMs } from './provider.js';
import { type Notification, graphemes } from './templates.js';
import type { PushDevice } from './types.js';
import type { VapidKeys } from './vapid.js';

/** Push services accept at least 4096 bytes of payload (RFC 8030 section 7.2). */
const MAX_PAYLOAD_BYTES = 3800;

export interface WebPushOptions {
  vapid: VapidKeys;
  subject: string;
  ttlSeconds: number;
  ca?: string | undefined;
  requestTimeoutMs?: number;
  /**
   * Send to endpoints on loopback, private, link-local or unique-local addresses too (tests,
   * private deployments). Off: such endpoints are refused at connect time (see endpoint-guard.ts).
   */
  allowPrivateEndpoints?: boolean;
}

/**
 * Web Push (RFC 8030) with payload encryption (RFC 8291, aes128gcm) and VAPID (RFC 8292),
 * both done by the `web-push` library; this class sends the request itself (kept-alive
 * agents, a timeout) and reads the answer.
 */
export class WebPushProvider implements PushProvider {
  readonly name = 'webpush' as const;
  readonly #https: HttpsAgent;
  readonly #http = new HttpAgent({ keepAlive: true, maxSockets: 32 });

  constructor(private readonly options: WebPushOptions) {
    this.#https = new HttpsAgent({ keepAlive: true, maxSockets: 32, ...(options.ca ? { ca: options.ca } : {}) });
  }

  async send(device: PushDevice, n: Notification): Promise<SendOutcome> {
    let details;
    try {
      const keys = JSON.parse(device.webKeys) as { p256dh: string; auth: string };
      details = webpush.generateRequestDetails({ endpoint: device.token, keys }, webPushPayload(n), {
        vapidDetails: { subject: this.options.subject, ...this.options.vapid },
        TTL: this.options.ttlSeconds,
        urgency: n.quiet ? 'low' : 'high',
        topic: n.collapseId,
        contentEncoding: 'aes128gcm',
      });
    } catch {
      return { kind: 'dropped', reason: 'bad_subscription' };
    }
    let status: number;
    let headers: Record<string, string | string[] | undefined>;
    try {
      ({ status, headers } = await this.#post(details.endpoint, details.headers, details.body));
    } catch (err) {
      // The address was checked when the device registered; it changed since (DNS rebinding, or a
      // registration from before the rule). Never retried: it would be refused again.
      if (isPrivateEndpointError(err)) return { kind: 'dropped', reason: 'private_endpoint' };
      return { kind: 'retry', reason: 'connection' };
    }
    const reason = `HTTP_${String(status)}`;
    if (status >= 200 && status < 300) return { kind: 'sent', reason: 'Created' };
    if (status === 404 || status === 410) return { kind: 'unregistered', reason };
    if (status === 429 || status >= 500) {
      const after = retryAfterMs(headers['retry-after']);
      return after === undefined ? { kind: 'retry', reason } : { kind: 'retry', reason, retryAfterMs: after };
    }
    return { kind: 'dropped', reason };
  }

  close(): Promise<void> {
    this.#https.destroy();
    this.#http.destroy();
    return Promise.resolve();
  }

  #post(
    endpoint: string,
    headers: Record<string, string | number>,
    body: Buffer,
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
    const url = new URL(endpoint);
    const secure = url.protocol === 'https:';
    const send = secure ? httpsRequest : httpRequest;
    const guard = this.options.allowPrivateEndpoints !== true;
    if (guard) refuseLiteral(url);
    return new Promise((resolve, reject) => {
      const req = send(
        url,
        {
          method: 'POST',
          headers: { ...headers, 'content-length': body.length },
          agent: secure ? this.#https : this.#http,
          timeout: this.options.requestTimeoutMs ?? 30_000,
          ...(guard ? { lookup: publicOnlyLookup } : {}),
        },
        (res) => {
          // The body is not needed: drain it so the socket goes back to the pool.
          res.resume();
          res.on('end', () => {
            resolve({ status: res.statusCode ?? 0, headers: res.headers });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
      req.end(body);
    });
  }
}

/** What the service worker (packages/web/public/sw.js) reads from the push event. */
export function webPushPayload(n: Notification): string {
  let body = n.body;
  for (;;) {
    const payload = JSON.stringify({
      title: n.title,
      body,
      badge: n.badge,
      tag: n.collapseId,
      silent: n.quiet,
      conversationId: n.conversationId,
      seq: n.seq,
      count: n.count,
    });
    if (Buffer.byteLength(payload) <= MAX_PAYLOAD_BYTES || body === '') return payload;
    const chars = graphemes(body);
    body = chars.length <= 2 ? '' : chars.slice(0, Math.floor(chars.length / 2)).join('');
  }
}
