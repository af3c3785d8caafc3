import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredItem } from '../../search/index.ts';
import { argon2Hasher } from '../../security/index.ts';
import { textItem } from '../search/support.ts';
import { GOOD_PASSWORD } from '../security/support.ts';
import { launchChromium, logIn, screenshot, watchedPage } from './browser.ts';
import { startSearchApp, type SearchApp } from './search-app.ts';

// The search page in Chromium for a long term with more candidates than a search checks in full
// (search/checked-page.ts): the count is said to be an estimate, every hit listed holds the term,
// and 精确统计件数 gives the exact count (and is kept in the address).
const TERM = '东南西北中';
const WHOLE = 330;
let app: SearchApp;

function item(id: string, text: string, post = 'POST-A'): StoredItem {
  return textItem({ itemId: id, archivalCode: `J012-2014-Y-${id}`, fonds: 'J012', title: `通知 ${id}`, posts: [post] }, [text], 100);
}

beforeAll(async () => {
  app = await startSearchApp('archive-count-exact-', [
    ...Array.from({ length: 60 }, (_, i) => item(`S${String(i).padStart(4, '0')}`, '东南西北，又见南西北中')),
    ...Array.from({ length: WHOLE }, (_, i) => item(`W${String(i).padStart(4, '0')}`, `前文${TERM}，后文第${i}条`)),
    item('B0001', `他岗${TERM}`, 'POST-B'),
  ]);
  await app.sec.identity.createPost({ code: 'POST-A', name: '甲岗' });
  await app.sec.identity.createUser({ username: 'staffa', roles: ['staff'], posts: ['POST-A'], clearance: '内部', passwordHash: await argon2Hasher.hash(GOOD_PASSWORD), mustChangePassword: false });
}, 120_000);

afterAll(async () => {
  await app?.stop();
});

describe('the exact count of a long term, in Chromium', () => {
  it('an estimate first, only holding items listed; 精确统计件数 counts exactly', async () => {
    const browser = await launchChromium();
    const outside: string[] = [];
    const problems: string[] = [];
    try {
      const { page } = await watchedPage(browser, outside, problems);
      await page.goto(`${app.base}/`);
      await logIn(page, 'staffa', GOOD_PASSWORD);
      await page.waitForSelector('#search-input');
      await page.fill('#search-input', TERM);
      await page.press('#search-input', 'Enter');
      const status = page.locator('#search-status');
      await expect.poll(() => status.textContent()).toContain('估计');
      expect(await status.textContent()).toContain('共 390 件');
      const codes = await page.locator('#results .hit .code').allTextContents();
      expect(codes).toHaveLength(20);
      expect(codes.every((c) => /-W\d{4}$/.test(c))).toBe(true);
      await screenshot(page, 'search-count-estimate');
      await page.click('#count-exact');
      await expect.poll(() => status.textContent()).toContain(`共 ${WHOLE} 件`);
      expect(await status.textContent()).not.toContain('估计');
      expect(await page.locator('#count-exact').count()).toBe(0);
      await page.waitForURL(/exact=1/);
      // A new query is counted the quick way again.
      await page.fill('#search-input', `${TERM} 后文`);
      await page.press('#search-input', 'Enter');
      await expect.poll(() => status.textContent()).toContain('估计');
    } finally {
      await browser.close();
    }
    expect(outside).toEqual([]);
    expect(problems).toEqual([]);
  }, 120_000);
});
