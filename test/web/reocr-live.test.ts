import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHARED } from '../support/appliance.ts';
import { startTestClamd, type TestClamd } from '../support/clamd.ts';
import { startWebAppliance, type WebAppliance } from '../support/web-appliance.ts';
import { GOOD_PASSWORD } from '../security/support.ts';
import { launchChromium, logIn, screenshot, watchedPage } from './browser.ts';

// Issue 22: a re-OCR job started from the editor finished on the server, yet the 采集 page showed it
// 处理中 0/1 until reloaded (the page followed only jobs it had started itself). Here, in real
// Chromium against the real app (clamd, OCR, Meilisearch), the archivist starts a re-OCR and opens
// 采集: the job is marked with its item and turns 完成 on the page, without a reload.

let w: WebAppliance;
let clamd: TestClamd;
let browser: Browser;
let itemId: string;
const outside: string[] = [];
const problems: string[] = [];

beforeAll(async () => {
  clamd = await startTestClamd();
  w = await startWebAppliance({ clamd: clamd.address, posts: ['BGS'] });
  await w.addUser('li', ['archivist'], { posts: ['BGS'], clearance: '内部' });
  // A real scan, cut to its first lines so the OCR of the re-read is short.
  const page = sharp(join(SHARED, 'samples/items/S0008/page-001.jpg'));
  const { width } = await page.metadata();
  const scan = await page.extract({ left: 0, top: 0, width: width!, height: 700 }).jpeg().toBuffer();
  const meta = await w.putItem({
    pages: 1,
    originals: [{ name: 'page-001.jpg', bytes: scan }],
    meta: { archivalCode: 'J012-2018-Y-BGS-0008', title: '库房温湿度检查记录', posts: ['BGS'], classification: '内部' },
  });
  itemId = meta.itemId;
  w.ingest.start({ inbox: false });
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await w?.close();
  await clamd?.stop();
});

describe('采集 page follows a re-OCR job it did not start', () => {
  it('the job is marked with its item and turns 完成 without a reload', async () => {
    const { page, context } = await watchedPage(browser, outside, problems);
    await page.goto(w.base);
    await logIn(page, 'li', GOOD_PASSWORD);
    await page.waitForSelector('#logout');
    await page.goto(`${w.base}/#/catalogue/${encodeURIComponent(itemId)}`);
    await page.waitForSelector('#edit-form');
    await page.click('#edit-reocr');
    await expect.poll(() => page.textContent('#edit-form .ok')).toContain('重新识别任务');
    const jobId = /任务\s*(\S+?)，/.exec((await page.textContent('#edit-form .ok'))!)?.[1];
    expect(jobId).toBeTruthy();
    // To 采集 as the message says; the page is never reloaded from here on.
    await page.evaluate(() => {
      location.hash = '#/ingest';
      (window as unknown as { marker: number }).marker = 42;
    });
    const row = page.locator(`#jobs-table tr[data-job="${jobId}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain('重新识别：J012-2018-Y-BGS-0008 库房温湿度检查记录');
    const card = page.locator(`#live-jobs .job-card[data-job="${jobId}"]`);
    await card.locator('.badge[data-verdict="done"]').waitFor({ timeout: 300_000 });
    expect(await card.locator('.badge').textContent()).toBe('完成');
    expect(await card.textContent()).toContain('1/1 件');
    await expect.poll(() => row.getAttribute('data-verdict'), { timeout: 30_000 }).toBe('done');
    expect(await row.locator('.badge').textContent()).toBe('完成');
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);
    await screenshot(page, '04c-reocr-live');
    expect((await w.ingest.jobs.load(jobId!)).items[0]).toMatchObject({ outcome: 'archived', replaces: itemId });
    await context.close();
    expect(outside).toEqual([]);
    expect(problems).toEqual([]);
  }, 400_000);
});
