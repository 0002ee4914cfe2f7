import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { AppServer, type User, launch, screenshot, signIn, waitFor } from './helpers.js';

const POSTERS = fileURLToPath(new URL('room-posters.ts', import.meta.url));
const CLIENTS_PER_PROCESS = 100;
const PROCESSES = 2;
const POST_EVERY_MS = 3_000;
const POST_FOR_MS = 12_000;
/** Generous: the page must keep answering while the room floods, on a busy shared machine. */
const RESPONSIVE_MS = 5_000;

interface Report {
  joined: number;
  sent: number;
  failed: number;
  errors: Record<string, number>;
}

/** Starts a poster process; resolves `ready` once its clients joined, `done` with its report. */
function posters(server: AppServer, prefix: string) {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--conditions=@parley/source',
      '--import',
      'tsx',
      POSTERS,
      server.url,
      String(server.tcpPort),
      'stage',
      String(CLIENTS_PER_PROCESS),
      prefix,
      String(POST_EVERY_MS),
      String(POST_FOR_MS),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const done = new Promise<Report>((resolve, reject) => {
    let report: Report | undefined;
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (line.startsWith('ready ')) markReady();
      else if (line.startsWith('{')) report = JSON.parse(line) as Report;
    });
    child.on('exit', (code) => {
      if (report) resolve(report);
      else reject(new Error(`poster process ${prefix} exited with ${String(code)} without a report`));
    });
  });
  return { child, ready, done };
}

describe('live room in Chromium', () => {
  let server: AppServer;
  let browser: Browser;
  let viewer: User;
  const children: ChildProcess[] = [];

  before(async () => {
    server = await AppServer.start({ limits: { roomSendsPerSecond: 2_000 } });
    browser = await launch();
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null) c.kill();
    await browser.close();
    await server.stop();
  });

  test('200 SDK clients post: counts, danmaku, sampling, and the page stays responsive', async () => {
    viewer = await signIn(browser, server.url, 'viewer');
    const page = viewer.page;
    await page.goto('/live/stage');
    const input = page.getByLabel('Say something in the room');
    await waitFor(() => input.isEnabled(), 20_000, 'the room joined');

    const groups = Array.from({ length: PROCESSES }, (_, i) => posters(server, `fan${String(i)}`));
    for (const g of groups) children.push(g.child);
    await Promise.all(groups.map((g) => g.ready));
    await page
      .getByTestId('online-count')
      .filter({ hasText: String(PROCESSES * CLIENTS_PER_PROCESS + 1) })
      .waitFor({ timeout: 60_000 });

    // While the room floods: clicks and script round trips keep answering.
    const pause = page.getByTestId('pause');
    let slowest = 0;
    let sampled = false;
    let maxFlying = 0;
    const shotAfter = Date.now() + 5_000;
    const until = Date.now() + POST_FOR_MS - 2_000;
    // A few seconds into the flood, before any click: what a viewer sees.
    await page.locator('.rate[data-sampling="true"]').waitFor({ timeout: 30_000 });
    await new Promise((r) => setTimeout(r, Math.max(0, shotAfter - Date.now())));
    await screenshot(page, 'live-room');
    while (Date.now() < until) {
      sampled ||= (await page.locator('.rate').getAttribute('data-sampling')) === 'true';
      maxFlying = Math.max(maxFlying, await page.locator('.danmaku').count());
      // Hide and show the danmaku: two clicks, each waited for until the page has re-rendered.
      const started = Date.now();
      await pause.click();
      await page.locator('[data-testid="pause"][aria-pressed="true"]').waitFor();
      await pause.click();
      await page.locator('[data-testid="pause"][aria-pressed="false"]').waitFor();
      await page.evaluate('1 + 1');
      slowest = Math.max(slowest, Date.now() - started);
      await new Promise((r) => setTimeout(r, 1_000));
    }
    console.log(
      `live room: slowest click round trip ${String(slowest)} ms, most danmaku on screen ${String(maxFlying)}`,
    );
    assert.ok(slowest < RESPONSIVE_MS, `a click took ${String(slowest)} ms`);
    assert.ok(sampled, 'high-rate mode switched on');
    assert.ok(maxFlying <= 40, 'danmaku on screen stay bounded');
    assert.ok((await page.locator('.feed li').count()) <= 50, 'the feed stays bounded');

    const reports = await Promise.all(groups.map((g) => g.done));
    const sent = reports.reduce((n, r) => n + r.sent, 0);
    const joined = reports.reduce((n, r) => n + r.joined, 0);
    console.log(
      `live room: ${String(joined)} clients sent ${String(sent)} messages`,
      reports.map((r) => r.errors),
    );
    assert.equal(joined, PROCESSES * CLIENTS_PER_PROCESS);
    assert.ok(sent > joined, 'every client posted');

    // The viewer posts too: it shows at once in the feed; the count falls back as the clients leave.
    await input.fill('Hello, stage!');
    await input.press('Enter');
    await page.locator('.feed li.own', { hasText: 'Hello, stage!' }).waitFor();
    await page.getByTestId('online-count').filter({ hasText: /^1$/ }).waitFor({ timeout: 60_000 });
  });
});
