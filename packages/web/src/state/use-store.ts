import { useEffect, useState } from 'preact/hooks';
import type { ChatStore } from './chat-store.js';

/** Re-renders the component whenever the store changes (at most once per microtask). */
export function useStore(store: ChatStore): number {
  const [, setSeen] = useState(store.version);
  const rendered = store.version;
  useEffect(() => {
    const update = (): void => {
      setSeen(store.version);
    };
    const off = store.subscribe(update);
    // Effects run after paint: a change between the render and this subscription would be missed.
    if (store.version !== rendered) update();
    return off;
  }, [store]);
  return store.version;
}
