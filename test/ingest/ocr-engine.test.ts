// The OCR engine on real sample scans: accuracy against ground truth, the searchable PDF through
// poppler and qpdf, sideways pages, and PDFs that already carry text. One pool for the whole file
// (two workers, as on the 2-core appliance); about six pages are OCR'd in all.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOcrPool, ocrDocument } from '../../ingest/index.ts';
import { cer } from '../../ingest/ocr/cer.ts';
import { type OcrDocumentResult } from '../../ingest/ocr/document.ts';
import { type OcrPool } from '../../ingest/ocr/pool.ts';
import { type PageText } from '../../core/index.ts';
import { SHARED, tempDir } from '../support/appliance.ts';

const run = promisify(execFile);
const SAMPLES = join(SHARED, 'samples');

interface GroundTruth {
  files: string[];
  pages: Array<{ lines: string[] }>;
}
const gt = async (id: string): Promise<GroundTruth> => JSON.parse(await readFile(join(SAMPLES, 'gt', `${id}.json`), 'utf8')) as GroundTruth;

/*
 * CER bounds. Measured (bench/ocr.ts, chi_sim 4.0.0 LSTM, November 2026) on all 16 sample pages:
 * mean 1.74%, worst page 4.15% (S0006 p1, a shadowed top edge); the five pages used here 0.6–2.5%,
 * mean 1.5%; the sideways page 1.5%. OCRmyPDF --deskew on the same 16 pages: mean 6.1%.
 * Tesseract is deterministic for the same pixels, so these bounds only move when the engine does:
 * 6% a page is above the worst page measured (a whole lost line costs 3–4%), 3% mean is twice the
 * measured mean of these pages and half of OCRmyPDF's.
 */
const MAX_PAGE_CER = 0.06;
const MAX_MEAN_CER = 0.03;

const fold = (s: string) => s.normalize('NFKC').replace(/\s+/gu, '');

interface BboxWord {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  text: string;
}

async function pdftotextWords(pdf: string, page: number): Promise<BboxWord[]> {
  const { stdout } = await run('pdftotext', ['-bbox', '-f', String(page), '-l', String(page), pdf, '-']);
  const words: BboxWord[] = [];
  for (const m of stdout.matchAll(/<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)<\/word>/g)) {
    words.push({ x0: Number(m[1]), y0: Number(m[2]), x1: Number(m[3]), y1: Number(m[4]), text: m[5] });
  }
  return words;
}

/** Fraction of dark (ink) pixels of a grey image inside a box given in pixels. */
function inkIn(grey: { data: Buffer; width: number }, b: { x0: number; y0: number; x1: number; y1: number }, threshold: number): number {
  let dark = 0;
  let all = 0;
  for (let y = Math.max(0, Math.floor(b.y0)); y < Math.ceil(b.y1); y++) {
    for (let x = Math.max(0, Math.floor(b.x0)); x < Math.min(grey.width, Math.ceil(b.x1)); x++) {
      all++;
      if (grey.data[y * grey.width + x] < threshold) dark++;
    }
  }
  return all ? dark / all : 0;
}

const overlapArea = (a: BboxWord | PageText['lines'][number]['box'], b: { x0: number; y0: number; x1: number; y1: number }) =>
  Math.max(0, Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0)) * Math.max(0, Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0));

let pool: OcrPool;
let dir: string;
let result: OcrDocumentResult;
let pdfPath: string;
const progress: string[] = [];
const inputs = ['S0003/page-001.jpg', 'S0007.tif', 'S0005.pdf'];
const truth: string[] = [];

beforeAll(async () => {
  dir = await tempDir('ocr-engine-');
  pool = await createOcrPool({ workers: 2, lang: 'chi_sim', cacheDir: dir });
  const s3 = await gt('S0003');
  const s7 = await gt('S0007');
  const s5 = await gt('S0005');
  truth.push(s3.pages[0].lines.join('\n'), ...s7.pages.map((p) => p.lines.join('\n')), ...s5.pages.map((p) => p.lines.join('\n')));
  result = await ocrDocument(
    inputs.map((f) => join(SAMPLES, 'items', f)),
    { pool, onProgress: (p) => progress.push(`${p.done}/${p.pages}`) },
  );
  pdfPath = join(dir, 'out.pdf');
  await writeFile(pdfPath, result.pdf);
});

afterAll(async () => {
  await pool?.close();
});

describe('OCR of sample scans (JPEG, TIFF-JPEG 200 dpi, image-only PDF)', () => {
  it('reads every page within the CER bound and reports progress per page', () => {
    expect(result.pages).toHaveLength(5);
    expect(progress).toEqual(['1/5', '2/5', '3/5', '4/5', '5/5']);
    const rates = result.pages.map((p, i) => cer(p.text, truth[i]));
    for (const [i, r] of rates.entries()) console.log(`CER page ${i + 1} (${result.pages[i].source}, confidence ${result.pages[i].confidence}): ${(r * 100).toFixed(2)}%`);
    const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
    console.log(`CER mean: ${(mean * 100).toFixed(2)}%`);
    for (const r of rates) expect(r).toBeLessThan(MAX_PAGE_CER);
    expect(mean).toBeLessThan(MAX_MEAN_CER);
    for (const p of result.pages) {
      expect(p.source).toBe('ocr');
      expect(p.confidence).toBeGreaterThan(80);
      // Normalised text: no space next to a Chinese character.
      expect(p.text).not.toMatch(/\p{Script=Han} | \p{Script=Han}/u);
      // Boxes for lines, words and characters, inside the page.
      const l = p.lines[3];
      expect(l.words.length).toBeGreaterThan(3);
      expect(l.words[0].symbols.length).toBeGreaterThan(0);
      for (const line of p.lines) expect(line.box.x1 <= p.width && line.box.y1 <= p.height && line.box.x0 < line.box.x1).toBe(true);
    }
    expect(result.pages.map((p) => [p.width, p.height, p.dpi])).toEqual([
      [2480, 3508, 300],
      [1654, 2339, 200],
      [1654, 2339, 200],
      [2480, 3508, 300],
      [2480, 3508, 300],
    ]);
  });

  it('makes a PDF that qpdf accepts, with the glyphless font and pages at physical size', async () => {
    const q = await run('qpdf', ['--check', pdfPath]);
    expect(q.stdout).toContain('No syntax or stream encoding errors');
    const fonts = (await run('pdffonts', [pdfPath])).stdout;
    expect(fonts).toMatch(/GlyphLessFont\s+CID TrueType\s+Identity-H\s+yes\s+no\s+yes/);
    const info = (await run('pdfinfo', ['-f', '1', '-l', '5', pdfPath])).stdout;
    // A4 at any DPI is 595 x 842 pt.
    for (const m of info.matchAll(/Page\s+\d+ size:\s+([\d.]+) x ([\d.]+) pts/g)) {
      expect(Math.abs(Number(m[1]) - 595.2)).toBeLessThan(1);
      expect(Math.abs(Number(m[2]) - 841.9)).toBeLessThan(1);
    }
  });

  it('embeds JPEG scans byte for byte and keeps the output close to the input size', async () => {
    const out = join(dir, 'img');
    await run('pdfimages', ['-j', pdfPath, out]);
    expect(await readFile(`${out}-000.jpg`)).toEqual(await readFile(join(SAMPLES, 'items/S0003/page-001.jpg')));
    // The image-only PDF's own JPEGs come through unchanged too.
    const src = join(dir, 'src');
    await run('pdfimages', ['-j', join(SAMPLES, 'items/S0005.pdf'), src]);
    expect(await readFile(`${out}-003.jpg`)).toEqual(await readFile(`${src}-000.jpg`));
    const list = (await run('pdfimages', ['-list', pdfPath])).stdout;
    // Grey scans stay grey (one component), not RGB.
    expect(list.split('\n')[3]).toMatch(/gray\s+1\s+8\s+jpeg/);
    let inBytes = 0;
    for (const f of inputs) inBytes += (await readFile(join(SAMPLES, 'items', f))).length;
    console.log(`input ${inBytes} bytes, PDF ${result.pdf.length} bytes`);
    expect(result.pdf.length).toBeLessThan(inBytes * 1.25);
  });

  it('gives the OCR text back through pdftotext, without spaces between Chinese characters', async () => {
    for (const [i, p] of result.pages.entries()) {
      const { stdout } = await run('pdftotext', ['-f', String(i + 1), '-l', String(i + 1), pdfPath, '-']);
      expect(fold(stdout)).toBe(fold(p.text));
      expect(stdout).not.toMatch(/\p{Script=Han} \p{Script=Han}/u);
    }
  });

  it('places pdftotext word boxes over the printed characters', async () => {
    // The scans as they are inside the PDF (all five are JPEG there).
    await run('pdfimages', ['-j', pdfPath, join(dir, 'box')]);
    for (const [i, p] of result.pages.entries()) {
      const words = await pdftotextWords(pdfPath, i + 1);
      expect(words.length).toBeGreaterThan(10);
      const k = p.dpi / 72;
      const scan = await sharp(join(dir, `box-${String(i).padStart(3, '0')}.jpg`))
        .greyscale()
        .raw()
        .toBuffer({ resolveWithObject: true });
      let inked = 0;
      let matched = 0;
      for (const w of words) {
        const px = { x0: w.x0 * k, y0: w.y0 * k, x1: w.x1 * k, y1: w.y1 * k };
        const area = (px.x1 - px.x0) * (px.y1 - px.y0);
        // Over the OCR line it came from...
        if (p.lines.some((l) => overlapArea(l.box, px) >= 0.5 * area)) matched++;
        // ...and over ink in the scan (paper is light, print dark; a box of blank paper has none).
        if (inkIn({ data: scan.data, width: scan.info.width }, px, 128) > 0.03) inked++;
      }
      expect(matched / words.length).toBeGreaterThan(0.9);
      expect(inked / words.length).toBeGreaterThan(0.9);
    }
  });

  it('keeps the text of a PDF that already has a text layer instead of OCR-ing it again', async () => {
    const again = await ocrDocument([pdfPath], { pool });
    expect(again.pages.map((p) => p.source)).toEqual(['pdf-text', 'pdf-text', 'pdf-text', 'pdf-text', 'pdf-text']);
    for (const [i, p] of again.pages.entries()) expect(fold(p.text)).toBe(fold(result.pages[i].text));
    expect(again.pages[0].lines[0].words[0].box.x1).toBeGreaterThan(0);
    // Page images for the viewer are JPEGs.
    expect(Buffer.from(again.pageImages[0].subarray(0, 3)).toString('hex')).toBe('ffd8ff');
    const q = await run('qpdf', ['--check', join(dir, 'out.pdf')]);
    expect(q.stdout).toContain('No syntax or stream encoding errors');
  });
});

describe('sideways scan', () => {
  it('turns a page scanned 90° sideways upright and reports boxes on the sideways scan', async () => {
    const truthText = (await gt('S0008')).pages[1].lines.join('\n');
    const sideways = join(dir, 'sideways.jpg');
    await sharp(join(SAMPLES, 'items/S0008/page-002.jpg')).rotate(90).withMetadata({ density: 300 }).jpeg({ quality: 90 }).toFile(sideways);
    const r = await ocrDocument([sideways], { pool });
    const p = r.pages[0];
    const rate = cer(p.text, truthText);
    console.log(`CER sideways page: ${(rate * 100).toFixed(2)}% (rotation ${p.rotation})`);
    expect(p.rotation).toBe(270);
    expect(rate).toBeLessThan(MAX_PAGE_CER);
    // Boxes are in the sideways scan's pixels: its long text lines run down the image.
    expect([p.width, p.height]).toEqual([3508, 2480]);
    const long = p.lines.filter((l) => l.text.length > 20);
    expect(long.length).toBeGreaterThan(10);
    for (const l of long) expect(l.box.y1 - l.box.y0).toBeGreaterThan(3 * (l.box.x1 - l.box.x0));
    await writeFile(join(dir, 'sideways.pdf'), r.pdf);
    const { stdout } = await run('pdftotext', [join(dir, 'sideways.pdf'), '-']);
    expect(cer(stdout, truthText)).toBeLessThan(MAX_PAGE_CER * 2);
  });
});
