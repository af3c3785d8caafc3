// Specks read as Chinese punctuation: a page speckled on purpose (the bench's generated speckle page:
// AR PL UKai 14 pt, 450 specks a megapixel, rendered by its generator) comes back without the
// ，and 。 the recogniser read from specks, and with most printed ones in their place (speck-marks.ts
// drops a wide mark laid on a speck's worth of ink; measured before the rule: 23 ，for 20 printed,
// 15 。 for 11; despeckle.ts's dusty-page partners leave fewer specks to read).
// Real tesseract.js for the page; the rule itself on words made by hand.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OcrWord } from '../../core/index.ts';
import { createOcrPool } from '../../ingest/index.ts';
import { openInputs } from '../../ingest/ocr/decode.ts';
import { type OcrPool } from '../../ingest/ocr/pool.ts';
import { recognisePage } from '../../ingest/ocr/recognise.ts';
import { dropDustyGapMarks, dropSolidFullStops, dropSpeckMarks, enclosesPaper, ringsAsFullStops } from '../../ingest/ocr/speck-marks.ts';
import type { Ink } from '../../ingest/ocr/char-boxes.ts';
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

describe('on a dusty page, a mark in a gap between cells is a speck', () => {
  /** One word per cell; each character 40 px wide with 4 px between, cells `at` x. */
  const row = (...cells: Array<[string, number]>): OcrWord[] => cells.map(([text, at]) => word([...text].map((c, i): [string, number, number] => [c, at + i * 44, 40])));
  const text = (ws: OcrWord[]) => ws.map((w) => w.text).join(' ');

  it("drops marks standing in a cell gap, after a row-ending number and at a line's start; keeps marks that touch their text", () => {
    // Line 50 px high: a cell gap is 40 px or more.
    const cases: Array<[OcrWord[], string]> = [
      [row(['22', 0], ['范宇', 150], ['-', 260], ['副科长', 400]), '22 范宇 副科长'],
      [row(['23', 0], ['宋辉娟主任。', 150], ['1978.08', 500]), '23 宋辉娟主任 1978.08'],
      [row(['21', 0], ['1967.02', 150], ['071-7860259.', 600]), '21 1967.02 071-7860259'],
      [row(['2020年9月7日。', 0]), '2020年9月7日。'],
      [row(['会议由副局长主持，54名干部参加。', 0]), '会议由副局长主持，54名干部参加。'],
      [row(['1978.08', 0], ['043-8552052', 400]), '1978.08 043-8552052'],
      // No printed line begins with . or ：(避头): there they are specks before the first cell.
      [row(['.15夏旭洋', 0], ['科长', 400]), '15夏旭洋 科长'],
      [row(['：16贺晓', 0]), '16贺晓'],
      [row(['.2012年5月5日', 0]), '2012年5月5日'],
      // A dash may begin a line (a list, a page number), and a lone mark is left to the rules above.
      [row(['-好', 0]), '-好'],
      [row(['“好”', 0]), '“好”'],
    ];
    for (const [ws, want] of cases) {
      dropDustyGapMarks(ws, 50);
      expect(text(ws)).toBe(want);
      for (const w of ws) expect(w.symbols.map((s) => s.text).join('')).toBe(w.text);
    }
  });
});

describe('a 。 is a ring: with no paper inside it a speck (on a dusty page), with paper inside it no other mark', () => {
  /** A 120×40 page of paper (255) with a ring 。 (outer radius 7, inner 4) at x 20 and a solid dot of the same size at x 60. */
  function page(): Ink {
    const w = 120;
    const h = 40;
    const data = new Uint8Array(w * h).fill(255);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const ring = (x - 20) ** 2 + (y - 20) ** 2;
        if (ring <= 49 && ring > 16) data[y * w + x] = 20;
        if ((x - 60) ** 2 + (y - 20) ** 2 <= 49) data[y * w + x] = 20;
      }
    return { width: w, height: h, data, threshold: 128 };
  }
  const at = (text: string, x0: number, x1: number) => ({ text, box: { x0, y0: 13, x1, y1: 27 }, confidence: 95 });

  it('finds the paper inside a ring and none in a dot, whatever the box cuts off round them', () => {
    const ink = page();
    expect(enclosesPaper(ink, { x0: 13, y0: 13, x1: 27, y1: 27 })).toBe(true);
    expect(enclosesPaper(ink, { x0: 53, y0: 13, x1: 67, y1: 27 })).toBe(false);
    // A box a little too small or too large still sees the ring's inside as enclosed.
    expect(enclosesPaper(ink, { x0: 15, y0: 15, x1: 25, y1: 25 })).toBe(true);
    expect(enclosesPaper(ink, { x0: 5, y0: 5, x1: 35, y1: 35 })).toBe(true);
    // A box on plain paper encloses nothing.
    expect(enclosesPaper(ink, { x0: 90, y0: 5, x1: 110, y1: 35 })).toBe(false);
  });

  it('drops the 。 laid on the dot and keeps the one laid on the ring and every other symbol', () => {
    const ink = page();
    const words: OcrWord[] = [
      { text: '行。', box: { x0: 0, y0: 13, x1: 27, y1: 27 }, confidence: 90, symbols: [at('行', 0, 10), at('。', 13, 27)] },
      { text: '。', box: { x0: 53, y0: 13, x1: 67, y1: 27 }, confidence: 90, symbols: [at('。', 53, 67)] },
      { text: '●', box: { x0: 53, y0: 13, x1: 67, y1: 27 }, confidence: 90, symbols: [at('●', 53, 67)] },
    ];
    expect(dropSolidFullStops(words, ink)).toBe(1);
    expect(words.map((w) => w.text)).toEqual(['行。', '●']);
  });

  it('makes a ：，； or “ laid on a ring a 。 again, and leaves them on a dot or over a wide box', () => {
    const ink = page();
    // Line 40 px high: a box over 24 px wide holds more than a mark.
    const words: OcrWord[] = [
      { text: '下：', box: { x0: 0, y0: 13, x1: 27, y1: 27 }, confidence: 90, symbols: [at('下', 0, 10), at('：', 13, 27)] },
      { text: '，', box: { x0: 53, y0: 13, x1: 67, y1: 27 }, confidence: 90, symbols: [at('，', 53, 67)] },
      { text: '“', box: { x0: 5, y0: 13, x1: 35, y1: 27 }, confidence: 90, symbols: [at('“', 5, 35)] },
    ];
    expect(ringsAsFullStops(words, ink, 40)).toBe(1);
    expect(words.map((w) => w.text)).toEqual(['下。', '，', '“']);
    expect(words[0].symbols.map((s) => s.text)).toEqual(['下', '。']);
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

  /** The characters read and printed in the same place: a longest common subsequence of the two. */
  function common(a: string, b: string): string {
    const A = [...a];
    const B = [...b];
    const L = Array.from({ length: A.length + 1 }, () => new Uint16Array(B.length + 1));
    for (let i = A.length - 1; i >= 0; i--) for (let j = B.length - 1; j >= 0; j--) L[i][j] = A[i] === B[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
    let out = '';
    for (let i = 0, j = 0; i < A.length && j < B.length;) {
      if (A[i] === B[j]) {
        out += A[i];
        i++;
        j++;
      } else if (L[i + 1][j] >= L[i][j + 1]) i++;
      else j++;
    }
    return out;
  }

  it('reads at most one ，or 。 where none was printed, and most printed ones where they stand', () => {
    // Counting marks alone would let invented marks stand in for printed ones that were lost, so the
    // reading is aligned with the text: a mark read in a printed mark's place is kept, any other
    // is invented. Measured (seed 0's page): ，20 printed, 15 kept, none invented (before the dusty
    // page's partners: 16 kept and 4 invented; before speck-marks.ts: 23 read); 。11, 11 kept.
    const both = common(read, truth);
    for (const mark of ['，', '。']) {
      const printed = count(truth, mark);
      const kept = count(both, mark);
      expect(printed).toBeGreaterThan(5);
      expect(count(read, mark) - kept, `${mark} invented`).toBeLessThanOrEqual(1);
      expect(kept, `${mark} kept`).toBeGreaterThanOrEqual(Math.floor(printed * 0.7));
    }
  });
});
