import { pb } from '@parley/client';
import { listTime, preview } from '../format.js';
import { chatPath } from '../router.js';
import type { ChatStore } from '../state/chat-store.js';
import { Avatar } from './avatar.js';

/** Every conversation, newest activity first, live (the store re-renders it on every change). */
export function ConversationList({ store, active }: { store: ChatStore; active: string | undefined }) {
  const list = store.conversations();
  if (list.length === 0) {
    return <p class="list-empty muted">No conversations yet. Start one with “New chat”.</p>;
  }
  return (
    <nav aria-label="Conversation list">
      <ul class="conversation-list">
        {list.map((view) => {
          const title = store.title(view);
          const typing = store.typingIn(view.id);
          const unread = view.unread;
          const label = `${title}${unread > 0 ? `, ${String(unread)} unread` : ''}`;
          return (
            <li key={view.id}>
              <a
                href={chatPath(view.id)}
                data-route
                class={`conversation ${view.id === active ? 'active' : ''} ${unread > 0 ? 'has-unread' : ''}`}
                aria-current={view.id === active ? 'page' : undefined}
                aria-label={label}
                data-conversation={view.id}
              >
                <Avatar name={title} group={view.type === pb.ConversationType.GROUP} />
                <span class="conversation-main">
                  <span class="conversation-top">
                    <span class="conversation-title">{title}</span>
                    <time class="conversation-time">{listTime(view.activityAt)}</time>
                  </span>
                  <span class="conversation-bottom">
                    <span class={`conversation-preview ${typing.length > 0 ? 'typing' : ''}`}>
                      {typing.length > 0 ? `${typing.join(', ')} typing…` : preview(view.lastMessage, store.me)}
                    </span>
                    {view.mentionUnread > 0 && (
                      <span class="badge badge-mention" title="You were mentioned">
                        @
                      </span>
                    )}
                    {unread > 0 && (
                      <span class="badge" data-testid="unread">
                        {unread > 99 ? '99+' : unread}
                      </span>
                    )}
                  </span>
                </span>
              </a>
            </li>
          );
        })}
      </ul>
    </nav>
  );
}
