/**
 * Calls `onOnline` on the browser's `online` event, where there is one (`globalThis` is an
 * EventTarget in browsers and workers, not in Node). Returns a function that stops, or
 * undefined when there is nothing to watch.
 */
export function watchOnline(onOnline: () => void): (() => void) | undefined {
  const target = globalThis as {
    addEventListener?: (type: string, listener: () => void) => void;
    removeEventListener?: (type: string, listener: () => void) => void;
  };
  if (typeof target.addEventListener !== 'function') return undefined;
  const listener = (): void => {
    onOnline();
  };
  target.addEventListener('online', listener);
  return () => target.removeEventListener?.('online', listener);
}
