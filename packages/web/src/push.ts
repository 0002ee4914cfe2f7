// Web Push: the server's VAPID key, the service worker at /sw.js, and PUSH_REGISTER with the
// browser's subscription. Everything here is optional: without a key or support, nothing shows.
import { Command, type ParleyClient, pb } from '@parley/client';

export type PushSupport = 'unavailable' | 'available' | 'enabled' | 'denied';

function supported(): boolean {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

/** The server's VAPID public key, or undefined when push is not configured (404) or unreachable. */
async function vapidKey(): Promise<string | undefined> {
  try {
    const res = await fetch('/v1/push/web/vapid-public-key');
    if (!res.ok) return undefined;
    const body = (await res.json()) as { publicKey?: unknown };
    return typeof body.publicKey === 'string' && body.publicKey !== '' ? body.publicKey : undefined;
  } catch {
    return undefined;
  }
}

export async function pushSupport(): Promise<{ support: PushSupport; key?: string }> {
  if (!supported()) return { support: 'unavailable' };
  const key = await vapidKey();
  if (!key) return { support: 'unavailable' };
  if (Notification.permission === 'denied') return { support: 'denied', key };
  const registration = await navigator.serviceWorker.getRegistration('/');
  const existing = await registration?.pushManager.getSubscription();
  return { support: existing && Notification.permission === 'granted' ? 'enabled' : 'available', key };
}

function keyBytes(base64url: string): Uint8Array<ArrayBuffer> {
  const b64 = (base64url + '='.repeat((4 - (base64url.length % 4)) % 4)).replace(/-/g, '+').replace(/_/g, '/');
  const raw = atob(b64);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

/**
 * Asks for permission, subscribes and registers the subscription with the server. Throws a
 * ParleyError UNSUPPORTED when the server has no push; the caller then hides the control.
 */
export async function enablePush(client: ParleyClient, key: string): Promise<PushSupport> {
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') return permission === 'denied' ? 'denied' : 'available';
  const registration = await navigator.serviceWorker.register('/sw.js', { scope: '/' });
  await navigator.serviceWorker.ready;
  const subscription =
    (await registration.pushManager.getSubscription()) ??
    (await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) }));
  await client.connection.request(Command.PUSH_REGISTER, {
    provider: pb.PushProvider.WEB_PUSH,
    webPushSubscription: JSON.stringify(subscription),
    locale: navigator.language,
  });
  return 'enabled';
}
