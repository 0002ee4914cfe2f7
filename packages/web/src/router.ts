// The app's routes in the path (the server answers every route with index.html):
// `/` the list, `/c/<conversation>` a chat, `/live/<room>` a live room.
import { useEffect, useState } from 'preact/hooks';

export type Route = { name: 'home' } | { name: 'chat'; id: string } | { name: 'live'; room: string };

export function parseRoute(path: string): Route {
  const chat = /^\/c\/([^/]+)\/?$/.exec(path);
  if (chat?.[1]) return { name: 'chat', id: decodeURIComponent(chat[1]) };
  const live = /^\/live\/([^/]+)\/?$/.exec(path);
  if (live?.[1]) return { name: 'live', room: decodeURIComponent(live[1]) };
  return { name: 'home' };
}

export function chatPath(id: string): string {
  return `/c/${encodeURIComponent(id)}`;
}

export function livePath(room: string): string {
  return `/live/${encodeURIComponent(room)}`;
}

export function navigate(path: string, replace = false): void {
  if (path === location.pathname) return;
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  dispatchEvent(new PopStateEvent('popstate'));
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.pathname));
  useEffect(() => {
    const update = (): void => {
      setRoute(parseRoute(location.pathname));
    };
    addEventListener('popstate', update);
    return () => {
      removeEventListener('popstate', update);
    };
  }, []);
  return route;
}

/** Follows same-origin links with the router instead of reloading the page. */
export function onLinkClick(event: MouseEvent): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  const a = (event.target as Element | null)?.closest('a');
  if (!a || a.target || a.origin !== location.origin || !a.hasAttribute('data-route')) return;
  event.preventDefault();
  navigate(a.pathname);
}
