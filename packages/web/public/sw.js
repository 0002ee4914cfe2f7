// Parley's service worker: shows the notifications the server sends by Web Push and opens the
// conversation when one is clicked. The payload (JSON, see packages/server/src/push/web-push.ts):
//   { title, body, badge, tag, silent, conversationId, seq, count }
// `tag` is one per conversation, so a newer notification replaces the older one; `badge` is
// the user's unread total; `silent` is set during the user's do-not-disturb hours.

const ICON = '/icon.svg';

self.addEventListener('install', () => {
  // A new version takes over at once: it has no caches to migrate.
  void self.skipWaiting();
});

self.addEventListener('activate', (event) => {
  event.waitUntil(self.clients.claim());
});

function parsePayload(event) {
  if (!event.data) return undefined;
  try {
    const value = event.data.json();
    return value && typeof value === 'object' ? value : undefined;
  } catch {
    return { title: 'Parley', body: event.data.text() };
  }
}

function chatUrl(conversationId) {
  return conversationId ? `/c/${encodeURIComponent(conversationId)}` : '/';
}

async function show(payload) {
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  for (const client of windows) {
    // An open tab updates its unread counts; the app decides whether to react.
    client.postMessage({ type: 'parley-push', payload });
  }
  if (typeof payload.badge === 'number' && 'setAppBadge' in self.navigator) {
    await self.navigator.setAppBadge(payload.badge).catch(() => undefined);
  }
  // Every push must show a notification (userVisibleOnly), even when a tab is open; one
  // already on screen for the conversation is replaced quietly.
  const title = typeof payload.title === 'string' && payload.title !== '' ? payload.title : 'Parley';
  await self.registration.showNotification(title, {
    body: typeof payload.body === 'string' ? payload.body : '',
    tag: typeof payload.tag === 'string' ? payload.tag : undefined,
    renotify: !payload.silent && typeof payload.tag === 'string',
    silent: payload.silent === true,
    icon: ICON,
    badge: ICON,
    timestamp: Date.now(),
    data: { conversationId: payload.conversationId ?? '', seq: payload.seq ?? 0 },
  });
}

self.addEventListener('push', (event) => {
  const payload = parsePayload(event) ?? { title: 'Parley', body: 'New message' };
  event.waitUntil(show(payload));
});

async function openConversation(conversationId) {
  const url = new URL(chatUrl(conversationId), self.location.origin).href;
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  // Prefer a tab already on the conversation, then any tab of the app.
  const exact = windows.find((c) => c.url === url);
  if (exact) return exact.focus();
  const any = windows.find((c) => new URL(c.url).origin === self.location.origin);
  if (any) {
    const focused = await any.focus();
    return (focused ?? any).navigate(url).catch(() => self.clients.openWindow(url));
  }
  return self.clients.openWindow(url);
}

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const conversationId = event.notification.data?.conversationId ?? '';
  event.waitUntil(openConversation(conversationId));
});

// The browser replaced the subscription (expiry, key rotation): tell open tabs, which
// register the new one with PUSH_REGISTER when they are logged in.
self.addEventListener('pushsubscriptionchange', (event) => {
  event.waitUntil(
    self.clients
      .matchAll({ type: 'window', includeUncontrolled: true })
      .then((windows) => windows.forEach((c) => c.postMessage({ type: 'parley-push-subscription-changed' }))),
  );
});
