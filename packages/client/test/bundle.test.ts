import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bundleBrowser } from '../scripts/bundle.js';

test('the SDK core bundles for browsers with no Node built-ins and no bundler warnings', async () => {
  const { code, report } = await bundleBrowser();
  assert.deepEqual(report.warnings, []);
  assert.ok(report.minifiedBytes > 0);
  assert.ok(report.parts.schema > 0 && report.parts.sdk > 0);
  const text = new TextDecoder().decode(code);
  assert.doesNotMatch(text, /from\s*["']node:/);
  assert.doesNotMatch(text, /require\(["'](net|tls|fs|crypto|zlib)["']\)/);
});

test('the bundled code decodes 64-bit fields as plain numbers (its side-effect import survives bundling)', async () => {
  const { code } = await bundleBrowser();
  const url = `data:text/javascript;base64,${Buffer.from(code).toString('base64')}`;
  const sdk = (await import(url)) as typeof import('../src/index.js');
  const bytes = sdk.pb.Message.encode({ seq: 1042, serverTime: 1767225600000 }).finish();
  const decoded = sdk.pb.Message.decode(bytes);
  assert.equal(typeof decoded.seq, 'number');
  assert.equal(decoded.seq, 1042);
  assert.equal(sdk.pb.Message.decode(new Uint8Array(0)).seq, 0);
});
