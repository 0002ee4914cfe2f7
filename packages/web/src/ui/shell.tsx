import { useEffect, useState } from 'preact/hooks';
import { chatPath, livePath, navigate, onLinkClick, useRoute } from '../router.js';
import type { ChatStore } from '../state/chat-store.js';
import { useStore } from '../state/use-store.js';
import { type Theme, applyTheme, nextTheme, savedTheme } from '../theme.js';
import { Avatar } from './avatar.js';
import { ChatView } from './chat-view.js';
import { ConnectionBanner } from './connection-banner.js';
import { ConversationList } from './conversation-list.js';
import { LiveRoom } from './live-room.js';
import { NewConversation } from './new-conversation.js';
import { NotificationsToggle } from './notifications.js';

const THEME_LABEL: Record<Theme, string> = { system: 'Theme: system', light: 'Theme: light', dark: 'Theme: dark' };

/** The signed-in app: the list beside the open chat (one at a time on a phone). */
export function Shell({ store, onSignOut }: { store: ChatStore; onSignOut: () => void }) {
  useStore(store);
  const route = useRoute();
  const [creating, setCreating] = useState(false);
  const [theme, setTheme] = useState(savedTheme);
  const unread = store.totalUnread();

  useEffect(() => {
    document.title = unread > 0 ? `(${String(unread)}) Parley` : 'Parley';
  }, [unread]);

  const active = route.name === 'chat' ? route.id : undefined;
  return (
    <div class={`shell ${route.name === 'home' ? 'at-list' : 'at-detail'}`} onClick={onLinkClick}>
      <a class="skip-link" href="#main">
        Skip to the conversation
      </a>
      <aside class="sidebar" aria-label="Conversations">
        <header class="sidebar-head">
          <Avatar name={store.me} size={36} />
          <div class="me">
            <strong>{store.me}</strong>
            <button type="button" class="link-button" onClick={onSignOut}>
              Sign out
            </button>
          </div>
          <button
            type="button"
            class="icon-button"
            title={THEME_LABEL[theme]}
            aria-label={THEME_LABEL[theme]}
            onClick={() => {
              const t = nextTheme(theme);
              applyTheme(t);
              setTheme(t);
            }}
          >
            {theme === 'dark' ? '☾' : theme === 'light' ? '☀' : '◐'}
          </button>
        </header>
        <div class="sidebar-actions">
          <button
            type="button"
            class="primary"
            onClick={() => {
              setCreating(true);
            }}
          >
            New chat
          </button>
          <a class="button" href={livePath('lobby')} data-route>
            Live room
          </a>
          <NotificationsToggle store={store} />
        </div>
        <ConversationList store={store} active={active} />
      </aside>
      <main id="main" class="main" tabIndex={-1}>
        <ConnectionBanner store={store} />
        {route.name === 'chat' ? (
          <ChatView key={route.id} store={store} id={route.id} />
        ) : route.name === 'live' ? (
          <LiveRoom key={route.room} client={store.client} room={route.room} me={store.me} />
        ) : (
          <div class="empty-pane">
            <p>Pick a conversation, or start a new one.</p>
          </div>
        )}
      </main>
      {creating && (
        <NewConversation
          store={store}
          onClose={(id) => {
            setCreating(false);
            if (id) navigate(chatPath(id));
          }}
        />
      )}
    </div>
  );
}
