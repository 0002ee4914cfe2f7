import type { ChatStore } from '../state/chat-store.js';

/** Connecting, offline (sends wait in the outbox), back online. Overlays the pane: no layout shift. */
export function ConnectionBanner({ store }: { store: ChatStore }) {
  const link = store.link;
  const queued = store.queued;
  let text = '';
  if (link === 'connecting') text = 'Connecting…';
  else if (link === 'reconnecting') text = 'Connection lost. Reconnecting…';
  else if (link === 'offline') {
    text = `You are offline. ${queued > 0 ? `${String(queued)} message${queued === 1 ? '' : 's'} will be sent` : 'Messages will be sent'} when you are back online.`;
  } else if (link === 'back-online') text = 'Back online';
  else if (link === 'closed')
    text = `Disconnected: ${store.closeReason ?? 'the server ended the session'}. Reload to connect again.`;
  return (
    <div class={`banner banner-${link}`} role="status" aria-live="polite" data-link={link} hidden={text === ''}>
      {text}
    </div>
  );
}
