// A page number printed alone below the text (- 3 -, — 12 —) is read as the page's last line
// (lost-lines.ts findPageNumber): the layout analysis leaves it out, and read as a line of its own
// chi_sim takes its dashes for 一 and the digit for a character (一 工 一); on the samples all four
// were lost before. A margin with only specks in it gets no line. Real tesseract.js, pages rendered
// here (prose in AR PL UMing, 13 pt at 300 DPI).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOcrPool } from '../../ingest/index.ts';
import { openInputs } from '../../ingest/ocr/decode.ts';
import { type OcrPool } from '../../ingest/ocr/pool.ts';
import { recognisePage } from '../../ingest/ocr/recognise.ts';
import type { StageStats } from '../../ingest/ocr/stage-stats.ts';
import { cleanup, tempDir } from '../support/appliance.ts';
import { damagePage, renderPage, type PageLine } from '../support/damaged-page.ts';

const PROSE = [
  '各单位要高度重视，明确一名分管领导和具体工作人员，确保各项工作',
  '落到实处。请于每月五日前将上月工作进展情况报送办公室，逾期未报的',
  '予以通报。对工作中表现突出的单位和个人，年终评比时给予表彰。',
];
const norm = (s: string) => s.normalize('NFKC').replace(/\s+/gu, '');

let pool: OcrPool;
let dir: string;

beforeAll(async () => {
  dir = await tempDir('ocr-page-number-');
  pool = await createOcrPool({ workers: 1, lang: 'chi_sim', cacheDir: dir });
}, 120_000);

afterAll(async () => {
  await pool?.close();
  if (dir) await cleanup(dir);
});

/** The prose, then blank lines, then `footer` (if any); specks in the bottom margin when `specks`. */
async function read(name: string, footer: PageLine | undefined, specks = false) {
  const lines: PageLine[] = [...PROSE.map((text) => ({ text })), ...Array.from({ length: 8 }, () => ({ text: '' })), ...(footer ? [footer] : [])];
  const page = await renderPage(lines, { width: 2480, height: 1700, dpi: 300, font: 'AR PL UMing CN', size: 54, leading: 100, top: 100, left: 300 });
  const file = join(dir, `${name}.png`);
  await writeFile(file, await damagePage(page, { noise: 4, ...(specks ? { speckles: 400, band: { y0: 700, y1: 1700 } } : {}) }, 7));
  const [src] = await openInputs([file]);
  const stats: StageStats = new Map();
  const text = (await recognisePage(pool, src, 1, undefined, { stats })).text;
  return { lines: text.lines.map((l) => norm(l.text)), stats };
}

describe('a page number below the text', () => {
  it('is read, with its dashes, as the last line: centred - 3 -', async () => {
    const { lines, stats } = await read('centred', { text: '- 3 -', x: 'center', size: 46 });
    expect(lines.at(-1)).toBe('-3-');
    expect(lines.slice(0, -1).join('')).toContain('予以通报');
    expect(stats.get('page number: kept')?.calls).toBe(1);
  }, 120_000);

  it('and on the right with em dashes: — 12 —', async () => {
    const { lines } = await read('right', { text: '— 12 —', x: 1900, size: 46 });
    expect(lines.at(-1)).toBe('—12—');
  }, 120_000);

  it('a bottom margin with only specks in it gets no line', async () => {
    const { lines, stats } = await read('specks', undefined, true);
    expect(lines.at(-1)).toContain('予以通报');
    expect(lines.some((l) => /^[-—]?\d+[-—]?$/u.test(l))).toBe(false);
    expect(stats.get('page number: kept')).toBeUndefined();
  }, 120_000);

  it('a character alone below the text is not taken for a page number', async () => {
    // 口 is one tall part between two dashes, so it is read (the layout left it out too) and refused.
    const { lines, stats } = await read('character', { text: '- 口 -', x: 'center', size: 46 });
    expect(stats.get('page number: read')?.calls).toBe(1);
    expect(lines.some((l) => /^[-—]?\d+[-—]?$/u.test(l))).toBe(false);
    expect(stats.get('page number: kept')).toBeUndefined();
  }, 120_000);
});
