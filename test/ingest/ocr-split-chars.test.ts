// A large character the layout cut into pieces (a heading's last character alone on its line: the
// top and the bottom of 告 taken for two lines) is read as the whole character: the piece's box
// grows over the ink that continues it, and never over a neighbouring line of print, a table's
// rows or a rule (the box would span more than a character, so the piece is read as before). The
// real page (../shared/samples S0004, where 告 came back as 八 and 门) is read with real tesseract.js.
import { join } from 'node:path';
import type Tesseract from 'tesseract.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOcrPool } from '../../ingest/index.ts';
import { openInputs, type Pixels } from '../../ingest/ocr/decode.ts';
import type { OcrPool, TessPage } from '../../ingest/ocr/pool.ts';
import { recognisePage } from '../../ingest/ocr/recognise.ts';
import { dropPiecesInside, wholeCharacter } from '../../ingest/ocr/split-chars.ts';
import { cleanup, tempDir } from '../support/appliance.ts';

const SAMPLES = join(import.meta.dirname, '../../../shared/samples');

/** White page with black rectangles. */
function page(w: number, h: number, rects: Array<[number, number, number, number]>): Pixels {
  const data = Buffer.alloc(w * h, 255);
  for (const [x0, y0, x1, y1] of rects) for (let y = y0; y < y1; y++) data.fill(0, y * w + x0, y * w + x1);
  return { data, width: w, height: h, channels: 1 };
}

const line = (text: string, b: { x0: number; y0: number; x1: number; y1: number }) =>
  ({ text, bbox: b, confidence: 50, words: [{ text, bbox: b, confidence: 50, symbols: [] }] }) as unknown as Tesseract.Line;

describe('the box of a piece grows to its whole character, and no further', () => {
  // Body lines 60 px high; a heading character 90 px high whose top (y 300-340) and bottom
  // (y 344-390) are 4 px apart; the heading line above it ends 30 px higher.
  const heading: Array<[number, number, number, number]> = [
    [100, 180, 900, 270],
    [450, 300, 540, 310],
    [480, 310, 510, 340],
    [460, 344, 530, 390],
  ];

  it('takes in the other piece, not the line above', () => {
    const px = page(1000, 600, heading);
    const b = wholeCharacter(px, { x0: 450, y0: 300, x1: 540, y1: 340 }, 60);
    expect(b).toEqual({ x0: 450, y0: 300, x1: 540, y1: 390 });
  });

  it('leaves a piece that already holds all its ink as it is', () => {
    const px = page(1000, 600, heading);
    expect(wholeCharacter(px, { x0: 100, y0: 180, x1: 900, y1: 270 }, 60)).toBeUndefined();
  });

  it('does not run into lines of body text set close together, or down a table column ruled across', () => {
    // A short line with body lines 10 px above and below it: growing would take three lines.
    const dense = page(1000, 600, [
      [100, 100, 900, 160],
      [100, 170, 160, 230],
      [100, 240, 900, 300],
    ]);
    expect(wholeCharacter(dense, { x0: 100, y0: 170, x1: 160, y1: 230 }, 60)).toBeUndefined();
    // A cell with a rule 5 px under it, running the width of the table.
    const ruled = page(1000, 600, [
      [300, 200, 360, 260],
      [50, 265, 950, 268],
    ]);
    expect(wholeCharacter(ruled, { x0: 300, y0: 200, x1: 360, y1: 260 }, 60)).toBeUndefined();
  });

  it('takes the other pieces out of the page, and only pieces', () => {
    const top = line('八', { x0: 450, y0: 300, x1: 540, y1: 340 });
    const bottom = line('门', { x0: 460, y0: 344, x1: 530, y1: 390 });
    const prose = line('关于规范政府网站信息发布的调研报', { x0: 100, y0: 180, x1: 900, y1: 395 });
    const p = { blocks: [{ paragraphs: [{ lines: [prose, top, bottom] }] }] } as unknown as TessPage;
    expect(dropPiecesInside(p, top, { x0: 450, y0: 300, x1: 540, y1: 390 })).toEqual([bottom]);
    expect(p.blocks![0].paragraphs[0].lines).toEqual([prose, top]);
  });
});

describe('a heading character cut in two reads whole (real tesseract.js)', () => {
  let pool: OcrPool;
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir('ocr-split-');
    pool = await createOcrPool({ workers: 1, lang: 'chi_sim', cacheDir: dir });
  }, 120_000);
  afterAll(async () => {
    await pool?.close();
    if (dir) await cleanup(dir);
  });

  it('S0004: the title ends 调研报 / 告, and 告 is one line of its own, not 八 and 门', async () => {
    const [src] = await openInputs([join(SAMPLES, 'items/S0004/page-001.png')]);
    const r = await recognisePage(pool, src, 1);
    const texts = r.text.lines.map((l) => l.text);
    const title = texts.findIndex((t) => t.includes('调研报'));
    expect(title).toBeGreaterThanOrEqual(0);
    expect(texts[title + 1]).toBe('告');
    expect(texts[title + 2]).toContain('办内各科室');
  }, 180_000);
});
