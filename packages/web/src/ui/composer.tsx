import { pb } from '@parley/client';
import { useRef, useState } from 'preact/hooks';
import { fileName, guessMime, mentionsIn, safeUrl } from '../format.js';
import type { ChatStore, Member } from '../state/chat-store.js';
import { PaperclipIcon } from './icons.js';

/** Typing notices go out at most this often while the user types, and stop after this long idle. */
const TYPING_EVERY_MS = 3_000;
const TYPING_IDLE_MS = 4_000;

/** The message box: Enter sends, Shift+Enter breaks the line, @ suggests members, 📎 attaches a link. */
export function Composer({
  store,
  id,
  group,
  members,
}: {
  store: ChatStore;
  id: string;
  group: boolean;
  members: readonly Member[] | undefined;
}) {
  const [text, setText] = useState('');
  const [attaching, setAttaching] = useState(false);
  const [url, setUrl] = useState('');
  const [urlError, setUrlError] = useState('');
  const [mention, setMention] = useState<{ query: string; index: number } | undefined>();
  const box = useRef<HTMLTextAreaElement>(null);
  const typing = useRef({ sentAt: 0, timer: undefined as ReturnType<typeof setTimeout> | undefined });

  const memberIds = new Set((members ?? []).map((m) => m.userId));
  const suggestions =
    mention && group
      ? [...(members ?? []).map((m) => m.userId).filter((u) => u !== store.me), 'all']
          .filter((u) => u.toLowerCase().startsWith(mention.query.toLowerCase()))
          .slice(0, 6)
      : [];

  function stopTyping(): void {
    clearTimeout(typing.current.timer);
    if (typing.current.sentAt !== 0) store.client.typing(id, false);
    typing.current.sentAt = 0;
  }

  function onTyped(value: string, caret: number): void {
    setText(value);
    const before = value.slice(0, caret);
    const m = /(^|\s)@([\w.-]*)$/.exec(before);
    setMention(m ? { query: m[2] ?? '', index: 0 } : undefined);
    if (value === '') {
      stopTyping();
      return;
    }
    const now = Date.now();
    if (now - typing.current.sentAt > TYPING_EVERY_MS && store.client.typing(id, true)) typing.current.sentAt = now;
    clearTimeout(typing.current.timer);
    typing.current.timer = setTimeout(stopTyping, TYPING_IDLE_MS);
  }

  function pick(user: string): void {
    const el = box.current;
    if (!el) return;
    const caret = el.selectionStart;
    const before = text.slice(0, caret).replace(/@([\w.-]*)$/, `@${user} `);
    const next = before + text.slice(caret);
    // Set the box and the caret now, not after the next render: the next key may come first.
    el.value = next;
    el.setSelectionRange(before.length, before.length);
    el.focus();
    setText(next);
    setMention(undefined);
  }

  function send(): void {
    const body = text.trim();
    if (body === '') return;
    const mentions = group ? mentionsIn(body, memberIds) : [];
    store.send(id, mentions.length > 0 ? { type: pb.MessageType.TEXT, text: body, mentions } : body);
    typing.current.sentAt = 0;
    clearTimeout(typing.current.timer);
    setText('');
    setMention(undefined);
  }

  function attach(): void {
    const href = safeUrl(url.trim());
    if (!href) {
      setUrlError('Enter an http:// or https:// link.');
      return;
    }
    store.send(id, {
      type: pb.MessageType.ATTACHMENT,
      text: text.trim(),
      attachments: [{ url: href, name: fileName(href), mimeType: guessMime(href) }],
    });
    setUrl('');
    setUrlError('');
    setText('');
    setAttaching(false);
    box.current?.focus();
  }

  return (
    <div class="composer-wrap">
      {attaching && (
        <form
          class="attach-form"
          onSubmit={(e) => {
            e.preventDefault();
            attach();
          }}
        >
          <label for="attach-url">Link to a file or image</label>
          <input
            id="attach-url"
            type="url"
            value={url}
            autoFocus
            placeholder="https://example.com/photo.jpg"
            onInput={(e) => {
              setUrl(e.currentTarget.value);
            }}
            aria-invalid={urlError !== ''}
          />
          <button type="submit" class="primary">
            Attach
          </button>
          <button
            type="button"
            onClick={() => {
              setAttaching(false);
            }}
          >
            Cancel
          </button>
          {urlError && (
            <p class="error" role="alert">
              {urlError}
            </p>
          )}
        </form>
      )}
      {suggestions.length > 0 && mention && (
        <ul class="mention-list" role="listbox" id="mention-list" aria-label="Mention someone">
          {suggestions.map((u, i) => (
            <li
              key={u}
              id={`mention-${u}`}
              role="option"
              aria-selected={i === mention.index}
              class={i === mention.index ? 'selected' : ''}
              onMouseDown={(e) => {
                e.preventDefault();
                pick(u);
              }}
            >
              @{u}
            </li>
          ))}
        </ul>
      )}
      <form
        class="composer"
        onSubmit={(e) => {
          e.preventDefault();
          send();
        }}
      >
        <button
          type="button"
          class="icon-button"
          aria-label="Attach a link"
          aria-expanded={attaching}
          onClick={() => {
            setAttaching(!attaching);
          }}
        >
          <PaperclipIcon />
        </button>
        <label for="message-input" class="sr-only">
          Message
        </label>
        <textarea
          id="message-input"
          ref={box}
          rows={1}
          value={text}
          placeholder={group ? 'Message (type @ to mention)' : 'Message'}
          maxLength={4000}
          aria-autocomplete={group ? 'list' : undefined}
          aria-controls={suggestions.length > 0 ? 'mention-list' : undefined}
          aria-activedescendant={
            suggestions.length > 0 && mention ? `mention-${String(suggestions[mention.index])}` : undefined
          }
          onInput={(e) => {
            onTyped(e.currentTarget.value, e.currentTarget.selectionStart);
          }}
          onBlur={stopTyping}
          onKeyDown={(e) => {
            if (suggestions.length > 0 && mention) {
              if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
                e.preventDefault();
                const step = e.key === 'ArrowDown' ? 1 : -1;
                setMention({ ...mention, index: (mention.index + step + suggestions.length) % suggestions.length });
                return;
              }
              if (e.key === 'Enter' || e.key === 'Tab') {
                e.preventDefault();
                pick(suggestions[mention.index] ?? '');
                return;
              }
              if (e.key === 'Escape') {
                setMention(undefined);
                return;
              }
            }
            if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              send();
            }
          }}
        />
        <button type="submit" class="primary send" disabled={text.trim() === ''}>
          Send
        </button>
      </form>
    </div>
  );
}
