import { execFile } from 'node:child_process';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHARED, cleanup, runCli, startServe, tempDir, untilServing, type ServeHandle } from '../support/appliance.ts';
import { startTestClamd, type TestClamd } from '../support/clamd.ts';
import { drawPage, iou, unionOf, type SyntheticPage } from '../support/synthetic-page.ts';
import { launchChromium, logIn, screenshot, watchedPage, type Watched } from './browser.ts';

const run = promisify(execFile);
const PASSWORD = 'Archive#2026-ok';
const BATCH = '2014年会议批次';
/** Printed on the drawn page: the phrases the daily-use issue saw outlined one character off. */
const LINES = [
  '关于召开全市档案工作会议的通知',
  '为提高全系统档案工作人员的业务素质，推动档案管理工作规范化、标准化，',
  '经研究，决定于2014年5月12日举办培训班。请各单位购置除湿机使用。',
  '各级政府网站应当公开档案目录（试行）；联系电话：12345。',
];
/** A file name whose words are printed nowhere on its page: only its provisional 题名 can find it. */
const NAMED_FILE = '关于召开档案工作会议的通知';

type Box = { x0: number; y0: number; x1: number; y1: number };

describe('viewer in real Chromium: exact hit outlines, zoom, thumbnails; items without a CSV named and listed 待著录', () => {
  let clamd: TestClamd;
  let app: ServeHandle;
  let browser: Browser;
  let work: string;
  let drawn: SyntheticPage;
  const outside: string[] = [];
  const problems: string[] = [];
  const open: Watched[] = [];
  const ids = new Map<string, string>();

  const fresh = async (): Promise<Page> => {
    const w = await watchedPage(browser, outside, problems);
    open.push(w);
    await w.page.goto(app.base);
    return w.page;
  };
  const login = async (page: Page, username: string) => {
    await logIn(page, username, PASSWORD);
    await page.waitForSelector('#logout');
  };

  beforeAll(async () => {
    work = await tempDir('archive-viewer-');
    const data = join(work, 'data');
    const env = { ARCHIVE_DATA_DIR: data, ARCHIVE_LOG_LEVEL: 'warn' };
    const pw = join(work, 'pw.txt');
    await writeFile(pw, PASSWORD, { mode: 0o600 });
    for (const args of [
      ['post', 'add', 'BGS', '办公室'],
      ['user', 'add', 'li', '--role', 'archivist', '--posts', 'BGS', '--clearance', '内部', '--password-file', pw, '--no-force-change'],
      ['user', 'add', 'zhang', '--role', 'staff', '--posts', 'BGS', '--clearance', '内部', '--password-file', pw, '--no-force-change'],
    ]) {
      const r = await runCli(args, env);
      expect(r.code, `${args.join(' ')}: ${r.err}`).toBe(0);
    }
    // The batch, uploaded without a CSV: a drawn page (known character positions), a file and a
    // folder named by what they are, and a sample scan with ground truth.
    const batch = join(work, BATCH);
    await mkdir(join(batch, '件甲'), { recursive: true });
    drawn = await drawPage(LINES);
    await writeFile(join(batch, '绘制页.jpg'), await sharp(drawn.png).jpeg({ quality: 92 }).withMetadata({ density: 300 }).toBuffer());
    const other = async (lines: string[]) =>
      sharp((await drawPage(lines)).png)
        .jpeg({ quality: 90 })
        .withMetadata({ density: 300 })
        .toBuffer();
    await writeFile(join(batch, `${NAMED_FILE}.jpg`), await other(['会议定于三月十二日上午九时在三楼会议室举行。']));
    await writeFile(join(batch, '件甲', 'page-1.jpg'), await other(['请各科室于本周五前报送年度工作总结。']));
    await cp(join(SHARED, 'samples/items/S0003'), join(batch, 'S0003'), { recursive: true });

    clamd = await startTestClamd();
    app = await startServe({ ARCHIVE_CLAMD: clamd.address, ARCHIVE_LOG_LEVEL: 'warn' }, data);
    await untilServing(app);
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    for (const w of open) await w.context.close().catch(() => undefined);
    await browser?.close();
    await app?.stop();
    await clamd?.stop();
    await cleanup(work);
  });

  it('archivist uploads a folder without a CSV: the job keeps the folder name, items are named and listed 待著录', async () => {
    const page = await fresh();
    await login(page, 'li');
    await page.waitForURL(/#\/ingest$/);
    await page.setInputFiles('#folder-input', join(work, BATCH));
    await expect.poll(() => page.textContent('#selection-info')).toContain('4 件');
    await page.fill('#posts-input', 'BGS');
    await page.click('#upload-submit');
    const card = page.locator('#live-jobs .job-card').first();
    await card.waitFor();
    // Five pages of OCR on a shared two-core machine: no speed is asserted, only the outcome.
    await card.locator('.badge[data-state="done"]').waitFor({ timeout: 840_000 });
    await expect.poll(() => card.locator('li[data-outcome="archived"]').count()).toBe(4);
    expect(await card.locator('.batch').textContent()).toContain(BATCH);
    await page.waitForSelector(`#jobs-table tr[data-state="done"] .batch:has-text("${BATCH}")`);

    await page.goto(`${app.base}/#/catalogue`);
    const pending = page.locator('#catalogue-pending tr[data-item]');
    await expect.poll(() => pending.count()).toBe(4);
    const titles = await pending.locator('td:first-child').allTextContents();
    expect(titles.sort()).toEqual(['S0003', NAMED_FILE, '件甲', '绘制页'].sort());
    for (const t of titles) ids.set(t, (await page.locator('#catalogue-pending tr', { hasText: t }).getAttribute('data-item'))!);
    await screenshot(page, '20-catalogue-pending');

    // Saving the catalogue data takes the item off the list.
    await page.locator('#catalogue-pending tr', { hasText: '件甲' }).locator('a').click();
    await page.waitForSelector('#edit-form #edit-pending');
    expect(await page.inputValue('#edit-title')).toBe('件甲');
    await page.fill('#edit-title', '件甲 年度工作总结报送通知');
    await page.click('#edit-save');
    await expect.poll(() => page.textContent('#edit-form .ok')).toContain('已保存');
    await page.reload();
    await page.waitForSelector('#catalogue-pending tr[data-item]');
    await expect.poll(() => pending.count()).toBe(3);
    expect(await page.locator('#catalogue-pending').textContent()).not.toContain('件甲');
  }, 900_000);

  it('staff finds an item without a CSV by a word of its file name', async () => {
    const page = await fresh();
    await login(page, 'zhang');
    await page.waitForURL(/#\/search/);
    await page.locator('#search-input').fill('召开档案工作会议');
    const hit = page.locator(`#results li.hit[data-item="${ids.get(NAMED_FILE)}"]`);
    // The list shows every item before the first query: wait for this query's answer, one hit
    // (the drawn page prints 召开全市档案工作会议, not this phrase).
    await expect.poll(() => page.locator('#results li.hit').count()).toBe(1);
    await hit.waitFor();
    expect(await hit.locator('.title').textContent()).toBe(NAMED_FILE);
    await page.locator('#search-input').fill('件甲');
    await page.locator(`#results li.hit[data-item="${ids.get('件甲')}"]`).waitFor();
  });

  it('the hit outline lies on the searched characters (IoU against the drawn characters), at any zoom', async () => {
    const page = await fresh();
    await login(page, 'zhang');
    const id = ids.get('绘制页')!;
    for (const phrase of ['除湿机', '政府网站', '档案管理']) {
      await page.goto(`${app.base}/#/item/${encodeURIComponent(id)}?q=${encodeURIComponent(phrase)}`);
      const rect = page.locator('#hit-overlay rect.hit').first();
      await rect.waitFor({ state: 'attached' });
      const line = LINES.findIndex((l) => l.includes(phrase));
      const at = LINES[line].indexOf(phrase); // every character here is one UTF-16 unit
      const chars = drawn.chars.filter((c) => c.line === line);
      const ref = unionOf(chars.slice(at, at + phrase.length).map((c) => c.box));
      for (const zoom of [1, 2]) {
        if (zoom === 2) {
          await page.click('#zoom-in');
          await page.click('#zoom-in');
          await expect.poll(() => page.textContent('#zoom-level')).toBe('200%');
        }
        // What the person sees: the outline's rectangle on screen, mapped into the scan's pixels.
        const shown = await page.evaluate(() => {
          const img = document.getElementById('page-image') as HTMLImageElement;
          const r = document.querySelector('#hit-overlay rect.hit')!.getBoundingClientRect();
          const i = img.getBoundingClientRect();
          const k = img.naturalWidth / i.width;
          return { x0: (r.left - i.left) * k, y0: (r.top - i.top) * k, x1: (r.right - i.left) * k, y1: (r.bottom - i.top) * k, pad: 4 };
        });
        const hit: Box = { x0: shown.x0 + shown.pad, y0: shown.y0 + shown.pad, x1: shown.x1 - shown.pad, y1: shown.y1 - shown.pad };
        const score = iou(ref, hit);
        console.log(`${phrase} at ${zoom * 100}%: IoU ${score.toFixed(3)} (outline ${JSON.stringify(roundBox(hit))}, drawn ${JSON.stringify(ref)})`);
        expect(score).toBeGreaterThan(0.8);
        // Not one character off: the outline stops before the next character and above the next line.
        const after = chars[at + phrase.length];
        if (after) expect(hit.x1).toBeLessThan(after.box.x0 + 2);
        const before = chars[at - 1];
        if (before) expect(hit.x0).toBeGreaterThan(before.box.x1 - 2);
        const below = drawn.chars.filter((c) => c.line === line + 1);
        if (below.length) expect(hit.y1).toBeLessThan(Math.min(...below.map((c) => c.box.y0)));
      }
      await screenshot(page, `21-viewer-${phrase}`);
    }
  }, 240_000);

  it('thumbnails show every page and mark the pages with hits; a click turns the page', async () => {
    const page = await fresh();
    await login(page, 'zhang');
    const id = ids.get('S0003')!;
    await page.goto(`${app.base}/#/item/${encodeURIComponent(id)}?q=${encodeURIComponent('档案')}`);
    const thumbs = page.locator('#page-thumbs button.thumb');
    await expect.poll(() => thumbs.count()).toBe(2);
    expect(Number(await thumbs.nth(0).getAttribute('data-hits'))).toBeGreaterThan(0);
    expect(await thumbs.nth(0).getAttribute('aria-current')).toBe('page');
    await thumbs.nth(1).click();
    await expect.poll(() => page.textContent('#page-counter')).toContain('2');
    expect(await thumbs.nth(1).getAttribute('aria-current')).toBe('page');
    await page.waitForFunction(() => (document.querySelector('#page-thumbs button.thumb img') as HTMLImageElement | null)?.naturalWidth);
  });

  it('the stored PDF keeps ， and 。 where the ground truth has them (pdftotext)', async () => {
    const page = await fresh();
    await login(page, 'zhang');
    const id = ids.get('S0003')!;
    const res = await page.request.get(`${app.base}/api/items/${encodeURIComponent(id)}/document.pdf`);
    expect(res.status()).toBe(200);
    const pdf = join(work, 's0003.pdf');
    await writeFile(pdf, await res.body());
    const gt = JSON.parse(await readFile(join(SHARED, 'samples/gt/S0003.json'), 'utf8')) as { pages: Array<{ lines: string[] }> };
    const count = (s: string, c: string) => [...s].filter((x) => x === c).length;
    for (const [i, p] of gt.pages.entries()) {
      const { stdout } = await run('pdftotext', ['-enc', 'UTF-8', '-f', String(i + 1), '-l', String(i + 1), pdf, '-']);
      const got = stdout.replace(/\s+/g, '');
      const truth = p.lines.join('');
      console.log(`S0003 p${i + 1}: ， ${count(got, '，')}/${count(truth, '，')}, 。 ${count(got, '。')}/${count(truth, '。')}, ASCII , ${count(got, ',')}`);
      for (const mark of ['，', '。']) expect(Math.abs(count(got, mark) - count(truth, mark)), mark).toBeLessThanOrEqual(1);
      expect(got).not.toContain(',');
      const around = [...truth.matchAll(/(\p{Script=Han})[，。](\p{Script=Han})/gu)].map((m) => m[0]);
      expect(around.filter((a) => got.includes(a)).length / around.length).toBeGreaterThan(0.8);
    }
  });

  it('nothing left 127.0.0.1 and no page error or CSP violation happened', () => {
    expect(outside).toEqual([]);
    expect(problems).toEqual([]);
  });
});

function roundBox(b: Box): Box {
  return { x0: Math.round(b.x0), y0: Math.round(b.y0), x1: Math.round(b.x1), y1: Math.round(b.y1) };
}
