import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { installHttpApi } from '../src/index.js';
import { DEFAULT_WEB_DIR, webDirOf } from '../src/http/static-web.js';
import { TestServer } from './helpers/server.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw HTTP request (fetch would normalise `..` in the path away before sending it). */
function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('web app at /', () => {
  let dir: string;
  let ts: TestServer;
  let port: number;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-web-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>app</title><div id="app"></div>');
    writeFileSync(join(dir, 'assets', 'main-abc123.js'), 'console.log(1)');
    writeFileSync(join(dir, 'assets', 'main-abc123.css'), 'body{}');
    writeFileSync(join(dir, 'sw.js'), 'self.addEventListener("push", () => {})');
    writeFileSync(join(dir, 'icon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    writeFileSync(join(tmpdir(), 'parley-secret.txt'), 'outside');
    ts = await TestServer.start({ webDir: dir }, { http: installHttpApi });
    port = ts.port('ws');
  });
  after(async () => {
    await ts.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('index.html at / and for the app routes, revalidated, with a CSP', async () => {
    for (const path of ['/', '/c/d_abc', '/live/lobby', '/index.html']) {
      const res = await get(port, path);
      assert.equal(res.status, 200, path);
      assert.match(res.body, /<div id="app">/);
      assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
      assert.equal(res.headers['cache-control'], 'no-cache');
      assert.match(String(res.headers['content-security-policy']), /default-src 'self'/);
    }
  });

  test('files with their content types; hashed assets cached for good', async () => {
    const js = await get(port, '/assets/main-abc123.js');
    assert.equal(js.status, 200);
    assert.equal(js.body, 'console.log(1)');
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(js.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(js.headers['x-content-type-options'], 'nosniff');
    const css = await get(port, '/assets/main-abc123.css');
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
    const sw = await get(port, '/sw.js');
    assert.equal(sw.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(sw.headers['cache-control'], 'no-cache');
    const svg = await get(port, '/icon.svg');
    assert.equal(svg.headers['content-type'], 'image/svg+xml');
  });

  test('ETag revalidation answers 304; HEAD has no body', async () => {
    const first = await get(port, '/sw.js');
    const etag = String(first.headers.etag);
    assert.match(etag, /^W\/"/);
    const again = await get(port, '/sw.js', { 'if-none-match': etag });
    assert.equal(again.status, 304);
    assert.equal(again.body, '');
    const head = await get(port, '/assets/main-abc123.js', {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
  });

  test('a missing file is 404, not the app; the API keeps its JSON 404', async () => {
    const missing = await get(port, '/assets/gone-000.js');
    assert.equal(missing.status, 404);
    assert.match(missing.headers['content-type'] as string, /application\/json/);
    const api = await get(port, '/v1/nothing-here');
    assert.equal(api.status, 404);
    assert.match(api.body, /"NOT_FOUND"/);
    const health = await get(port, '/healthz');
    assert.equal(health.status, 200);
    assert.match(health.body, /ok/);
  });

  test('no way out of the directory; bad encodings are refused', async () => {
    for (const path of ['/../parley-secret.txt', '/%2e%2e/parley-secret.txt', '/assets/..%2f..%2fparley-secret.txt']) {
      const res = await get(port, path);
      assert.notEqual(res.body, 'outside', path);
      assert.ok(res.status === 404 || res.status === 200, `${path}: ${String(res.status)}`);
    }
    const bad = await get(port, '/%E0%A4%A');
    assert.equal(bad.status, 400);
    const nul = await get(port, '/a%00b');
    assert.equal(nul.status, 400);
  });

  test('an unbuilt app gets a page that says how to build it', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'parley-web-empty-'));
    const other = await TestServer.start({ webDir: empty }, { http: installHttpApi });
    try {
      const res = await get(other.port('ws'), '/');
      assert.equal(res.status, 404);
      assert.match(res.headers['content-type'] as string, /text\/html/);
      assert.match(res.body, /npm run build -w @parley\/web/);
      assert.match(res.body, /href="\/openapi\.json"/);
      const route = await get(other.port('ws'), '/c/someone');
      assert.equal(route.status, 404);
    } finally {
      await other.stop();
      rmSync(empty, { recursive: true, force: true });
    }
  });

  test('the default directory is packages/web/dist', () => {
    assert.match(DEFAULT_WEB_DIR, /packages\/web\/dist\/?$/);
    assert.equal(webDirOf({ webDir: '' }), DEFAULT_WEB_DIR.replace(/\/$/, ''));
    assert.equal(webDirOf({ webDir: '/srv/app' }), '/srv/app');
  });
});
