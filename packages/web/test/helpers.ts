// Browser-test helpers: a real Parley server serving the built app (dist/), Debian's Chromium
// driven by playwright-core, users signed in through the page, and screenshots for review.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ConfigInput, type StartedServer, installHttpApi, parseConfig, startServer } from '@parley/server';
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';

export const WEB_DIR = fileURLToPath(new URL('../dist/', import.meta.url));
export const OUTPUT_DIR = fileURLToPath(new URL('../test-output/', import.meta.url));
const CHROMIUM = process.env.PARLEY_CHROMIUM ?? '/usr/bin/chromium';

/** A server on free ports in a temporary data dir, serving the built web app at `/`. */
export class AppServer {
  private constructor(
    readonly server: StartedServer,
    private readonly dataDir: string,
  ) {}

  static async start(overrides: Partial<ConfigInput> = {}): Promise<AppServer> {
    if (!existsSync(join(WEB_DIR, 'index.html'))) throw new Error('build the app first: npm run build -w @parley/web');
    const dataDir = mkdtempSync(join(tmpdir(), 'parley-web-test-'));
    const config = parseConfig({
      dataDir,
      tcpPort: 0,
      tls: false,
      httpPort: 0,
      logLevel: 'silent',
      webDir: WEB_DIR,
      ...overrides,
      limits: {
        sendsPerSecond: 1_000,
        sendBurst: 1_000,
        requestsPerSecond: 1_000,
        requestBurst: 1_000,
        ...overrides.limits,
      },
    });
    return new AppServer(await startServer(config, { http: installHttpApi }), dataDir);
  }

  get url(): string {
    const http = this.server.addresses.http;
    if (!http) throw new Error('no http listener');
    return `http://127.0.0.1:${String(http.port)}`;
  }

  get tcpPort(): number {
    const tcp = this.server.addresses.tcp;
    if (!tcp) throw new Error('no tcp listener');
    return tcp.port;
  }

  async stop(): Promise<void> {
    await this.server.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

export function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM} (apt-get install chromium)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

export interface User {
  name: string;
  context: BrowserContext;
  page: Page;
}

/** A new browser context (its own storage) with the user signed in through the sign-in form. */
export async function signIn(
  browser: Browser,
  baseUrl: string,
  name: string,
  options: { viewport?: { width: number; height: number }; colorScheme?: 'light' | 'dark' } = {},
): Promise<User> {
  const context = await browser.newContext({
    baseURL: baseUrl,
    viewport: options.viewport ?? { width: 1100, height: 720 },
    colorScheme: options.colorScheme ?? 'light',
    reducedMotion: 'no-preference',
  });
  const page = await context.newPage();
  page.on('pageerror', (err) => {
    console.error(`[${name}] page error: ${err.message}`);
  });
  page.on('console', (message) => {
    if (message.type() === 'warning' || message.type() === 'error') console.error(`[${name}] ${message.text()}`);
  });
  await page.goto('/');
  await page.getByLabel('User name').fill(name);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'New chat' }).waitFor();
  await waitForLink(page, 'online');
  return { name, context, page };
}

/** Waits until the connection banner says `state` (online means hidden). */
export async function waitForLink(
  page: Page,
  state: 'online' | 'offline' | 'back-online',
  timeout = 45_000,
): Promise<void> {
  try {
    await page.locator(`.banner[data-link="${state}"]`).waitFor({ state: 'attached', timeout });
  } catch (err) {
    const now = await page
      .locator('.banner')
      .getAttribute('data-link')
      .catch(() => 'no banner');
    const text = await page
      .locator('body')
      .innerText()
      .catch(() => '');
    throw new Error(`the link is ${String(now)}, not ${state}; the page says: ${text.slice(0, 300)}`, { cause: err });
  }
}

/** Opens the "New chat" dialog and creates a direct chat or a group. */
export async function createChat(page: Page, kind: 'direct' | 'group', members: string[], name = ''): Promise<void> {
  await page.getByRole('button', { name: 'New chat' }).click();
  const dialog = page.getByRole('dialog', { name: 'New chat' });
  if (kind === 'group') {
    await dialog.getByText('Group', { exact: true }).click();
    await dialog.getByLabel('Group name').fill(name);
  }
  await dialog.getByLabel(kind === 'direct' ? 'User name' : /Members/).fill(members.join(', '));
  await dialog.getByRole('button', { name: kind === 'direct' ? 'Start chat' : 'Create group' }).click();
  await dialog.waitFor({ state: 'detached' });
  await page.locator('.chat-head h2').waitFor();
}

export async function send(page: Page, text: string): Promise<void> {
  const box = page.getByLabel('Message', { exact: true });
  await box.fill(text);
  await box.press('Enter');
}

/** Opens a conversation from the list by its title. */
export async function openChat(page: Page, title: string): Promise<void> {
  await page
    .locator('.conversation', { has: page.locator('.conversation-title', { hasText: new RegExp(`^${title}$`) }) })
    .click();
  await page.locator('.chat-head h2', { hasText: title }).waitFor();
}

/** The texts of the message bubbles in the open chat, in screen order. */
export async function bubbleTexts(page: Page): Promise<string[]> {
  return page.locator('.messages .bubble .text').allInnerTexts();
}

/** The state (sending, sent, delivered, read, failed) of one's own bubble with this text. */
export function ownBubble(page: Page, text: string) {
  return page.locator('.row.own', { has: page.locator('.text', { hasText: new RegExp(`^${escape(text)}$`) }) });
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(OUTPUT_DIR, { recursive: true });
  const path = join(OUTPUT_DIR, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

/** Polls until `check` holds (generous timeouts: the machine is shared). */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
