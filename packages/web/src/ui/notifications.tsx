import { ErrorCode } from '@parley/client';
import { useEffect, useState } from 'preact/hooks';
import { type PushSupport, enablePush, pushSupport } from '../push.js';
import type { ChatStore } from '../state/chat-store.js';

/** "Enable notifications": shown only when the browser and the server both support Web Push. */
export function NotificationsToggle({ store }: { store: ChatStore }) {
  const [state, setState] = useState<{ support: PushSupport; key?: string }>({ support: 'unavailable' });
  const [error, setError] = useState('');
  useEffect(() => {
    let live = true;
    void pushSupport().then((s) => {
      if (live) setState(s);
    });
    return () => {
      live = false;
    };
  }, []);
  if (state.support === 'unavailable') return null;
  if (state.support === 'enabled') return <span class="muted small">Notifications on</span>;
  if (state.support === 'denied') return <span class="muted small">Notifications blocked</span>;
  return (
    <>
      <button
        type="button"
        onClick={() => {
          if (!state.key) return;
          enablePush(store.client, state.key).then(
            (support) => {
              setState({ ...state, support });
            },
            (err: unknown) => {
              if ((err as { code?: number }).code === ErrorCode.UNSUPPORTED) setState({ support: 'unavailable' });
              else setError(err instanceof Error ? err.message : String(err));
            },
          );
        }}
      >
        Enable notifications
      </button>
      {error && (
        <span class="error small" role="alert">
          {error}
        </span>
      )}
    </>
  );
}
