import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ItemMetadata } from '../../core/index.ts';
import { GOOD_PASSWORD } from '../security/support.ts';
import { startWebAppliance, type WebAppliance } from '../support/web-appliance.ts';
import { launchChromium, logIn, watchedPage } from '../web/browser.ts';

// 批量设置共享范围 on the search page: an archivist ticks several of this office's hits and sets their
// scope at once; the shared index follows. A 查阅人员 gets no tick boxes, and the server refuses the
// bulk route to them and refuses an item of another post (all or nothing) whatever the page shows.

let w: WebAppliance;
const items: ItemMetadata[] = [];

async function sharedScopes(): Promise<Map<string, string>> {
  const r = await fetch(`${w.meili.connection.host}/indexes/shared/documents/fetch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${w.meili.connection.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ limit: 1000, filter: 'kind = "item"' }),
  });
  const j = (await r.json()) as { results: Array<{ itemId: string; scope: string }> };
  return new Map(j.results.map((d) => [d.itemId, d.scope]));
}

beforeAll(async () => {
  w = await startWebAppliance({ posts: ['BGS', 'RS'], office: { code: 'A150100', name: '呼和浩特市编办' }, reconcileMs: 500, sharingDeadlineMs: 30_000 });
  await w.addUser('jia', ['archivist'], { posts: ['BGS'], clearance: '内部' });
  await w.addUser('cha', ['staff'], { posts: ['BGS'], clearance: '内部' });
  for (let i = 0; i < 3; i++) items.push(await w.putItem({ meta: { title: `批量共享第${i}号关于机构编制的通知`, posts: ['BGS'], classification: '内部' } }));
  items.push(await w.putItem({ meta: { title: '批量共享人事岗位的通知', posts: ['RS'], classification: '内部' } }));
}, 180_000);

afterAll(async () => {
  await w?.close();
});

describe('批量设置共享范围', () => {
  it('an archivist ticks two hits on the search page and shares them 全辖区 in one step', { timeout: 180_000 }, async () => {
    const browser = await launchChromium();
    try {
      const outside: string[] = [];
      const problems: string[] = [];
      const { page } = await watchedPage(browser, outside, problems);
      await page.goto(`${w.base}/`);
      await logIn(page, 'jia', GOOD_PASSWORD);
      await page.waitForSelector('nav');
      await page.goto(`${w.base}/#/search?q=${encodeURIComponent('机构编制')}`);
      for (const it of items.slice(0, 2)) await page.locator(`#results li.hit[data-item="${it.itemId}"] input.bulk-pick`).check();
      expect(await page.locator('#bulk-count').textContent()).toBe('已选 2 件');
      // This office has a code: 联合检索 is offered beside 本单位.
      expect(await page.locator('#search-scope').isVisible()).toBe(true);
      await page.selectOption('#bulk-sharing', 'all');
      await page.click('#bulk-apply');
      await page.locator('#bulk-sharing-bar .ok').waitFor();
      expect(await page.locator('#bulk-sharing-bar .ok').textContent()).toBe('已将 2 件设为「全辖区」');
      const scopes = await sharedScopes();
      expect(scopes.get(items[0].itemId)).toBe('all');
      expect(scopes.get(items[1].itemId)).toBe('all');
      expect(scopes.has(items[2].itemId)).toBe(false); // not ticked: stays 本单位
      const audit = (await w.audit()).filter((r) => r.action === 'item.sharing' && r.outcome === 'success');
      expect(audit.at(-1)!.actor).toBe('jia');
      expect(outside).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it('a 查阅人员 sees no tick boxes, and the bulk route refuses them and any item of another post', { timeout: 180_000 }, async () => {
    const browser = await launchChromium();
    try {
      const { page } = await watchedPage(browser, [], []);
      await page.goto(`${w.base}/`);
      await logIn(page, 'cha', GOOD_PASSWORD);
      await page.waitForSelector('#search-input');
      await page.fill('#search-input', '机构编制');
      await page.locator(`#results li.hit[data-item="${items[2].itemId}"]`).waitFor();
      expect(await page.locator('input.bulk-pick').count()).toBe(0);
      expect(await page.locator('#bulk-sharing-bar').count()).toBe(0);
    } finally {
      await browser.close();
    }
    const staff = await w.login('cha');
    expect((await staff.req('POST', '/api/items/sharing', { itemIds: [items[2].itemId], sharing: 'all' })).status).toBe(403);
    // The archivist, with an item of a post they do not hold slipped in: nothing changes, not even the item they may file.
    const jia = await w.login('jia');
    const r = await jia.req('POST', '/api/items/sharing', { itemIds: [items[2].itemId, items[3].itemId], sharing: 'all' });
    expect(r.status).toBe(404);
    await new Promise((res) => setTimeout(res, 1500)); // two reconcile rounds
    const scopes = await sharedScopes();
    expect(scopes.has(items[2].itemId)).toBe(false);
    expect(scopes.has(items[3].itemId)).toBe(false);
  });
});
