import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOcrPool, ocrDocument } from '../../ingest/index.ts';
import { cer } from '../../ingest/ocr/cer.ts';
import { type OcrPool } from '../../ingest/ocr/pool.ts';
import { type PageText } from '../../core/index.ts';
import { SHARED, cleanup, tempDir } from '../support/appliance.ts';
import { writeInputs } from '../support/synthetic-inputs.ts';
import { drawPage, iou, unionOf, type SyntheticPage } from '../support/synthetic-page.ts';

const run = promisify(execFile);

/** Printed lines with Chinese punctuation, digits and the phrases the daily-use issue named. */
export const LINES = [
  '关于召开全市档案工作会议的通知',
  '为提高全系统档案工作人员的业务素质，推动档案管理工作规范化、标准化，',
  '经研究，决定于2014年5月12日举办培训班。请各单位购置除湿机使用。',
  '各级政府网站应当公开档案目录（试行）；联系电话：12345。',
];

/** Each drawn character paired with the OCR symbol that read it (in reading order, skipping misreads). */
function pairs(page: SyntheticPage, text: PageText): Array<{ ref: SyntheticPage['chars'][number]; box: PageText['lines'][number]['box'] }> {
  // Boxes are in the pixels of the page image the item keeps (a PDF's own text: rendered at its DPI).
  const k = page.width / text.width;
  const scale = (b: PageText['lines'][number]['box']) => ({ x0: b.x0 * k, y0: b.y0 * k, x1: b.x1 * k, y1: b.y1 * k });
  const syms = text.lines.flatMap((l) => l.words.flatMap((w) => (w.symbols.length ? w.symbols : [{ text: w.text, box: w.box }]))).map((s) => ({ text: s.text, box: scale(s.box) }));
  const out = [];
  let i = 0;
  for (const ref of page.chars) {
    const j = syms.findIndex((s, k) => k >= i && k < i + 4 && s.text === ref.ch);
    if (j < 0) continue;
    out.push({ ref, box: syms[j].box });
    i = j + 1;
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The boxes pdftotext gives for each character of the PDF's text layer, in page pixels. */
async function textLayerChars(pdf: string, dpi: number): Promise<Array<{ ch: string; box: { x0: number; y0: number; x1: number; y1: number } }>> {
  const { stdout } = await run('pdftotext', ['-bbox', '-enc', 'UTF-8', '-f', '1', '-l', '1', pdf, '-']);
  const k = dpi / 72;
  const out: Array<{ ch: string; box: { x0: number; y0: number; x1: number; y1: number } }> = [];
  for (const m of stdout.matchAll(/<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)<\/word>/g)) {
    const chars = [...m[5]];
    const x0 = Number(m[1]) * k;
    const w = (Number(m[3]) * k - x0) / chars.length;
    chars.forEach((ch, i) => out.push({ ch, box: { x0: x0 + i * w, y0: Number(m[2]) * k, x1: x0 + (i + 1) * w, y1: Number(m[4]) * k } }));
  }
  return out;
}

let pool: OcrPool;
let dir: string;
let page: SyntheticPage;
const results = new Map<string, { text: PageText; pdf: string }>();

beforeAll(async () => {
  dir = await tempDir('char-boxes-');
  pool = await createOcrPool({ workers: 2, lang: 'chi_sim', cacheDir: dir });
  page = await drawPage(LINES);
  const inputs = await writeInputs(page, dir);
  // A PDF that already carries text: the appliance's own searchable PDF of the PNG.
  const first = await ocrDocument([inputs.png], { pool });
  const textPdf = join(dir, 'page-text.pdf');
  await writeFile(textPdf, first.pdf);
  for (const [kind, file] of Object.entries({ ...inputs, 'pdf-text': textPdf })) {
    const r = kind === 'png' ? first : await ocrDocument([file], { pool });
    const out = join(dir, `${kind}-out.pdf`);
    await writeFile(out, r.pdf);
    results.set(kind, { text: r.pages[0], pdf: out });
  }
}, 300_000);

afterAll(async () => {
  await pool?.close();
  await cleanup(dir);
});

describe('character boxes lie on the printed characters, for every input kind', () => {
  it('each character box overlaps the drawn character (IoU against ink measured on the drawn page)', () => {
    for (const [kind, { text }] of results) {
      expect(text.source).toBe(kind === 'pdf-text' ? 'pdf-text' : 'ocr');
      const ps = pairs(page, text);
      const ious = ps.map((p) => iou(p.ref.box, p.box));
      const med = median(ious);
      console.log(`${kind}: ${ps.length}/${page.chars.length} characters paired, median IoU ${med.toFixed(2)}, min ${Math.min(...ious).toFixed(2)}`);
      expect(ps.length).toBeGreaterThan(page.chars.length * 0.9);
      // Ink-tight boxes; a PDF's own text is placed on its rendering at the PDF's DPI (here half the drawing's).
      expect(med).toBeGreaterThan(kind === 'pdf-text' ? 0.7 : 0.8);
      // No box sits on a neighbour: every character's box has its own centre inside the drawn cell's span.
      for (const p of ps) {
        const cx = (p.box.x0 + p.box.x1) / 2;
        expect(cx, `${kind} ${p.ref.ch}`).toBeGreaterThan(p.ref.box.x0 - 0.3 * (p.ref.box.y1 - p.ref.box.y0));
        expect(cx, `${kind} ${p.ref.ch}`).toBeLessThan(p.ref.box.x1 + 0.3 * (p.ref.box.y1 - p.ref.box.y0));
      }
    }
  });

  it('the outline of 除湿机 and of 政府网站 covers those characters and not their neighbours', () => {
    for (const [kind, { text }] of results) {
      for (const phrase of ['除湿机', '政府网站']) {
        const line = LINES.findIndex((l) => l.includes(phrase));
        const at = [...LINES[line]].indexOf(phrase[0]);
        const refs = page.chars.filter((c) => c.line === line).slice(at, at + phrase.length);
        const ps = pairs(page, text).filter((p) => refs.includes(p.ref));
        expect(ps.length, `${kind} ${phrase}`).toBe(phrase.length);
        const score = iou(unionOf(refs.map((r) => r.box)), unionOf(ps.map((p) => p.box)));
        console.log(`${kind}: ${phrase} IoU ${score.toFixed(2)}`);
        expect(score).toBeGreaterThan(kind === 'pdf-text' ? 0.7 : 0.8);
      }
    }
  });

  it('the searchable PDF text layer lies on the characters and keeps ， and 。 (pdftotext)', async () => {
    for (const [kind, { pdf, text }] of results) {
      const { stdout } = await run('pdftotext', ['-enc', 'UTF-8', pdf, '-']);
      const flat = stdout.replace(/\s+/g, '');
      expect(flat, kind).toContain('素质，推动');
      expect(flat, kind).toContain('培训班。');
      expect(flat, kind).toContain('（试行）；');
      expect(flat, kind).not.toMatch(/[,;]/);
      if (kind === 'pdf-text') continue; // copied as it is
      const layer = await textLayerChars(pdf, text.dpi);
      const ious: number[] = [];
      let i = 0;
      for (const ref of page.chars) {
        const j = layer.findIndex((c, k) => k >= i && k < i + 4 && c.ch === ref.ch);
        if (j < 0) continue;
        ious.push(iou(ref.box, layer[j].box));
        i = j + 1;
      }
      console.log(`${kind}: text layer median IoU ${median(ious).toFixed(2)} over ${ious.length} characters`);
      expect(ious.length).toBeGreaterThan(page.chars.length * 0.9);
      // Glyph boxes of the invisible font are em-high, taller than the ink: overlap, not equality.
      expect(median(ious)).toBeGreaterThan(0.5);
    }
  });
});

describe('text as printed on a sample scan', () => {
  it('keeps ， and 。 where the ground truth has them, in text and through pdftotext of the PDF', async () => {
    const gt = JSON.parse(await readFile(join(SHARED, 'samples/gt/S0003.json'), 'utf8')) as { pages: Array<{ lines: string[] }> };
    const truth = gt.pages[0].lines.join('');
    const r = await ocrDocument([join(SHARED, 'samples/items/S0003/page-001.jpg')], { pool });
    const pdf = join(dir, 's0003.pdf');
    await mkdir(dir, { recursive: true });
    await writeFile(pdf, r.pdf);
    const { stdout } = await run('pdftotext', ['-enc', 'UTF-8', pdf, '-']);
    for (const got of [r.pages[0].text, stdout]) {
      const flat = got.replace(/\s+/g, '');
      const count = (s: string, c: string) => [...s].filter((x) => x === c).length;
      for (const mark of ['，', '。']) {
        expect(count(flat, mark), mark).toBeGreaterThanOrEqual(count(truth, mark) - 1);
        expect(count(flat, mark), mark).toBeLessThanOrEqual(count(truth, mark) + 1);
      }
      expect(flat).not.toMatch(/[,]/);
      // The marks sit where the page has them: the pairs around each ， of the truth are found.
      const around = [...truth.matchAll(/(\p{Script=Han})，(\p{Script=Han})/gu)].map((m) => m[0]);
      const found = around.filter((a) => flat.includes(a)).length;
      expect(found / around.length).toBeGreaterThan(0.8);
      expect(cer(flat, truth)).toBeLessThan(0.03);
    }
  });
});
