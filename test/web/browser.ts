import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ROOT } from '../support/appliance.ts';

export const SCREENSHOTS = join(ROOT, 'test-artifacts/screenshots');

/** Flags that keep Debian's Chromium from calling home at start (see field notes). */
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--disable-default-apps',
  '--disable-extensions',
  '--no-default-browser-check',
  '--disable-features=Translate,MediaRouter,OptimizationHints',
  '--lang=zh-CN',
];

/** Headless Debian Chromium; launch() gives every run a fresh temporary profile (user-data dir). */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ARGS });
}

export interface Watched {
  context: BrowserContext;
  page: Page;
  /** Requests that tried to leave 127.0.0.1 (each was refused). */
  outside: string[];
  /** Page errors, CSP violations and console errors. */
  problems: string[];
}

/**
 * A fresh browser context (own cookies) whose every request is checked: anything not addressed to
 * 127.0.0.1 is aborted and recorded — the "network cable pulled" proof.
 */
export async function watchedPage(browser: Browser, outside: string[], problems: string[]): Promise<Watched> {
  const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1360, height: 900 }, acceptDownloads: true });
  await context.route('**', async (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1' && (url.protocol === 'http:' || url.protocol === 'https:')) return route.continue();
    if (url.protocol === 'data:' || url.protocol === 'blob:') return route.continue();
    outside.push(route.request().url());
    return route.abort('blockedbyclient');
  });
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // 4xx answers the UI shows as messages are expected; script errors and CSP violations are not.
    if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of 4\d\d/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  return { context, page, outside, problems };
}

/** Fill in and send the login form of a page showing it (what follows a login differs: the caller waits for it). */
export async function logIn(page: Page, username: string, password: string): Promise<void> {
  await page.fill('#login-username', username);
  await page.fill('#login-password', password);
  await page.click('#login-submit');
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}
