// A 500-page 案卷 and a 50 MB 600-DPI scan, generated here, go through the whole appliance — real
// clamd, real OCR, real Meilisearch, the real web routes — and come out whole: the stored PDF has
// every page with its text, the viewer serves a late page, search finds a word printed only on it.
// Memory is what this is about, but RSS is measured by bench/big-item.ts, not asserted here.
import { execFile } from 'node:child_process';
import { get } from 'node:http';
import { promisify } from 'node:util';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bigItemLine, drawGreyPage, write600DpiScan, writeMultiPageTiff } from '../support/big-item-inputs.ts';
import { startTestClamd, type TestClamd } from '../support/clamd.ts';
import { startWebAppliance, type WebAppliance } from '../support/web-appliance.ts';
import type { Client } from '../security/support.ts';

const run = promisify(execFile);
const PAGES = 500;
const LATE = 497;
/** Printed on page LATE only (every other page carries one of five other phrases). */
const PHRASE = '库房管理';

let w: WebAppliance;
let clamd: TestClamd;
let staff: Client;
const ids: Record<'big' | 'fine', string> = { big: '', fine: '' };

const squash = (s: string) => s.normalize('NFKC').replace(/\s+/g, '');

/**
 * GET with the client's session, the body as bytes (Client.req reads text), on a connection of its
 * own: a kept-alive one can be closed by the server (in this process) just as it is reused.
 */
function getBytes(c: Client, path: string): Promise<{ status: number; type: string | null; bytes: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = get(c.base + path, { agent: false, headers: { cookie: [...c.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'] ?? null, bytes: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** The poppler and qpdf tools, run without blocking the server that lives in this process. */
const tool = async (cmd: string, args: string[]): Promise<string> => (await run(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26 })).stdout;

beforeAll(async () => {
  clamd = await startTestClamd({ maxFileSize: 64 * 1024 * 1024 });
  w = await startWebAppliance({ clamd: clamd.address, posts: ['BGS'] });
  await w.addUser('chayue', ['staff'], { posts: ['BGS'], clearance: '内部' });
  staff = await w.login('chayue');
  // Small pages keep 500 real OCR passes within a few minutes on two cores; each carries its number.
  const tif = join(w.dir, '案卷-500页.tif');
  async function* pages() {
    for (let n = 1; n <= PAGES; n++) yield drawGreyPage(bigItemLine(n, LATE, PHRASE), { width: 600, height: 160, fontPx: 40, dpi: 150 });
  }
  expect(await writeMultiPageTiff(tif, pages(), 150)).toBe(PAGES);
  const fine = join(w.dir, '600dpi.tif');
  await write600DpiScan(fine, ['关于库房温湿度检查的通知', '各科室：请于本月底前完成档案整理。']);
  expect((await stat(fine)).size).toBeGreaterThan(40 * 1024 * 1024);
  const job = await w.ingest.submitItems(
    [
      { label: '案卷-500页.tif', files: [tif], metadata: { posts: ['BGS'], classification: '内部', title: '五百页案卷' } },
      { label: '600dpi.tif', files: [fine], metadata: { posts: ['BGS'], classification: '内部', title: '高分辨率扫描件' } },
    ],
    { via: 'cli', actor: { name: 'root', role: 'console', source: 'console' }, posts: ['BGS'], classification: '内部' },
  );
  await w.ingest.drain();
  const done = await w.ingest.jobs.load(job.id);
  expect(done.items.map((i) => [i.label, i.outcome, i.pageCount, i.error?.code])).toEqual([
    ['案卷-500页.tif', 'archived', PAGES, undefined],
    ['600dpi.tif', 'archived', 1, undefined],
  ]);
  ids.big = done.items[0].itemId;
  ids.fine = done.items[1].itemId;
}, 900_000);

afterAll(async () => {
  await w?.close();
  await clamd?.stop();
});

describe('a 500-page item', () => {
  it('downloads as one valid PDF of 500 pages whose late page carries its text', async () => {
    const r = await getBytes(staff, `/api/items/${ids.big}/document.pdf`);
    expect(r.status).toBe(200);
    expect(r.type).toBe('application/pdf');
    const file = join(w.dir, 'big.pdf');
    await writeFile(file, r.bytes);
    await tool('qpdf', ['--check', file]); // rejects on any structural error
    expect(await tool('pdfinfo', [file])).toMatch(/^Pages:\s+500$/m);
    const late = squash(await tool('pdftotext', ['-f', String(LATE), '-l', String(LATE), '-enc', 'UTF-8', file, '-']));
    expect(late).toContain(PHRASE);
    expect(late).toContain(String(LATE));
    // Every page has its scan: 500 images, one per page.
    const images = (await tool('pdfimages', ['-list', file])).trim().split('\n').slice(2);
    expect(images).toHaveLength(PAGES);
  });

  it('the viewer serves a late page', async () => {
    const r = await getBytes(staff, `/api/items/${ids.big}/pages/${LATE}`);
    expect(r.status).toBe(200);
    expect(r.type).toBe('image/jpeg');
    expect(await sharp(r.bytes).metadata()).toMatchObject({ width: 600, height: 160 });
    // Past the last page: refused as out of range (BAD_PARAM), nothing served.
    expect((await staff.get(`/api/items/${ids.big}/pages/${PAGES + 1}`)).body.error.code).toBe('BAD_PARAM');
  });

  it('search finds the phrase printed only on the late page, on that page', async () => {
    const r = await staff.get(`/api/search?q=${encodeURIComponent(PHRASE)}`);
    expect(r.status).toBe(200);
    const hit = (r.body.items as Array<{ itemId: string; pages: number[]; pageCount: number }>).find((h) => h.itemId === ids.big);
    expect(hit).toMatchObject({ pageCount: PAGES });
    expect(hit?.pages).toEqual([LATE]);
  });
});

describe('a 50 MB 600-DPI scan', () => {
  it('is stored at full resolution, downloads as a valid searchable PDF, is served to the viewer and found by search', async () => {
    const r = await getBytes(staff, `/api/items/${ids.fine}/document.pdf`);
    expect(r.status).toBe(200);
    const file = join(w.dir, 'fine.pdf');
    await writeFile(file, r.bytes);
    await tool('qpdf', ['--check', file]);
    const list = (await tool('pdfimages', ['-list', file])).trim().split('\n').slice(2);
    expect(list).toHaveLength(1);
    // The scan as it was: 4960 × 7016 pixels at 600 DPI, in colour.
    expect(list[0].split(/\s+/).slice(3, 7)).toEqual(['image', '4960', '7016', 'rgb']);
    expect(squash(await tool('pdftotext', ['-enc', 'UTF-8', file, '-']))).toContain('温湿度检查');
    const page = await getBytes(staff, `/api/items/${ids.fine}/pages/1`);
    expect(page.status).toBe(200);
    expect(await sharp(page.bytes).metadata()).toMatchObject({ width: 4960, height: 7016 });
    const s = await staff.get(`/api/search?q=${encodeURIComponent('温湿度检查')}`);
    expect((s.body.items as Array<{ itemId: string; pages: number[] }>).find((h) => h.itemId === ids.fine)?.pages).toEqual([1]);
  });
});
