import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { AppServer, launch, signIn } from './helpers.js';

// The "Enable notifications" control depends on the server's Web Push key endpoint: shown when
// it answers with a key, hidden (and nothing else changes) when push is not configured.
describe('notifications control', () => {
  let server: AppServer;
  let browser: Browser;
  before(async () => {
    server = await AppServer.start();
    browser = await launch();
  });
  after(async () => {
    await browser.close();
    await server.stop();
  });

  for (const [label, status, body] of [
    ['hidden when push is not configured (404)', 404, { error: { code: 'NOT_FOUND', status: 3002, message: 'off' } }],
    [
      'shown when the server has a VAPID key',
      200,
      { publicKey: 'BEl62iUYgUivxIkv69yViEuiBIa-Ib9-SkvMeAtA3LFgDzkrxZJjSgSnfckjBJuBkr3qBUYIHBQFLXYp5Nksh8U' },
    ],
  ] as const) {
    test(label, async () => {
      const user = await signIn(browser, server.url, `push-${String(status)}`);
      await user.page.route('**/v1/push/web/vapid-public-key', (route) =>
        route.fulfill({ status, contentType: 'application/json', body: JSON.stringify(body) }),
      );
      await user.page.reload();
      await user.page.getByRole('button', { name: 'New chat' }).waitFor();
      await user.page.waitForLoadState('networkidle');
      const control = user.page.getByRole('button', { name: 'Enable notifications' });
      assert.equal(await control.count(), status === 200 ? 1 : 0);
      await user.context.close();
    });
  }
});
