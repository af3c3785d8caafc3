import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PDFDocument, PDFName, PDFRawStream, degrees, type PDFPage, type PDFRef } from 'pdf-lib';
import type { Box, OcrLine, OcrWord, PageText } from '../../core/index.ts';
import { needsSpace } from '../ocr/tidy-text.ts';
import { ASCENT, DESCENT, embedGlyphlessFont } from './glyphless-font.ts';
import { PdfStreamWriter } from './pdf-stream-writer.ts';
import { sanitisePdf } from './sanitise.ts';

/** The scan as it goes into the PDF. */
export type PageImage =
  /** JPEG bytes, embedded as they are (DCTDecode pass-through, never re-encoded). */
  | { kind: 'jpeg'; bytes: Uint8Array }
  /** A PNG's compressed pixel data (IDAT), embedded as Flate with the PNG predictor: lossless, PNG-sized. */
  | { kind: 'png'; bytes: Uint8Array };

export interface PdfPageInput {
  text: PageText;
  image?: PageImage;
  /** A page that already carries text (a PDF input): copied as it is, text layer included. */
  copyOf?: { pdf: Uint8Array; page: number };
}

/** Concatenated IDAT data and header of a PNG (8-bit grey or RGB, not interlaced). */
function pngParts(png: Uint8Array): { width: number; height: number; channels: 1 | 3; idat: Buffer } {
  const buf = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  let off = 8;
  let width = 0;
  let height = 0;
  let channels: 1 | 3 = 1;
  const idat: Buffer[] = [];
  while (off + 8 <= buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    const data = buf.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const depth = data[8];
      const colour = data[9];
      const interlace = data[12];
      if (depth !== 8 || (colour !== 0 && colour !== 2) || interlace !== 0) throw new Error(`unsupported PNG layout (depth ${depth}, colour ${colour}, interlace ${interlace})`);
      channels = colour === 0 ? 1 : 3;
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    off += 12 + len;
  }
  return { width, height, channels, idat: Buffer.concat(idat) };
}

function embedImage(doc: PDFDocument, img: PageImage): Promise<PDFRef> | PDFRef {
  if (img.kind === 'jpeg') {
    // pdf-lib reads the JPEG header through the whole underlying ArrayBuffer: hand it an exact copy
    // when the bytes are a view into a larger buffer. The bytes themselves are embedded unchanged.
    const b = img.bytes;
    const exact = b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : new Uint8Array(b);
    return doc.embedJpg(exact).then((e) => e.ref);
  }
  const p = pngParts(img.bytes);
  const ctx = doc.context;
  const stream = PDFRawStream.of(
    ctx.obj({
      Type: 'XObject',
      Subtype: 'Image',
      Width: p.width,
      Height: p.height,
      ColorSpace: p.channels === 1 ? 'DeviceGray' : 'DeviceRGB',
      BitsPerComponent: 8,
      Filter: 'FlateDecode',
      DecodeParms: { Predictor: 15, Colors: p.channels, BitsPerComponent: 8, Columns: p.width },
    }),
    p.idat,
  );
  return ctx.register(stream);
}

const hex = (s: string): string => {
  let out = '';
  for (let i = 0; i < s.length; i++) out += s.charCodeAt(i).toString(16).padStart(4, '0');
  return out.toUpperCase();
};

const fmt = (n: number): string => (Math.round(n * 100) / 100).toString();

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : 0;
};

/**
 * A line's baseline as y = a + b·x in image pixels, fitted through the bottoms of its Chinese
 * characters and letters (punctuation sits high or low and would bend it), and its text height.
 * The scan is shown unchanged, so a skewed line slopes: each word sits on the sloping baseline.
 */
function baselineOf(line: OcrLine): { a: number; b: number; size: number } {
  const body = line.words.filter((w) => /[\p{Script=Han}\p{L}\p{N}]/u.test(w.text));
  const pts = (body.length ? body : line.words).map((w) => ({ x: (w.box.x0 + w.box.x1) / 2, y: w.box.y1, h: w.box.y1 - w.box.y0 }));
  const size = Math.max(4, median(pts.map((p) => p.h)));
  if (pts.length < 2) return { a: pts[0]?.y ?? line.box.y1, b: 0, size };
  const mx = pts.reduce((s, p) => s + p.x, 0) / pts.length;
  const my = pts.reduce((s, p) => s + p.y, 0) / pts.length;
  let sxx = 0;
  let sxy = 0;
  for (const p of pts) {
    sxx += (p.x - mx) ** 2;
    sxy += (p.x - mx) * (p.y - my);
  }
  // Scans are deskewed to within a few degrees: a steeper fit is noise from a short line.
  const b = sxx > 0 ? Math.max(-0.07, Math.min(0.07, sxy / sxx)) : 0;
  return { a: my - b * mx, b, size };
}

/**
 * A page scanned sideways or upside down keeps its scan as it is; its text is laid out in the
 * upright frame (where lines run across) and a `cm` turns that frame onto the scan, so the
 * invisible text lies over the characters and reads in the direction they do. Boxes in PageText
 * are in the scan's pixels; a quarter-turn keeps them axis-aligned, so the mapping is exact.
 */
function upright(text: PageText, k: number): { lines: OcrLine[]; cm?: number[]; height: number } {
  const r = text.rotation;
  const W = text.width;
  const H = text.height;
  if (r === 0) return { lines: text.lines, height: H };
  const pt = (x: number, y: number): [number, number] => (r === 90 ? [H - y, x] : r === 180 ? [W - x, H - y] : [y, W - x]);
  const box = (b: Box): Box => {
    const [ax, ay] = pt(b.x0, b.y0);
    const [bx, by] = pt(b.x1, b.y1);
    return { x0: Math.min(ax, bx), y0: Math.min(ay, by), x1: Math.max(ax, bx), y1: Math.max(ay, by) };
  };
  const lines = text.lines.map((l) => ({ ...l, box: box(l.box), words: l.words.map((w) => ({ ...w, box: box(w.box) })) }));
  // Upright page space onto the scan's page space (points).
  const cm = r === 90 ? [0, 1, -1, 0, W * k, 0] : r === 180 ? [-1, 0, 0, -1, W * k, H * k] : [0, -1, 1, 0, 0, H * k];
  return { lines, cm, height: r === 180 ? H : W };
}

/**
 * The invisible text of one page, in page points. Each word starts at its own left edge on the
 * line's baseline, stretched (Tz) to end exactly where the next word begins, so pdftotext and
 * viewers see no gap (and put no space) between Chinese characters; a real space character goes
 * only between two Latin/digit words.
 */
function textLayer(text: PageText, k: number): string {
  const { lines, cm, height } = upright(text, k);
  const pageH = height * k;
  const ops: string[] = cm ? ['q', `${cm.map(fmt).join(' ')} cm`, 'BT', '3 Tr'] : ['BT', '3 Tr'];
  const glyphH = (ASCENT - DESCENT) / 1000;
  for (const line of lines) {
    const words = [...line.words].filter((w) => w.text).sort((p, q) => p.box.x0 - q.box.x0);
    if (!words.length) continue;
    const base = baselineOf(line);
    // One flat baseline per line: a sloped or stepped baseline makes pdftotext break the line
    // (measured). The scan itself keeps its skew, so the line's box is made taller by the drift
    // (capped, so neighbouring lines do not merge) to stay over the characters at both ends.
    const left = words[0].box.x0;
    const right = Math.max(...words.map((w) => w.box.x1));
    const mid = (left + right) / 2;
    const drift = Math.abs(base.b) * (right - left);
    const height = base.size + Math.min(drift, 0.4 * base.size);
    const bottom = base.a + base.b * mid + (height - base.size) / 2;
    const fs = (height / glyphH) * k;
    const y = pageH - (bottom + (DESCENT / 1000) * (fs / k)) * k;
    ops.push(`/F1 ${fmt(fs)} Tf`);
    for (let i = 0; i < words.length; i++) {
      const w: OcrWord = words[i];
      const next = words[i + 1];
      const s = next && needsSpace(w.text, next.text) ? `${w.text} ` : w.text;
      const x0 = w.box.x0;
      // The last word keeps its own width, but never so thin that a viewer would drop it.
      const x1 = next && next.box.x0 > x0 ? next.box.x0 : Math.max(w.box.x1, x0 + 0.3 * base.size * s.length);
      const units = s.length; // one em per UTF-16 code unit (DW 1000)
      const tz = (100 * (x1 - x0) * k) / (units * fs);
      ops.push(`${fmt(tz)} Tz 1 0 0 1 ${fmt(x0 * k)} ${fmt(y)} Tm <${hex(s)}> Tj`);
    }
  }
  ops.push('ET');
  if (cm) ops.push('Q');
  return ops.join('\n');
}

async function addScanPage(doc: PDFDocument, font: PDFRef, input: PdfPageInput): Promise<PDFPage> {
  const t = input.text;
  const k = 72 / t.dpi;
  const w = t.width * k;
  const h = t.height * k;
  const page = doc.addPage([w, h]);
  const ctx = doc.context;
  const content: string[] = [];
  if (input.image) {
    const ref = await embedImage(doc, input.image);
    page.node.setXObject(PDFName.of('Im0'), ref);
    content.push(`q ${fmt(w)} 0 0 ${fmt(h)} 0 0 cm /Im0 Do Q`);
  }
  page.node.setFontDictionary(PDFName.of('F1'), font);
  content.push(textLayer(t, k));
  // Viewers show a sideways scan upright; the scan itself is not touched.
  if (t.rotation) page.setRotation(degrees(t.rotation));
  const stream = ctx.flateStream(content.join('\n'));
  page.node.set(PDFName.of('Contents'), ctx.register(stream));
  return page;
}

/**
 * The searchable PDF, written to `out` page by page (pdf-stream-writer.ts): every scanned page
 * shows the scan at its physical size (pixels × 72 / DPI) with the invisible text over it; pages
 * that came from a PDF with its own text are copied as they are. Only the page being written is in
 * memory, and of a PDF the pages are copied from, the one being read.
 */
export async function writeSearchablePdf(pages: AsyncIterable<PdfPageInput> | Iterable<PdfPageInput>, out: string, opts: { title?: string } = {}): Promise<number> {
  const w = await PdfStreamWriter.create(out);
  try {
    const fonts = await w.scratch();
    const font = embedGlyphlessFont(fonts);
    await w.add(fonts);
    let source: { bytes: Uint8Array; doc: PDFDocument } | undefined;
    for await (const p of pages) {
      const doc = await w.scratch();
      if (p.copyOf) {
        if (source?.bytes !== p.copyOf.pdf) source = { bytes: p.copyOf.pdf, doc: await PDFDocument.load(p.copyOf.pdf, { updateMetadata: false }) };
        const [copied] = await doc.copyPages(source.doc, [p.copyOf.page]);
        doc.addPage(copied);
        // Pages copied from a PDF from outside bring their annotations and actions: disarmed here,
        // on the document staff will download (sanitise.ts), one page at a time.
        sanitisePdf(doc);
      } else {
        await addScanPage(doc, font, p);
      }
      await w.add(doc);
    }
    const n = w.pageCount;
    await w.finish({ title: opts.title, producer: 'archive appliance (档案检索一体机)', creator: 'archive ocr' });
    return n;
  } catch (e) {
    await w.abort();
    throw e;
  }
}

/** The searchable PDF in memory (for `archive ocr` and tests); the ingest runner writes it to disk with writeSearchablePdf. */
export async function buildSearchablePdf(pages: PdfPageInput[], opts: { title?: string } = {}): Promise<Uint8Array> {
  const dir = await mkdtemp(join(tmpdir(), 'archive-pdf-'));
  try {
    const out = join(dir, 'document.pdf');
    await writeSearchablePdf(pages, out, opts);
    return await readFile(out);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
