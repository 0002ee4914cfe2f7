import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ParleyClient, pb } from '@parley/client';
import { tcpTransport } from '@parley/client/node';
import { issueToken } from '@parley/server';
import type { Browser } from 'playwright-core';
import {
  AppServer,
  type User,
  bubbleTexts,
  createChat,
  launch,
  openChat,
  ownBubble,
  screenshot,
  send,
  signIn,
  waitFor,
  waitForLink,
} from './helpers.js';

describe('web chat in Chromium', () => {
  let server: AppServer;
  let browser: Browser;
  let alice: User;
  let bob: User;
  let carol: User;

  before(async () => {
    // A small message limit, so the test can make the server refuse a message for good.
    server = await AppServer.start({ limits: { maxMessageBytes: 512 } });
    browser = await launch();
    alice = await signIn(browser, server.url, 'alice');
    bob = await signIn(browser, server.url, 'bob');
  });
  after(async () => {
    await browser.close();
    await server.stop();
  });

  test('sign in, start a chat, exchange messages: delivered, read, typing, unread badge and title', async () => {
    await createChat(alice.page, 'direct', ['bob']);
    await alice.page.locator('.chat-head h2', { hasText: 'bob' }).waitFor();
    await send(alice.page, 'Hi Bob! Are you there?');
    // Bob is online with the list open: his device receives it (delivered), but has not read it.
    await ownBubble(alice.page, 'Hi Bob! Are you there?').and(alice.page.locator('[data-state="delivered"]')).waitFor();
    const row = bob.page.locator('.conversation', { hasText: 'alice' });
    await row.locator('[data-testid="unread"]', { hasText: '1' }).waitFor();
    await row.locator('.conversation-preview', { hasText: 'Hi Bob! Are you there?' }).waitFor();
    await waitFor(async () => (await bob.page.title()) === '(1) Parley', 10_000, 'the unread count in the tab title');

    await openChat(bob.page, 'alice');
    await ownBubble(alice.page, 'Hi Bob! Are you there?').and(alice.page.locator('[data-state="read"]')).waitFor();
    await waitFor(async () => (await bob.page.title()) === 'Parley', 10_000, 'the title without unread');
    await bob.page.locator('.new-divider').waitFor(); // opened with an unread message: the "new messages" line

    // Typing: Bob types without sending; Alice sees it, and it ends when he sends.
    await bob.page.getByLabel('Message', { exact: true }).fill('Yes, I am here');
    await alice.page.locator('.chat-title p', { hasText: 'bob is typing' }).waitFor();
    await bob.page.getByLabel('Message', { exact: true }).press('Enter');
    await alice.page.locator('.bubble .text', { hasText: 'Yes, I am here' }).waitFor();
    await alice.page.locator('.chat-title p', { hasText: 'Direct chat' }).waitFor();
    await ownBubble(bob.page, 'Yes, I am here').and(bob.page.locator('[data-state="read"]')).waitFor();

    // A link, an image attachment by URL, a recall.
    await send(alice.page, 'The docs: https://example.com/parley/docs');
    await alice.page.getByRole('button', { name: 'Attach a link' }).click();
    await alice.page.getByLabel('Link to a file or image').fill(`${server.url}/icon.svg`);
    await alice.page.getByRole('button', { name: 'Attach', exact: true }).click();
    await bob.page.locator('.bubble a[href="https://example.com/parley/docs"]').waitFor();
    await bob.page.locator('.bubble img[alt="icon.svg"]').waitFor();
    await send(alice.page, 'oops, wrong chat');
    const oops = ownBubble(alice.page, 'oops, wrong chat');
    await oops.and(alice.page.locator('[data-state="read"]')).waitFor();
    await bob.page.locator('.bubble .text', { hasText: 'oops, wrong chat' }).waitFor();
    await oops.hover();
    await oops.getByRole('button', { name: /Recall/ }).click();
    await bob.page.locator('.bubble.recalled', { hasText: 'alice recalled a message' }).waitFor();
    await alice.page.locator('.bubble.recalled', { hasText: 'You recalled a message' }).waitFor();
    assert.ok(!(await bubbleTexts(bob.page)).includes('oops, wrong chat'));

    await send(bob.page, 'See you at the standup');
    await alice.page.locator('.bubble .text', { hasText: 'See you at the standup' }).waitFor();
    await screenshot(alice.page, 'chat');
  });

  test('a group of three: created, seen by all, mentions, members by role', async () => {
    carol = await signIn(browser, server.url, 'carol');
    await createChat(alice.page, 'group', ['bob', 'carol'], 'Launch crew');
    for (const user of [bob, carol]) {
      await user.page.locator('.conversation-title', { hasText: 'Launch crew' }).waitFor();
    }
    await send(alice.page, 'Welcome to the launch crew!');
    await openChat(carol.page, 'Launch crew');
    await carol.page.locator('.system-note', { hasText: 'alice created the conversation' }).waitFor();
    await carol.page.locator('.bubble .text', { hasText: 'Welcome to the launch crew!' }).waitFor();

    // Carol mentions Alice through the suggestion list, while Alice is in another chat.
    await openChat(alice.page, 'bob');
    const box = carol.page.getByLabel('Message', { exact: true });
    await box.pressSequentially('@ali');
    await carol.page.getByRole('option', { name: '@alice' }).waitFor();
    await box.press('Enter');
    await box.pressSequentially('can you share the checklist?');
    assert.equal(await box.inputValue(), '@alice can you share the checklist?');
    await box.press('Enter');
    const groupRow = alice.page.locator('.conversation', { hasText: 'Launch crew' });
    await groupRow.locator('.badge-mention').waitFor();
    await openChat(bob.page, 'Launch crew');
    await bob.page.locator('.bubble .mention', { hasText: '@alice' }).waitFor();
    await send(bob.page, 'On it. Checklist: https://example.com/checklist');
    await openChat(alice.page, 'Launch crew');
    await alice.page.locator('.bubble.mentioned', { hasText: 'can you share the checklist?' }).waitFor();

    await alice.page.getByRole('button', { name: 'Members' }).click();
    const dialog = alice.page.getByRole('dialog');
    await dialog.locator('.member-list li', { hasText: 'alice' }).locator('.role', { hasText: 'Owner' }).waitFor();
    await dialog.locator('.member-list li', { hasText: 'bob' }).locator('.role', { hasText: 'Member' }).waitFor();
    await dialog.locator('.member-list li', { hasText: 'bob' }).getByRole('button', { name: 'Make admin' }).click();
    await dialog.locator('.member-list li', { hasText: 'bob' }).locator('.role', { hasText: 'Admin' }).waitFor();
    await alice.page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    await alice.page.locator('.system-note', { hasText: 'You made bob admin' }).waitFor();
    await screenshot(alice.page, 'group');
    await screenshot(carol.page, 'list');
  });

  test('offline: three messages wait in the outbox and arrive in order, once each', async () => {
    await openChat(bob.page, 'alice');
    await openChat(alice.page, 'bob');
    await bob.context.setOffline(true);
    await waitForLink(bob.page, 'offline');
    const texts = ['offline one', 'offline two', 'offline three'];
    for (const t of texts) await send(bob.page, t);
    for (const t of texts) await ownBubble(bob.page, t).and(bob.page.locator('[data-state="sending"]')).waitFor();
    await bob.page.locator('.banner', { hasText: '3 messages will be sent' }).waitFor();
    await screenshot(bob.page, 'offline');
    await bob.context.setOffline(false);
    await waitForLink(bob.page, 'back-online');
    for (const t of texts) await ownBubble(bob.page, t).and(bob.page.locator('[data-state="read"]')).waitFor();
    await alice.page.locator('.bubble .text', { hasText: 'offline three' }).waitFor();
    const seen = (await bubbleTexts(alice.page)).filter((t) => t.startsWith('offline '));
    assert.deepEqual(seen, texts, 'in order, once each');
    // After a reload the chat is rebuilt from the server: still once each, in order.
    await alice.page.reload();
    await alice.page.locator('.bubble .text', { hasText: 'offline three' }).waitFor();
    assert.deepEqual(
      (await bubbleTexts(alice.page)).filter((t) => t.startsWith('offline ')),
      texts,
    );
  });

  test('a message the server refuses is marked failed, with retry and delete', async () => {
    await openChat(alice.page, 'bob');
    const long = `A very long message ${'x'.repeat(700)}`;
    await send(alice.page, long);
    const failed = alice.page.locator('.row.own[data-state="failed"]');
    await failed.waitFor();
    await failed.locator('.error', { hasText: /too large|exceeds/ }).waitFor();
    await failed.getByRole('button', { name: 'Retry' }).click();
    await alice.page.locator('.row.own[data-state="failed"]').waitFor(); // refused again, still failed
    await failed.getByRole('button', { name: 'Delete' }).click();
    await failed.waitFor({ state: 'detached' });
  });

  test('older history loads on scroll, in order, up to the beginning', async () => {
    const erin = await sdkUser(server, 'erin');
    try {
      const direct = (await erin.createConversation({ type: 'direct', members: ['alice'] })).id;
      const texts = Array.from({ length: 75 }, (_, i) => `history ${String(i + 1).padStart(2, '0')}`);
      const sent = texts.map((t) => erin.send(direct, t));
      await waitFor(() => sent.every((m) => erin.outbox.get(m.localId)?.state !== 'sending'), 30_000, 'erin sent all');
      await openChat(alice.page, 'erin');
      await alice.page.locator('.bubble .text', { hasText: 'history 75' }).waitFor();
      const list = alice.page.getByRole('log', { name: 'Messages' });
      for (let i = 0; i < 10; i++) {
        if (await alice.page.getByText('This is the beginning of the conversation.').isVisible()) break;
        await list.evaluate('(el) => { el.scrollTop = 0; el.dispatchEvent(new Event("scroll")); }');
        await new Promise((r) => setTimeout(r, 300));
      }
      await alice.page.getByText('This is the beginning of the conversation.').waitFor();
      assert.deepEqual(
        (await bubbleTexts(alice.page)).filter((t) => t.startsWith('history ')),
        texts,
      );
    } finally {
      await erin.close();
    }
  });

  test('phone width in the dark theme', async () => {
    const dave = await signIn(browser, server.url, 'dave', {
      viewport: { width: 390, height: 780 },
      colorScheme: 'dark',
    });
    await createChat(dave.page, 'direct', ['alice']);
    await send(dave.page, 'Hello from a phone');
    await ownBubble(dave.page, 'Hello from a phone').waitFor();
    await screenshot(dave.page, 'phone-chat');
    await dave.page.getByRole('button', { name: 'Back to the conversation list' }).click();
    await dave.page.locator('.conversation-title', { hasText: 'alice' }).waitFor();
    await screenshot(dave.page, 'phone-list');
    await dave.context.close();
  });
});

/** A headless SDK user on TCP (for bulk history). */
async function sdkUser(server: AppServer, userId: string): Promise<ParleyClient> {
  const client = new ParleyClient({
    transport: tcpTransport({ host: '127.0.0.1', port: server.tcpPort }),
    token: () => issueToken({ secret: server.server.appSecret, userId }),
    deviceId: `${userId}-node`,
    platform: pb.Platform.DESKTOP,
  });
  await client.connect();
  await client.ready({ timeoutMs: 20_000 });
  return client;
}
