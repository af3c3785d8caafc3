// A densely speckled page's weak lines are read once more from a 3×3 median-filtered crop
// (speckled-lines.ts), kept only when the recogniser's evidence beats every other reading. On the
// bench generator's speckle name list (Noto Sans CJK SC 14 pt, 450 specks a megapixel) the row
// 5 卢玲 科员 1997.11 065-8017753 reads at 17% CER on the page and 22% from the Sauvola crop; the
// median crop reads it at 13% and wins on evidence. Real tesseract.js; the page is the generator's.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOcrPool } from '../../ingest/index.ts';
import { cer } from '../../ingest/ocr/cer.ts';
import { cleanWithSpecks } from '../../ingest/ocr/clean-page.ts';
import { openInputs, type Pixels } from '../../ingest/ocr/decode.ts';
import { toPgm } from '../../ingest/ocr/orient.ts';
import { type OcrPool } from '../../ingest/ocr/pool.ts';
import { toGrey } from '../../ingest/ocr/recognise.ts';
import { recoverLines, SPECK_VARIANT, SPECKLED_VARIANTS, VARIANTS, type Candidate } from '../../ingest/ocr/recover-lines.ts';
import { isSpeckled, median3 } from '../../ingest/ocr/speckled-lines.ts';
import { renderItem } from '../../bench/ocr-set/generate.ts';
import { cleanup, tempDir } from '../support/appliance.ts';

const norm = (s: string) => s.normalize('NFKC').replace(/\s+/gu, '');

describe('median3', () => {
  it('takes a one-pixel speck off, keeps a stroke three pixels wide, and leaves its input as it was', () => {
    const w = 20;
    const h = 12;
    const data = Buffer.alloc(w * h, 255);
    data[2 * w + 3] = 0; // a speck
    for (let y = 5; y < 8; y++) data.fill(0, y * w + 2, y * w + 18); // a stroke
    const before = Buffer.from(data);
    const px: Pixels = { data, width: w, height: h, channels: 1 };
    const out = median3(px);
    expect(out.data[2 * w + 3]).toBe(255);
    for (let x = 3; x < 17; x++) expect(out.data[6 * w + x]).toBe(0);
    expect(data.equals(before)).toBe(true);
  });
});

describe('a speckled line read again from a median-filtered crop', () => {
  let pool: OcrPool;
  let dir: string;

  beforeAll(async () => {
    dir = await tempDir('ocr-speckled-');
    pool = await createOcrPool({ workers: 1, lang: 'chi_sim', cacheDir: dir });
  }, 120_000);

  afterAll(async () => {
    await pool?.close();
    if (dir) await cleanup(dir);
  });

  async function cleaned(k: number, p: number) {
    const page = (await renderItem(k, 0))[p];
    const file = join(dir, `p${k}-${p}.${page.ext}`);
    await writeFile(file, page.bytes);
    const [src] = await openInputs([file]);
    return { page, src, ...(await cleanWithSpecks(await toGrey(await src.pixels()), src.dpi)) };
  }

  it('only the densely speckled page is measured as speckled (not the faded one with fewer specks, nor a clean one)', async () => {
    const speckled = await cleaned(1, 1);
    expect(speckled.page.label).toMatch(/, speckle$/u);
    expect(isSpeckled(speckled.specks)).toBe(true);
    for (const [k, p] of [
      [0, 0],
      [4, 0],
    ]) {
      const other = await cleaned(k, p);
      expect(other.page.label).not.toMatch(/, speckle$/u);
      expect(isSpeckled(other.specks), other.page.label).toBe(false);
    }
  }, 120_000);

  it('reads the row 5 卢玲 better: the median reading wins on evidence and is nearer the print than the others', async () => {
    const { page, src, pixels, specks } = await cleaned(6, 0);
    expect(page.label).toMatch(/, speckle$/u);
    const truth = norm(page.lines.find((l) => norm(l).startsWith('5卢玲'))!);
    const read = await pool.recognise(toPgm(pixels), { dpi: src.dpi, psm: '3' });
    const seen: Array<{ original: string; candidates: Candidate[] }> = [];
    await recoverLines(pool, read, pixels, src.dpi, {
      specks,
      variants: [...VARIANTS, SPECK_VARIANT],
      onCandidates: (line, candidates) => seen.push({ original: norm(line.text), candidates }),
    });
    // The row's own reading: the line read again whose first reading is nearest the row's print.
    const tried = seen.sort((a, b) => cer(a.original, truth) - cer(b.original, truth))[0];
    expect(tried && cer(tried.original, truth), 'the line was read again').toBeLessThan(0.5);
    const best = tried!.candidates.filter((c) => c.line).sort((a, b) => b.score - a.score)[0];
    expect(best.name).toBe('specks');
    const err = (c: Candidate) => cer(norm(c.line!.text), truth);
    expect(err(best)).toBeLessThan(cer(tried!.original, truth));
    for (const c of tried!.candidates.filter((c) => c.line && c.name !== 'specks')) expect(err(best), c.name).toBeLessThan(err(c));
  }, 300_000);

  it("in the engine's order (SPECKLED_VARIANTS: the median crop first, the local crop only when it lost) the line comes back right from one read", async () => {
    const { page, src, pixels, specks } = await cleaned(1, 1);
    const truth = norm(page.lines.find((l) => l.startsWith('案卷686卷'))!);
    const read = await pool.recognise(toPgm(pixels), { dpi: src.dpi, psm: '3' });
    const seen: Candidate[][] = [];
    await recoverLines(pool, read, pixels, src.dpi, { specks, variants: SPECKLED_VARIANTS, onCandidates: (_l, cs) => seen.push(cs) });
    for (const cs of seen) expect(cs[0].name).toBe('specks');
    const lines = (read.blocks ?? []).flatMap((b) => b.paragraphs.flatMap((p) => p.lines.map((l) => norm(l.text))));
    const line = lines.sort((a, b) => cer(a, truth) - cer(b, truth))[0];
    expect(cer(line, truth)).toBeLessThan(0.1);
    const theLine = seen.find((cs) => cs.some((c) => c.line && cer(norm(c.line.text), truth) < 0.1));
    expect(
      theLine?.map((c) => c.name),
      'the median crop beat the page and nothing more was read',
    ).toEqual(['specks']);
  }, 300_000);
});
