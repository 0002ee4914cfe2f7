import { type ChatMessage, type OutboxMessage, type OutboxState, pb } from '@parley/client';
import { memo } from './memo.js';
import { clock, fileName, isImage, safeUrl, textParts } from '../format.js';
import { Avatar } from './avatar.js';
import { PaperclipIcon } from './icons.js';

export interface BubbleProps {
  /** The stored message, or the outbox entry of one's own not stored yet. */
  message: ChatMessage | undefined;
  pending: OutboxMessage | undefined;
  own: boolean;
  state: OutboxState | undefined;
  /** First of a run by one sender: shows the name (in groups) and the avatar. */
  first: boolean;
  showSender: boolean;
  members: ReadonlySet<string> | undefined;
  me: string;
  canRecall: boolean;
  onRetry: (localId: string) => void;
  onDiscard: (localId: string) => void;
  onRecall: (seq: number) => void;
}

const STATE_LABEL: Record<OutboxState, string> = {
  sending: 'Sending',
  sent: 'Sent',
  delivered: 'Delivered',
  read: 'Read',
  failed: 'Not sent',
};
const STATE_ICON: Record<OutboxState, string> = { sending: '◷', sent: '✓', delivered: '✓✓', read: '✓✓', failed: '!' };

function Content({
  content,
  members,
  me,
}: {
  content: pb.MessageContent.$Properties;
  members?: ReadonlySet<string> | undefined;
  me: string;
}) {
  const text = content.text ?? '';
  const body =
    text === '' ? null : (
      <p class="text">
        {textParts(text, members).map((part, i) =>
          part.kind === 'link' ? (
            <a key={i} href={part.href} target="_blank" rel="noopener noreferrer">
              {part.text}
            </a>
          ) : part.kind === 'mention' ? (
            <span key={i} class={`mention ${part.user === me || part.user === 'all' ? 'mention-me' : ''}`}>
              {part.text}
            </span>
          ) : (
            part.text
          ),
        )}
      </p>
    );
  if (content.type === pb.MessageType.ATTACHMENT) {
    return (
      <>
        {(content.attachments ?? []).map((a, i) => {
          const href = safeUrl(a.url ?? '');
          if (!href)
            return (
              <p key={i} class="text muted">
                An attachment with an unsupported link
              </p>
            );
          const name = a.name || fileName(href);
          if (isImage(a)) {
            const w = a.width && a.height ? a.width : 320;
            const h = a.width && a.height ? a.height : 200;
            return (
              <a key={i} class="image-link" href={href} target="_blank" rel="noopener noreferrer">
                <img
                  src={safeUrl(a.thumbnailUrl ?? '') ?? href}
                  alt={name}
                  loading="lazy"
                  width={w}
                  height={h}
                  style={{ aspectRatio: `${String(w)} / ${String(h)}` }}
                />
              </a>
            );
          }
          return (
            <a key={i} class="file-link" href={href} target="_blank" rel="noopener noreferrer">
              <PaperclipIcon /> <span>{name}</span> <span class="muted">{new URL(href).host}</span>
            </a>
          );
        })}
        {body}
      </>
    );
  }
  if (content.type === pb.MessageType.CUSTOM) return <pre class="custom">{content.custom}</pre>;
  return body;
}

function BubbleImpl(p: BubbleProps) {
  const { message, pending, own, state } = p;
  const sender = message?.senderId ?? p.me;
  const time = message?.serverTime || pending?.createdAt || 0;
  const recalled = message?.recalled === true;
  const content = message?.content ?? pending?.content ?? {};
  const mentioned = !own && (content.mentions ?? []).some((m) => m === p.me || m === '@all');
  const media = !recalled && content.type === pb.MessageType.ATTACHMENT && (content.attachments ?? []).some(isImage);
  return (
    <div
      class={`row ${own ? 'own' : 'theirs'} ${p.first ? 'first' : ''}`}
      data-seq={message?.seq}
      data-state={state}
      data-local-id={pending?.localId ?? (own ? message?.clientMessageId : undefined)}
    >
      {!own && p.showSender && (p.first ? <Avatar name={sender} size={32} /> : <span class="avatar-space" />)}
      <div
        class={`bubble ${recalled ? 'recalled' : ''} ${mentioned ? 'mentioned' : ''} ${media ? 'media' : ''} ${state === 'failed' ? 'failed' : ''}`}
      >
        {!own && p.showSender && p.first && <div class="sender">{sender}</div>}
        {recalled ? (
          <p class="text muted">{own ? 'You recalled a message' : `${sender} recalled a message`}</p>
        ) : (
          <Content content={content} members={p.members} me={p.me} />
        )}
        <div class="meta">
          <time dateTime={new Date(time).toISOString()}>{clock(time)}</time>
          {own && state && (
            <span class={`state state-${state}`} title={STATE_LABEL[state]} aria-label={STATE_LABEL[state]}>
              {STATE_ICON[state]}
            </span>
          )}
        </div>
        {state === 'failed' && pending && (
          <div class="actions">
            <span class="error">{pending.error?.message ?? 'Not sent'}</span>
            <button
              type="button"
              onClick={() => {
                p.onRetry(pending.localId);
              }}
            >
              Retry
            </button>
            <button
              type="button"
              onClick={() => {
                p.onDiscard(pending.localId);
              }}
            >
              Delete
            </button>
          </div>
        )}
        {p.canRecall && message && !recalled && (
          <button
            type="button"
            class="recall"
            onClick={() => {
              p.onRecall(message.seq);
            }}
            aria-label={`Recall message sent at ${clock(time)}`}
          >
            Recall
          </button>
        )}
      </div>
    </div>
  );
}

/** One message; re-rendered only when its own props change. */
export const MessageBubble = memo(BubbleImpl);
