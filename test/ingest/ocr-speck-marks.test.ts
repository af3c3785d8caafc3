// Specks read as Chinese punctuation: a page speckled on purpose (the bench's generated speckle page:
// AR PL UKai 14 pt, 450 specks a megapixel, rendered by its generator) comes back without the
// ，and 。 the recogniser read from specks, and with every printed one (speck-marks.ts drops a wide
// mark laid on a speck's worth of ink; measured before the rule: 23 ，for 20 printed, 15 。 for 11).
// Real tesseract.js for the page; the rule itself on words made by hand.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OcrWord } from '../../core/index.ts';
import { createOcrPool } from '../../ingest/index.ts';
import { openInputs } from '../../ingest/ocr/decode.ts';
import { type OcrPool } from '../../ingest/ocr/pool.ts';
import { recognisePage } from '../../ingest/ocr/recognise.ts';
import { dropSpeckMarks } from '../../ingest/ocr/speck-marks.ts';
import { renderItem } from '../../bench/ocr-set/generate.ts';
import { cleanup, tempDir } from '../support/appliance.ts';

const word = (syms: Array<[string, number, number]>): OcrWord => {
  const symbols = syms.map(([text, x, size]) => ({ text, box: { x0: x, y0: 50 - size, x1: x + size, y1: 50 }, confidence: 95 }));
  return { text: syms.map((s) => s[0]).join(''), box: { x0: symbols[0].box.x0, y0: 0, x1: symbols.at(-1)!.box.x1, y1: 50 }, confidence: 90, symbols };
};

describe('a wide mark on a speck of ink is dropped, a printed one stays', () => {
  it('drops a speck-sized 。 and a lone speck-sized ，, keeps a printed ，, a small decimal point and the characters', () => {
    // Line 60 px high: a speck is under 6 px both ways; a printed ，is about 12.
    const words = [
      word([
        ['科', 0, 50],
        ['员', 55, 50],
        ['。', 108, 4],
      ]),
      word([['，', 170, 4]]),
      word([
        ['1', 200, 30],
        ['.', 232, 4],
        ['5', 240, 30],
      ]),
      word([
        ['好', 300, 50],
        ['，', 352, 12],
      ]),
    ];
    expect(dropSpeckMarks(words, 60)).toBe(2);
    expect(words.map((w) => w.text)).toEqual(['科员', '1.5', '好，']);
    expect(words[0].symbols.map((s) => s.text)).toEqual(['科', '员']);
  });
});

describe('a speckled page reads without the marks its specks made', () => {
  let pool: OcrPool;
  let dir: string;
  let truth: string;
  let read: string;

  beforeAll(async () => {
    dir = await tempDir('ocr-speck-');
    pool = await createOcrPool({ workers: 1, lang: 'chi_sim', cacheDir: dir });
    const page = (await renderItem(1, 0))[1];
    expect(page.label).toContain('speckle');
    truth = page.lines.join('');
    const file = join(dir, `speckled.${page.ext}`);
    await writeFile(file, page.bytes);
    const [src] = await openInputs([file]);
    read = (await recognisePage(pool, src, 1)).text.text;
  }, 300_000);

  afterAll(async () => {
    await pool?.close();
    if (dir) await cleanup(dir);
  });

  const count = (s: string, c: string) => [...s].filter((x) => x === c).length;

  it('has no more ，or 。 than were printed (at most one misread), and keeps nearly every printed one', () => {
    for (const mark of ['，', '。']) {
      const printed = count(truth, mark);
      expect(printed).toBeGreaterThan(5);
      expect(count(read, mark), mark).toBeLessThanOrEqual(printed + 1);
      expect(count(read, mark), mark).toBeGreaterThanOrEqual(Math.floor(printed * 0.9));
    }
  });
});
