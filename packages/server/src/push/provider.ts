import type { Notification } from './templates.js';
import type { PushDevice, PushProviderName } from './types.js';

/**
 * What became of one notification at its provider:
 * - sent: accepted.
 * - dropped: refused for a reason retrying cannot fix (bad token format, payload, config);
 *   logged, the notification is dropped, the registration kept.
 * - unregistered: the token is gone for good (APNs 410, FCM UNREGISTERED, Web Push 404/410);
 *   the registration is removed.
 * - retry: throttled, the provider failed, or the connection did; try again later, no
 *   sooner than `retryAfterMs` when the provider said so.
 * `reason` is the provider's own word (APNs `reason`, FCM `errorCode`, an HTTP status or a
 * connection error) and labels the metrics.
 */
export type SendOutcome = (
  | { kind: 'sent'; reason: string }
  | { kind: 'dropped'; reason: string }
  | { kind: 'unregistered'; reason: string }
  | { kind: 'retry'; reason: string; retryAfterMs?: number }
) & {
  /** The first answer's reason when the provider refreshed its credentials and sent again at once. */
  refreshedAfter?: string;
};

/** A push service client. */
export interface PushProvider {
  readonly name: PushProviderName;
  send(device: PushDevice, notification: Notification): Promise<SendOutcome>;
  close(): Promise<void>;
}

/** Seconds or an HTTP date in a Retry-After header, as milliseconds (undefined when absent or bad). */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
