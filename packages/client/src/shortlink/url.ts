import { SHORT_LINK_PATH } from '@parley/protocol';
import type { ServerEndpoints } from '../dns/server-endpoints.js';
import type { Transport } from '../transport/types.js';

/**
 * The short link's URL from a server address: a WebSocket URL maps to HTTP on the same host and
 * port (`wss://chat.example.com/ws` → `https://chat.example.com/v1/link`, a path ending in `/ws`
 * keeps its prefix); an http(s) URL with no path gets `/v1/link`, one with a path is taken as
 * is. Undefined for anything else (a TCP address says nothing about the HTTP port).
 */
export function shortLinkUrl(address: string): string | undefined {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return undefined;
  }
  if (url.protocol === 'ws:' || url.protocol === 'wss:') {
    const prefix = url.pathname.endsWith('/ws') ? url.pathname.slice(0, -3) : '';
    return `${url.protocol === 'wss:' ? 'https:' : 'http:'}//${url.host}${prefix}${SHORT_LINK_PATH}`;
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') {
    if (url.pathname === '/' || url.pathname === '') return `${url.protocol}//${url.host}${SHORT_LINK_PATH}`;
    return url.href;
  }
  return undefined;
}

/** The short link's URL for a transport that knows its server's URL (WebSocket), else undefined. */
export function shortLinkUrlOf(transport: Transport): string | undefined {
  return transport.url === undefined ? undefined : shortLinkUrl(transport.url);
}

/** The short link's URL from the server's own address list (`GET /v1/endpoints`): its first WebSocket URL. */
export function shortLinkUrlFromEndpoints(endpoints: ServerEndpoints): string | undefined {
  for (const ws of endpoints.ws) {
    const url = shortLinkUrl(ws);
    if (url) return url;
  }
  return undefined;
}
