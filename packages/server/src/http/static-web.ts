import { readFile, stat } from 'node:fs/promises';
import { extname, join, posix, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode } from '@parley/protocol';
import { errorResponse } from './errors.js';

/**
 * Serves the built web app (packages/web/dist) at `/`: files as they are, `index.html` for the
 * app's own routes (`/c/...`, `/live/...`), and a page that says how to build the app when it
 * is missing. The server never imports the web package: it only reads files from a directory.
 */

/** packages/web/dist, found from this file (src/http or dist/http of packages/server). */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL('../../../web/dist/', import.meta.url));

/** The directory to serve: `webDir` from the config, else {@link DEFAULT_WEB_DIR}. */
export function webDirOf(config: { webDir: string }): string {
  return resolve(config.webDir === '' ? DEFAULT_WEB_DIR : config.webDir);
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
};

/** Vite puts content-hashed files under assets/: they never change, so caches keep them for good. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Everything else (index.html, sw.js, icons) is revalidated with its ETag on every use. */
const REVALIDATE = 'no-cache';

/**
 * For the app's HTML: scripts and styles only from this origin; images and media by URL from
 * anywhere (attachments are links); the WebSocket to this server.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  'img-src * data: blob:',
  'media-src * data: blob:',
  "connect-src 'self' ws: wss:",
  "worker-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "frame-ancestors 'none'",
].join('; ');

const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Parley</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}
code{background:#eee;padding:.1em .3em;border-radius:4px}</style>
</head>
<body>
<h1>Parley</h1>
<p>This Parley server is running, but the web app is not built.</p>
<p>Build it with <code>npm run build -w @parley/web</code> (<code>npm start</code> does it when it is missing),
then reload this page.</p>
<p>HTTP API: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1) &middot;
metrics: <a href="/metrics">/metrics</a> &middot; health: <a href="/healthz">/healthz</a></p>
</body>
</html>
`;

/** Paths that belong to the API or the gateway: never answered with the app. */
const RESERVED = /^\/(v\d+|ws)(\/|$)/;

/**
 * Answers a GET or HEAD for `request`'s path from `dir`. Unknown paths without a file
 * extension are the app's routes and get `index.html`; unknown files get 404.
 */
export async function serveWebApp(dir: string, request: Request): Promise<Response> {
  let path: string;
  try {
    path = decodeURIComponent(new URL(request.url).pathname);
  } catch {
    return errorResponse(ErrorCode.INVALID_ARGUMENT, 'the path is not valid percent-encoding');
  }
  if (path.includes('\0')) return errorResponse(ErrorCode.INVALID_ARGUMENT, 'the path contains a NUL byte');
  if (RESERVED.test(path)) return errorResponse(ErrorCode.NOT_FOUND, `no route ${request.method} ${path}`);
  const root = resolve(dir);
  // normalize() on a path that starts with '/' cannot climb above it; the prefix check is a second guard.
  const file = join(root, posix.normalize(path));
  if (file !== root && !file.startsWith(root + sep)) {
    return errorResponse(ErrorCode.NOT_FOUND, 'not found');
  }
  const found = path.endsWith('/') ? undefined : await fileAt(file);
  if (found) return send(request, file, found, path.startsWith('/assets/') ? IMMUTABLE : REVALIDATE);
  if (extname(path) !== '') return errorResponse(ErrorCode.NOT_FOUND, `no file ${path}`);
  const indexFile = join(root, 'index.html');
  const index = await fileAt(indexFile);
  if (!index) {
    return new Response(NOT_BUILT_PAGE, {
      status: 404,
      headers: { 'content-type': TYPES['.html'] as string, 'cache-control': 'no-store' },
    });
  }
  return send(request, indexFile, index, REVALIDATE);
}

interface FileInfo {
  size: number;
  mtimeMs: number;
}

async function fileAt(path: string): Promise<FileInfo | undefined> {
  try {
    const s = await stat(path);
    return s.isFile() ? { size: s.size, mtimeMs: s.mtimeMs } : undefined;
  } catch {
    return undefined;
  }
}

async function send(request: Request, file: string, info: FileInfo, cacheControl: string): Promise<Response> {
  const etag = `W/"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
  const type = TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
  const headers: Record<string, string> = {
    'content-type': type,
    'cache-control': cacheControl,
    etag,
    'x-content-type-options': 'nosniff',
  };
  if (type.startsWith('text/html')) headers['content-security-policy'] = CSP;
  if (request.headers.get('if-none-match') === etag) return new Response(null, { status: 304, headers });
  let body: Buffer;
  try {
    body = await readFile(file);
  } catch {
    return errorResponse(ErrorCode.NOT_FOUND, 'not found'); // removed between stat and read (a rebuild)
  }
  return new Response(request.method === 'HEAD' ? null : new Uint8Array(body), { headers });
}
