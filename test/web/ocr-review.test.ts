import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GOOD_PASSWORD, type Client } from '../security/support.ts';
import { startTestClamd, type TestClamd } from '../support/clamd.ts';
import { DAMAGED_LINE, pageWithDamagedLine } from '../support/damaged-line.ts';
import { startWebAppliance, type WebAppliance } from '../support/web-appliance.ts';
import { launchChromium, logIn, screenshot, watchedPage } from './browser.ts';

// 识别待核对: a page read with a weak line is flagged in text.json and item.json by the ingest
// runner (a real re-OCR job: clamd, the OCR pool, the store), and the item is offered to the
// archivist on the catalogue page's review list. The list is filtered by the same access rule as
// everything else: an archivist of another post neither sees the item nor has it in the counts.

let w: WebAppliance;
let clamd: TestClamd;
let li: Client; // archivist of BGS
let zhao: Client; // archivist of ZH only
let chen: Client; // staff of BGS: reads items, does not catalogue
let damagedId: string;
let otherPostId: string;

beforeAll(async () => {
  clamd = await startTestClamd();
  w = await startWebAppliance({ clamd: clamd.address, posts: ['BGS', 'ZH'] });
  await w.addUser('li', ['archivist'], { posts: ['BGS'], clearance: '内部' });
  await w.addUser('zhao', ['archivist'], { posts: ['ZH'], clearance: '内部' });
  await w.addUser('chen', ['staff'], { posts: ['BGS'], clearance: '内部' });
  const { png } = await pageWithDamagedLine();
  // Stored with placeholder pages and text; the re-OCR below reads the original for real.
  damagedId = (
    await w.putItem({
      pages: 1,
      originals: [{ name: 'page-001.png', bytes: png }],
      meta: { archivalCode: 'J012-2023-Y-BGS-0007', title: '关于做好库房防汛安全检查工作的通知', posts: ['BGS'], classification: '内部' },
    })
  ).itemId;
  otherPostId = (await w.putItem({ pages: 3, meta: { archivalCode: 'J012-2023-Y-ZH-0003', title: '综合科值班记录', posts: ['ZH'], classification: '内部', reviewPages: [2, 3] } })).itemId;
  // Stored before review flags existed: no reviewPages, text.json without flags.
  await w.putItem({ pages: 1, meta: { title: '旧条目', posts: ['BGS'], classification: '内部' } });
  w.ingest.start({ inbox: false });
  li = await w.login('li');
  zhao = await w.login('zhao');
  chen = await w.login('chen');
}, 120_000);

afterAll(async () => {
  await w?.close();
  await clamd?.stop();
});

describe('OCR review flags and the review list', () => {
  it('a re-read page with a damaged line is flagged in text.json and item.json', { timeout: 400_000 }, async () => {
    const r = await li.req('POST', `/api/items/${damagedId}/reocr`);
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const job = r.body.job as string;
    await expect.poll(async () => (await w.ingest.jobs.load(job)).items[0]?.outcome, { timeout: 300_000, interval: 1000 }).toBe('archived');
    const [page] = await w.ingest.store.readText(damagedId);
    expect(page.source).toBe('ocr');
    expect(page.review).toBe(true);
    const weak = page.lines.flatMap((l, i) => (l.weak ? [i] : []));
    expect(page.weakLines).toEqual(weak);
    expect(weak).toHaveLength(1);
    // The flagged line is where the damaged line was printed (lines above it read fine).
    expect(page.lines.slice(0, DAMAGED_LINE).every((l) => !l.weak)).toBe(true);
    expect((await w.ingest.store.getItem(damagedId))?.reviewPages).toEqual([1]);
    // The editor's view of the item says which page and how many lines.
    const cat = await li.get(`/api/items/${damagedId}/catalogue`);
    expect(cat.body.pages[0]).toMatchObject({ page: 1, review: true, weakLines: 1 });
  });

  it('the archivist sees the items of their posts on the review list, audited with the count', async () => {
    const r = await li.get('/api/catalogue/review');
    expect(r.status).toBe(200);
    const ids = (r.body.items as Array<{ itemId: string }>).map((i) => i.itemId);
    expect(ids).toEqual([damagedId]);
    expect(r.body.items[0]).toMatchObject({ reviewPages: [1], title: '关于做好库房防汛安全检查工作的通知' });
    expect(r.body.pages).toBe(1);
    const audit = await w.audit();
    expect(audit.some((a) => a.action === 'item.list' && a.actor === 'li' && a.target === 'catalogue-review' && a.outcome === 'success' && (a.details as { count?: number })?.count === 1)).toBe(true);
  });

  it("attack: another post's archivist does not see the item, nor has it in the counts", async () => {
    const r = await zhao.get('/api/catalogue/review');
    expect(r.status).toBe(200);
    const ids = (r.body.items as Array<{ itemId: string }>).map((i) => i.itemId);
    expect(ids).toEqual([otherPostId]);
    expect(ids).not.toContain(damagedId);
    expect(r.body.pages).toBe(2);
    expect(JSON.stringify(r.body)).not.toContain('防汛');
    // And the other way round.
    expect(JSON.stringify((await li.get('/api/catalogue/review')).body)).not.toContain(otherPostId);
    // Nor can they open its page texts (with the weak lines) or its editor's view.
    expect((await zhao.get(`/api/items/${damagedId}/text`)).status).toBe(404);
    expect((await zhao.get(`/api/items/${damagedId}/catalogue`)).status).toBe(404);
  });

  it('attack: staff without cataloguing rights get no review list', async () => {
    const r = await chen.get('/api/catalogue/review');
    expect(r.status).toBe(403);
    expect(JSON.stringify(r.body)).not.toContain(damagedId);
  });

  it('in the browser: the catalogue page lists the item, its page opens the viewer with the weak line outlined', { timeout: 120_000 }, async () => {
    const outside: string[] = [];
    const problems: string[] = [];
    const browser = await launchChromium();
    try {
      const { page, context } = await watchedPage(browser, outside, problems);
      await page.goto(w.base);
      await logIn(page, 'li', GOOD_PASSWORD);
      await page.waitForSelector('#logout');
      await page.goto(`${w.base}/#/catalogue`);
      const row = page.locator(`#catalogue-review tr[data-item="${damagedId}"]`);
      await row.waitFor();
      expect(await page.locator('#catalogue-review tr[data-item]').count()).toBe(1);
      await screenshot(page, '22-catalogue-ocr-review');
      await row.locator('a.page-link').first().click();
      await page.waitForSelector('#hit-overlay rect.weak');
      expect(await page.locator('#hit-overlay rect.weak').count()).toBe(1);
      expect(await page.textContent('#hits-info')).toContain('1 行识别存疑');
      await screenshot(page, '23-viewer-weak-line');
      await context.close();
      expect(outside).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
