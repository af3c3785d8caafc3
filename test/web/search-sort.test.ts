import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ItemMetadata, type Retention } from '../../core/index.ts';
import type { StoredItem } from '../../search/index.ts';
import { argon2Hasher, writeDepartmentNames } from '../../security/index.ts';
import { rng, textItem } from '../search/support.ts';
import { Client, GOOD_PASSWORD } from '../security/support.ts';
import { launchChromium, logIn, watchedPage } from './browser.ts';
import { startSearchApp, type SearchApp } from './search-app.ts';

// Sort by relevance, date or 档号 through GET /api/search on the real koa app and a real
// Meilisearch. The attack: post B's items carry the smallest 档号 and the newest dates, so any
// leak through sorting would put them first on a post A viewer's list; the answers must hold only
// post A's items, in order, on every page. 机构 facets come with the secadmin's names.
let app: SearchApp;
let base: string;
const N = 60;
const items: ItemMetadata[] = [];

function item(i: number, post: 'A' | 'B', random: () => number): StoredItem {
  const dept = post === 'A' ? (i % 2 ? 'BGS' : 'ZZB') : 'MIMI';
  // B: fonds A000 (sorts before J0xx) and dates in 2030; A: shuffled numbers and dates.
  const fonds = post === 'A' ? `J0${10 + Math.floor(random() * 80)}` : 'A000';
  const year = post === 'A' ? 2000 + Math.floor(random() * 20) : 2030;
  const itemNo = 1 + Math.floor(random() * 9000);
  const retention: Retention = 'Y';
  const date = `${year}-${String(1 + Math.floor(random() * 12)).padStart(2, '0')}-${String(1 + Math.floor(random() * 28)).padStart(2, '0')}`;
  const itemId = `sort${post.toLowerCase()}${String(i).padStart(4, '0')}x${itemNo}`;
  const text = `关于档案工作的通知 第${i}号 ${post === 'B' ? '保密岗位专用' : '公开岗位'}`;
  return textItem(
    {
      itemId,
      archivalCode: `${fonds}-${year}-${retention}-${dept}-${String(itemNo).padStart(4, '0')}`,
      fonds,
      year,
      retention,
      department: dept,
      itemNo,
      title: `档案工作通知 ${i}`,
      date,
      posts: [post === 'A' ? 'POST-A' : 'POST-B'],
    },
    [text],
    100,
  );
}

beforeAll(async () => {
  const random = rng(22);
  const stored = Array.from({ length: N }, (_, i) => item(i, i % 3 === 0 ? 'B' : 'A', random));
  items.push(...stored.map((s) => s.meta));
  app = await startSearchApp('archive-search-sort-', stored);
  base = app.base;
  const { identity } = app.sec;
  await identity.createPost({ code: 'POST-A', name: '甲岗' });
  await identity.createPost({ code: 'POST-B', name: '乙岗' });
  const passwordHash = await argon2Hasher.hash(GOOD_PASSWORD);
  await identity.createUser({ username: 'staffa', roles: ['staff'], posts: ['POST-A'], clearance: '内部', passwordHash, mustChangePassword: false });
  await writeDepartmentNames(app.m.dir, { BGS: '办公室', MIMI: '保密办' });
  await identity.createUser({ username: 'sec1', roles: ['secadmin'], passwordHash, mustChangePassword: false });
}, 120_000);

afterAll(async () => {
  await app?.stop();
});

/** Every page of a search, as the UI pages (limit 20). */
async function all(c: Client, query: string): Promise<Array<{ itemId: string; archivalCode: string; department: string }>> {
  const out = [];
  for (let offset = 0; ; offset += 20) {
    const r = await c.get(`/api/search?${query}&offset=${offset}&limit=20`);
    expect(r.status).toBe(200);
    out.push(...r.body.items);
    if (offset + 20 >= r.body.total) return out;
  }
}

describe('search sort', () => {
  const mine = () => items.filter((i) => i.posts.includes('POST-A'));

  it('by 档号: post A’s items in 档号 order, none of post B’s (whose 档号 sort first)', async () => {
    const c = new Client(base);
    expect((await c.login('staffa')).status).toBe(200);
    for (const q of ['', `q=${encodeURIComponent('档案工作')}&`]) {
      const got = await all(c, `${q}sort=archivalCode`);
      const codes = got.map((h) => h.archivalCode);
      expect(codes).toEqual(
        mine()
          .map((i) => i.archivalCode!)
          .sort(),
      );
      expect(got.some((h) => h.itemId.startsWith('sortb'))).toBe(false);
    }
    // A query only post B's items contain finds nothing, sorted or not.
    const leak = await c.get(`/api/search?q=${encodeURIComponent('保密岗位')}&sort=archivalCode`);
    expect(leak.body).toMatchObject({ total: 0, items: [] });
    expect(leak.body.facets.department).toEqual({});
  });

  it('by date: newest first, only post A’s; relevance stays the default; a bad sort is refused', async () => {
    const c = new Client(base);
    await c.login('staffa');
    const got = await all(c, `q=${encodeURIComponent('档案工作')}&sort=date`);
    const byId = new Map(items.map((i) => [i.itemId, i]));
    const dates = got.map((h) => byId.get(h.itemId)!.date!);
    expect(dates).toEqual([...dates].sort().reverse());
    expect(got.map((h) => h.itemId).sort()).toEqual(
      mine()
        .map((i) => i.itemId)
        .sort(),
    );
    const rel = await c.get(`/api/search?q=${encodeURIComponent('档案工作')}&limit=100`);
    expect(rel.body.total).toBe(mine().length);
    const bad = await c.get(`/api/search?q=${encodeURIComponent('档案工作')}&sort=posts`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/排序方式/);
  });

  it('机构 facets carry the secadmin’s names for the viewer’s codes only; a code without a name stays a code', async () => {
    const c = new Client(base);
    await c.login('staffa');
    const r = await c.get(`/api/search?q=${encodeURIComponent('档案工作')}&sort=archivalCode`);
    expect(Object.keys(r.body.facets.department).sort()).toEqual(['BGS', 'ZZB']);
    expect(r.body.departmentNames).toEqual({ BGS: '办公室' }); // 保密办 (post B's only 机构) is not sent
    // The secadmin renames: the next search shows it (no stale cache).
    const sec1 = new Client(base);
    await sec1.login('sec1');
    expect((await sec1.req('PUT', '/api/admin/departments', { names: { BGS: '办公室（综合）', ZZB: '组织部', MIMI: '保密办' } })).status).toBe(200);
    const again = await c.get(`/api/search?q=${encodeURIComponent('档案工作')}`);
    expect(again.body.departmentNames).toEqual({ BGS: '办公室（综合）', ZZB: '组织部' });
    await sec1.req('PUT', '/api/admin/departments', { names: { BGS: '办公室', MIMI: '保密办' } });
  });

  it('in Chromium: the 排序 select orders by 档号 and the 机构 facet shows names', async () => {
    const browser = await launchChromium();
    const outside: string[] = [];
    const problems: string[] = [];
    try {
      const { page } = await watchedPage(browser, outside, problems);
      await page.goto(`${base}/`);
      await logIn(page, 'staffa', GOOD_PASSWORD);
      await page.waitForSelector('#search-input');
      await page.fill('#search-input', '档案工作');
      await page.selectOption('#search-sort', 'archivalCode');
      await page.waitForURL(/sort=archivalCode/);
      const want = mine()
        .map((i) => i.archivalCode!)
        .sort()
        .slice(0, 20);
      await expect.poll(() => page.locator('#results .hit .code').allTextContents()).toEqual(want);
      const facet = await page.locator('#facets [data-facet="department"]').textContent();
      expect(facet).toContain('办公室');
      expect(facet).toContain('ZZB'); // no name: the code
      expect(facet).not.toContain('保密办');
    } finally {
      await browser.close();
    }
    expect(outside).toEqual([]);
    expect(problems).toEqual([]);
  }, 120_000);
});
