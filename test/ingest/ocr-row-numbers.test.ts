// A table's 序号 column that the layout left out of every block (row-numbers.ts): the generated
// set's faded UMing name list came back without any of its 16 row numbers. Here a name list is
// drawn in faded ink and read for real (tesseract.js), then what such a layout loses is taken out
// of the reading — every word in the number column — and findRowNumbers must find the numbers
// again beside their rows. Nothing is added where the column holds no digits (a character), where
// only specks lie left of the rows, or where fewer than three rows have a number.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOcrPool } from '../../ingest/index.ts';
import { openInputs } from '../../ingest/ocr/decode.ts';
import { toPgm } from '../../ingest/ocr/orient.ts';
import { type OcrPool, type TessPage } from '../../ingest/ocr/pool.ts';
import { toGrey } from '../../ingest/ocr/recognise.ts';
import { linesOf } from '../../ingest/ocr/recover-lines.ts';
import { findRowNumbers } from '../../ingest/ocr/row-numbers.ts';
import { joinTableRows } from '../../ingest/ocr/table-rows.ts';
import { cleanup, tempDir } from '../support/appliance.ts';
import { damagePage, renderPage, type PageLine } from '../support/damaged-page.ts';

const NAMES = ['莫秀', '范宇', '宋辉娟', '毛英', '杜英', '董秀', '贾英', '胡超'];
const TITLES = ['科长', '副科长', '主任', '科员', '副科长', '主任科员', '副局长', '科长'];
const LEFT = 300;
/** Right of this (page pixels) the names begin; the numbers stand left of it. */
const NAME_X = LEFT + 2.2 * 54;

let pool: OcrPool;
let dir: string;

beforeAll(async () => {
  dir = await tempDir('ocr-row-numbers-');
  pool = await createOcrPool({ workers: 1, lang: 'chi_sim', cacheDir: dir });
}, 120_000);

afterAll(async () => {
  await pool?.close();
  if (dir) await cleanup(dir);
});

/**
 * A faded name list (first cells `first(i)`, '' for none), read; then every word left of the names
 * taken out, as the layout does when it loses the column. Returns the page, its pixels and DPI.
 */
async function readWithoutColumn(name: string, first: (i: number) => string, specks = false) {
  const rows: PageLine[] = NAMES.map((n, i) => {
    const cells = [
      { text: first(i), x: LEFT },
      { text: n, x: Math.round(NAME_X) },
      { text: TITLES[i], x: LEFT + 6 * 54 },
      { text: `19${70 + i}.0${1 + (i % 9)}`, x: LEFT + 11.5 * 54 },
    ].filter((c) => c.text);
    return { text: cells.map((c) => c.text).join(' '), cells };
  });
  const page = await renderPage(rows, { width: 2480, height: 1100, dpi: 300, font: 'AR PL UMing CN', size: 54, leading: 103, top: 120, left: LEFT });
  const file = join(dir, `${name}.png`);
  await writeFile(file, await damagePage(page, { noise: 4, contrast: { ink: 140, paper: 235 }, ...(specks ? { speckles: 600, band: { y0: 0, y1: 1100 } } : {}) }, 11));
  const [src] = await openInputs([file]);
  const px = await toGrey(await src.pixels());
  const read = await pool.recognise(toPgm(px), { dpi: 300, psm: '3' });
  for (const b of read.blocks ?? [])
    for (const p of b.paragraphs) {
      for (const l of p.lines) {
        l.words = l.words.filter((w) => w.bbox.x1 > NAME_X - 20);
        if (l.words.length) l.bbox = { ...l.bbox, x0: Math.min(...l.words.map((w) => w.bbox.x0)) };
      }
      p.lines = p.lines.filter((l) => l.words.length);
    }
  return { page: read, px };
}

const texts = (page: TessPage) => linesOf(page).map((l) => l.text.replace(/\s+/gu, ''));

describe('a column of row numbers the layout left out', () => {
  it('is found beside its rows, read, and joined to them', async () => {
    const { page, px } = await readWithoutColumn('numbers', (i) => String(21 + i));
    expect(texts(page).some((t) => /^2[1-8]/u.test(t))).toBe(false);
    const kept = await findRowNumbers(pool, page, px, 300);
    expect(kept).toBeGreaterThanOrEqual(NAMES.length - 1);
    joinTableRows(page);
    // Joined to its row: the number, then that row's name (faded, so a character may be misread).
    const numbered = NAMES.filter((n, i) => texts(page).some((t) => t.startsWith(String(21 + i)) && [...t.slice(2, 2 + n.length)].some((c) => n.includes(c))));
    expect(numbered.length).toBeGreaterThanOrEqual(NAMES.length - 1);
    // Each number stands where it was printed: left of its row's name, on the row's level.
    for (const l of linesOf(page).filter((l) => /^\d+$/u.test(l.text.trim()))) expect(l.bbox.x1).toBeLessThan(NAME_X);
  }, 180_000);

  it('adds nothing where the column holds characters, not digits', async () => {
    const { page, px } = await readWithoutColumn('characters', () => '口');
    const before = texts(page).join('|');
    expect(await findRowNumbers(pool, page, px, 300)).toBe(0);
    expect(texts(page).join('|')).toBe(before);
  }, 180_000);

  it('adds nothing where only specks lie left of the rows, or only two rows have a number', async () => {
    for (const [name, first, specks] of [
      ['specks', () => '', true],
      ['two', (i: number) => (i < 2 ? String(i + 1) : ''), false],
    ] as const) {
      const { page, px } = await readWithoutColumn(name, first, specks);
      const before = texts(page).join('|');
      expect(await findRowNumbers(pool, page, px, 300), name).toBe(0);
      expect(texts(page).join('|'), name).toBe(before);
    }
  }, 180_000);
});
