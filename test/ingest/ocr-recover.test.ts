// Reading better: a line damaged on purpose (a dark shadow and blur over its band, as a binding
// shadow or a fold leaves it) is read again and comes out right, with its boxes on the page image
// and its punctuation full-width through pdftotext; and the page the recogniser reads is a cleaned
// copy: the image stored and shown stays the scan, byte for byte. Real tesseract.js throughout.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOcrPool, ocrDocument } from '../../ingest/index.ts';
import { cer } from '../../ingest/ocr/cer.ts';
import { cleanForOcr } from '../../ingest/ocr/clean-page.ts';
import { openInputs } from '../../ingest/ocr/decode.ts';
import { type OcrPool } from '../../ingest/ocr/pool.ts';
import { recognisePage } from '../../ingest/ocr/recognise.ts';
import { type PageText } from '../../core/index.ts';
import { cleanup, tempDir } from '../support/appliance.ts';
import { damagePage, renderPage, type RenderedPage } from '../support/damaged-page.ts';

const run = promisify(execFile);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

const LINES = ['关于做好档案数字化工作的通知', '各科室：为加强档案管理，现将有关事项通知如下。', '一、扫描件应当清晰完整，分辨率不低于300dpi；', '二、联系人：王明，电话：0851-8740001。'];
/** The line damaged on purpose. */
const HURT = 2;
/** Shadow darkening the band from the left to grey 40, and blur: measured, the page reading loses the line (CER 0.92). */
const DAMAGE = { shadow: { side: 'left' as const, width: 1400, darkest: 40 }, blur: 2.2 };

let pool: OcrPool;
let dir: string;
let page: RenderedPage;
let png: string;
let jpg: string;

/** CER of the damaged line: the page line that reads closest to it. */
const hurtCer = (t: PageText) => Math.min(1, ...t.lines.map((l) => cer(l.text, LINES[HURT])));

beforeAll(async () => {
  dir = await tempDir('ocr-recover-');
  pool = await createOcrPool({ workers: 2, lang: 'chi_sim', cacheDir: dir });
  page = await renderPage(
    LINES.map((text) => ({ text })),
    { width: 2000, height: 900, dpi: 300, font: 'AR PL UMing CN', size: 52, leading: 110, top: 60, left: 150 },
  );
  const band = page.bands[HURT];
  const hurt = { ...DAMAGE, band: { y0: band.y0 - 15, y1: band.y1 + 15 } };
  png = join(dir, 'hurt.png');
  jpg = join(dir, 'hurt.jpg');
  await writeFile(png, await damagePage(page, hurt, 7));
  await writeFile(jpg, await damagePage(page, { ...hurt, jpeg: 90 }, 7));
}, 120_000);

afterAll(async () => {
  await pool?.close();
  if (dir) await cleanup(dir);
});

describe('a line damaged on purpose (shadow and blur) is recovered', () => {
  let before: PageText;
  let recoverOnly: PageText;
  let after: PageText;

  beforeAll(async () => {
    const [src] = await openInputs([png]);
    before = (await recognisePage(pool, src, 1, undefined, { clean: false, recover: false })).text;
    recoverOnly = (await recognisePage(pool, src, 1, undefined, { clean: false })).text;
    after = (await recognisePage(pool, src, 1)).text;
  }, 300_000);

  it('reads the damaged line with fewer errors than the page reading alone, by re-reading and by cleaning', () => {
    const b = hurtCer(before);
    expect(b, 'the damage must really hurt the plain reading').toBeGreaterThan(0.5);
    // Re-reading the weak line alone (no page cleaning) already recovers most of it.
    expect(hurtCer(recoverOnly)).toBeLessThan(b);
    expect(hurtCer(recoverOnly)).toBeLessThan(0.35);
    // And the whole way (cleaned page, then weak lines re-read).
    expect(hurtCer(after)).toBeLessThan(b);
    expect(hurtCer(after)).toBeLessThan(0.35);
    // The undamaged lines do not get worse.
    for (const i of [0, 1]) {
      const c = (t: PageText) => Math.min(1, ...t.lines.map((l) => cer(l.text, LINES[i])));
      expect(c(after), LINES[i]).toBeLessThanOrEqual(c(before));
    }
  });

  it("the re-read line's boxes are back on the page image: on its band, each character where it was drawn", () => {
    const band = page.bands[HURT];
    for (const t of [recoverOnly, after]) {
      const line = t.lines.reduce((a, l) => (cer(l.text, LINES[HURT]) < cer(a.text, LINES[HURT]) ? l : a));
      const mid = (line.box.y0 + line.box.y1) / 2;
      expect(mid).toBeGreaterThan(band.y0);
      expect(mid).toBeLessThan(band.y1);
      expect(line.box.x1).toBeLessThanOrEqual(page.width);
      // Every character before 分 is full-width: one em (52 px) each from the left margin (150).
      const syms = line.words.flatMap((w) => w.symbols);
      for (const ch of ['分', '辨', '率']) {
        const s = syms.find((x) => x.text === ch);
        expect(s, ch).toBeDefined();
        const drawn = 150 + [...LINES[HURT]].indexOf(ch) * 52 + 26;
        expect(Math.abs((s!.box.x0 + s!.box.x1) / 2 - drawn), ch).toBeLessThan(26);
        expect((s!.box.y0 + s!.box.y1) / 2).toBeGreaterThan(band.y0);
        expect((s!.box.y0 + s!.box.y1) / 2).toBeLessThan(band.y1);
      }
      // Every character of the line sits on the damaged band (its centre inside it).
      for (const s of syms) {
        expect((s.box.y0 + s.box.y1) / 2, s.text).toBeGreaterThan(band.y0);
        expect((s.box.y0 + s.box.y1) / 2, s.text).toBeLessThan(band.y1);
      }
    }
  });

  it('the searchable PDF gives the recovered line back through pdftotext, full-width ， and ； on it', async () => {
    const r = await ocrDocument([png], { pool });
    const pdf = join(dir, 'hurt-out.pdf');
    await writeFile(pdf, r.pdf);
    const { stdout } = await run('pdftotext', ['-enc', 'UTF-8', pdf, '-']);
    const flat = stdout.replace(/\s+/gu, '');
    expect(flat).toContain('完整，分辨率不低于300dpi；');
    expect(flat).not.toMatch(/[,;](?=\S)/u);
    // Where pdftotext puts the recovered words: on the damaged band of the page image.
    const { stdout: bbox } = await run('pdftotext', ['-bbox', '-enc', 'UTF-8', pdf, '-']);
    const k = page.dpi / 72;
    const words = [...bbox.matchAll(/<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)<\/word>/g)];
    const hit = words.find((m) => m[5].includes('分辨率'));
    expect(hit).toBeDefined();
    const band = page.bands[HURT];
    const mid = ((Number(hit![2]) + Number(hit![4])) / 2) * k;
    expect(mid).toBeGreaterThan(band.y0);
    expect(mid).toBeLessThan(band.y1);
  }, 300_000);
});

describe('page cleaning changes only what the recogniser reads', () => {
  it('cleanForOcr whitens the shadow in a copy and leaves the scan it was given as it was', async () => {
    const { data, info } = await sharp(await readFile(png))
      .greyscale()
      .raw()
      .toBuffer({ resolveWithObject: true });
    const scan = { data, width: info.width, height: info.height, channels: 1 as const };
    const hash = sha(scan.data);
    const clean = await cleanForOcr(scan, 300);
    expect(sha(scan.data)).toBe(hash);
    expect(clean.data).not.toBe(scan.data);
    // Paper under the shadow (the band's left margin, beside the text) comes out near white.
    const band = page.bands[HURT];
    const y = Math.round((band.y0 + band.y1) / 2);
    const paper = (px: Buffer) => {
      let s = 0;
      for (let x = 10; x < 60; x++) s += px[y * info.width + x];
      return s / 50;
    };
    expect(paper(scan.data)).toBeLessThan(120);
    expect(paper(clean.data)).toBeGreaterThan(235);
  });

  it('the image stored and shown is the scan: JPEG bytes unchanged in the viewer and the PDF, PNG pixels unchanged in the PDF', async () => {
    const fromJpg = await ocrDocument([jpg], { pool });
    const jpgBytes = await readFile(jpg);
    expect(sha(fromJpg.pageImages[0])).toBe(sha(jpgBytes));
    const jpdf = join(dir, 'jpg-out.pdf');
    await writeFile(jpdf, fromJpg.pdf);
    await run('pdfimages', ['-all', jpdf, join(dir, 'fromjpg')]);
    const jOut = (await readdir(dir)).filter((f) => f.startsWith('fromjpg'));
    expect(jOut).toHaveLength(1);
    expect(sha(await readFile(join(dir, jOut[0])))).toBe(sha(jpgBytes));

    const fromPng = await ocrDocument([png], { pool });
    const ppdf = join(dir, 'png-out.pdf');
    await writeFile(ppdf, fromPng.pdf);
    await run('pdfimages', ['-png', ppdf, join(dir, 'frompng')]);
    const pOut = (await readdir(dir)).filter((f) => f.startsWith('frompng'));
    expect(pOut).toHaveLength(1);
    const pixels = async (f: string) => sha((await sharp(f).greyscale().raw().toBuffer()) as Uint8Array);
    expect(await pixels(join(dir, pOut[0]))).toBe(await pixels(png));
  }, 300_000);
});
