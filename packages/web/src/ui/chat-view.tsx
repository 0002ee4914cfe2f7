import { type ChatMessage, type OutboxMessage, pb } from '@parley/client';
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { dayLabel, sameDay, systemText } from '../format.js';
import { navigate } from '../router.js';
import type { ChatStore } from '../state/chat-store.js';
import { useStore } from '../state/use-store.js';
import { Avatar } from './avatar.js';
import { Composer } from './composer.js';
import { MembersPanel } from './members-panel.js';
import { MessageBubble } from './message-bubble.js';

/** Messages by one sender less than this apart form one run (one name, one avatar). */
const RUN_GAP_MS = 5 * 60_000;

type Row =
  | { kind: 'day'; key: string; label: string }
  | { kind: 'divider'; key: string }
  | { kind: 'system'; key: string; text: string }
  | {
      kind: 'message';
      key: string;
      message: ChatMessage | undefined;
      pending: OutboxMessage | undefined;
      sender: string;
      time: number;
    };

export function ChatView({ store, id }: { store: ChatStore; id: string }) {
  useStore(store);
  const view = store.conversation(id);
  const timeline = store.timeline(id);
  const pending = store.pending(id);
  const [showMembers, setShowMembers] = useState(false);
  const listRef = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const scroll = useRef({ height: 0, top: 0, firstSeq: 0, positioned: false });
  // Where the "new messages" line goes: after what was read when the chat was opened.
  const readAtOpen = useRef<number | undefined>(undefined);
  if (readAtOpen.current === undefined && view) readAtOpen.current = view.unread > 0 ? view.readSeq : Infinity;

  useEffect(() => {
    store.open(id);
  }, [store, id]);

  // Read what is on screen while the page is visible.
  const lastSeq = view?.lastSeq ?? 0;
  const unread = view?.unread ?? 0;
  useEffect(() => {
    const read = (): void => {
      if (document.visibilityState === 'visible' && unread > 0) store.markRead(id);
    };
    read();
    document.addEventListener('visibilitychange', read);
    return () => {
      document.removeEventListener('visibilitychange', read);
    };
  }, [store, id, lastSeq, unread]);

  const group = view?.type === pb.ConversationType.GROUP;
  const members = store.members(id);
  const memberIds = useMemo(() => (members ? new Set(members.map((m) => m.userId)) : undefined), [members]);
  const rows = useMemo(
    () => buildRows(timeline.messages, pending, store.me, readAtOpen.current ?? Infinity),
    [timeline.messages, pending.map((p) => `${p.localId}:${p.state}`).join(), store.me],
  );
  const handlers = useMemo(
    () => ({
      onRetry: (localId: string) => {
        store.retry(localId);
      },
      onDiscard: (localId: string) => {
        store.discard(localId);
      },
      onRecall: (seq: number) => {
        store.recall(id, seq).catch((err: unknown) => {
          alert(`Could not recall: ${err instanceof Error ? err.message : String(err)}`);
        });
      },
    }),
    [store, id],
  );

  // Keep the view where the reader is: at the bottom as messages arrive, in place when older ones load.
  const firstSeq = timeline.messages[0]?.seq ?? 0;
  useLayoutEffect(() => {
    const el = listRef.current;
    if (!el) return;
    const s = scroll.current;
    if (!s.positioned && timeline.started && !timeline.loading) {
      const divider = el.querySelector('.new-divider');
      if (divider instanceof HTMLElement) el.scrollTop = divider.offsetTop - 48;
      else el.scrollTop = el.scrollHeight;
      s.positioned = true;
    } else if (s.firstSeq !== 0 && firstSeq < s.firstSeq) {
      el.scrollTop = s.top + (el.scrollHeight - s.height);
    } else if (atBottom.current) {
      el.scrollTop = el.scrollHeight;
    }
    s.height = el.scrollHeight;
    s.top = el.scrollTop;
    s.firstSeq = firstSeq;
  });

  if (!view) {
    return (
      <section class="chat" aria-label="Conversation">
        <div class="empty-pane">
          <p>{store.conversations().length === 0 ? 'Loading…' : 'This conversation is not in your list.'}</p>
        </div>
      </section>
    );
  }

  const title = store.title(view);
  const typing = store.typingIn(id);
  const canRecallUntil = recallCutoff(store);
  return (
    <section class="chat" aria-label={`Conversation with ${title}`}>
      <header class="chat-head">
        <button
          type="button"
          class="icon-button back"
          aria-label="Back to the conversation list"
          onClick={() => {
            navigate('/');
          }}
        >
          ‹
        </button>
        <Avatar name={title} size={36} group={group} />
        <div class="chat-title">
          <h2>{title}</h2>
          <p class="muted" aria-live="polite">
            {typing.length > 0
              ? `${typing.join(', ')} ${typing.length === 1 ? 'is' : 'are'} typing…`
              : group
                ? `${String(view.memberCount)} members`
                : 'Direct chat'}
          </p>
        </div>
        {group && (
          <button
            type="button"
            onClick={() => {
              setShowMembers(true);
            }}
            aria-haspopup="dialog"
          >
            Members
          </button>
        )}
      </header>
      <div
        class="messages"
        ref={listRef}
        role="log"
        aria-label="Messages"
        aria-live="polite"
        tabIndex={0}
        onScroll={(e) => {
          const el = e.currentTarget;
          atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
          scroll.current.top = el.scrollTop;
          scroll.current.height = el.scrollHeight;
          if (el.scrollTop < 120 && scroll.current.positioned) store.loadOlder(id);
        }}
      >
        <div class="history-edge">
          {timeline.loading ? (
            <span class="muted" role="status">
              Loading…
            </span>
          ) : timeline.hasMore && timeline.started ? (
            <button
              type="button"
              class="link-button"
              onClick={() => {
                store.loadOlder(id);
              }}
            >
              Load older messages
            </button>
          ) : timeline.started ? (
            <span class="muted">This is the beginning of the conversation.</span>
          ) : null}
          {timeline.error && <span class="error">{timeline.error}</span>}
        </div>
        {rows.map((row, i) => {
          if (row.kind === 'day')
            return (
              <div key={row.key} class="day" role="separator">
                <span>{row.label}</span>
              </div>
            );
          if (row.kind === 'divider')
            return (
              <div key={row.key} class="new-divider" role="separator">
                <span>New messages</span>
              </div>
            );
          if (row.kind === 'system')
            return (
              <div key={row.key} class="system-note">
                {row.text}
              </div>
            );
          const prev = rows[i - 1];
          const first = !(prev?.kind === 'message' && prev.sender === row.sender && row.time - prev.time < RUN_GAP_MS);
          const own = row.sender === store.me;
          const seq = row.message?.seq ?? 0;
          return (
            <MessageBubble
              key={row.key}
              message={row.message}
              pending={row.pending}
              own={own}
              state={
                own
                  ? row.pending?.state === 'sending' || row.pending?.state === 'failed'
                    ? row.pending.state
                    : row.message
                      ? store.ownState(view, seq)
                      : row.pending?.state
                  : undefined
              }
              first={first}
              showSender={group}
              members={memberIds}
              me={store.me}
              canRecall={own && seq > 0 && row.time > canRecallUntil}
              {...handlers}
            />
          );
        })}
      </div>
      <div class="typing-line" aria-hidden="true">
        {typing.length > 0 && (
          <span class="typing-dots">
            <i />
            <i />
            <i />
          </span>
        )}
        {typing.length > 0 ? `${typing.join(', ')} typing` : ''}
      </div>
      <Composer store={store} id={id} group={group} members={members} />
      {showMembers && (
        <MembersPanel
          store={store}
          view={view}
          onClose={() => {
            setShowMembers(false);
          }}
        />
      )}
    </section>
  );
}

/** Messages sent before this (server clock) are past the recall window. */
function recallCutoff(store: ChatStore): number {
  const session = store.client.connection.session;
  const window = session?.limits.recallWindowMs ?? 120_000;
  return Date.now() + (session?.clockOffsetMs ?? 0) - window + 5_000;
}

function buildRows(
  messages: readonly ChatMessage[],
  pending: readonly OutboxMessage[],
  me: string,
  readAtOpen: number,
): Row[] {
  const rows: Row[] = [];
  let lastTime = 0;
  let divided = false;
  const add = (time: number): void => {
    if (lastTime === 0 || !sameDay(lastTime, time))
      rows.push({ kind: 'day', key: `day-${String(time)}`, label: dayLabel(time) });
    lastTime = time;
  };
  for (const m of messages) {
    if (m.content.type === pb.MessageType.RECALL) continue;
    add(m.serverTime);
    if (!divided && m.seq > readAtOpen && m.senderId !== me) {
      rows.push({ kind: 'divider', key: 'new-divider' });
      divided = true;
    }
    if (m.content.type === pb.MessageType.SYSTEM) {
      rows.push({
        kind: 'system',
        key: m.messageId || `s${String(m.seq)}`,
        text: systemText(m.content.system ?? {}, me),
      });
      continue;
    }
    rows.push({
      kind: 'message',
      key: m.clientMessageId || m.messageId,
      message: m,
      pending: undefined,
      sender: m.senderId,
      time: m.serverTime,
    });
  }
  for (const p of pending) {
    const time = p.serverTime || p.createdAt;
    add(time);
    rows.push({ kind: 'message', key: p.localId, message: undefined, pending: p, sender: me, time });
  }
  return rows;
}
