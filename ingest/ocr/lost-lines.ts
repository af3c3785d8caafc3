import type Tesseract from 'tesseract.js';
import type { Pixels } from './decode.ts';
import { toPgm } from './orient.ts';
import type { OcrPool, TessPage } from './pool.ts';
import { crop, evidence, linesOf, moveLine, oneLine, sauvola } from './recover-lines.ts';
import { bodyLineHeight } from './split-chars.ts';
import { tally, timed, type StageStats } from './stage-stats.ts';

type TLine = Tesseract.Line;

/**
 * Lines the layout analysis never reported. Automatic page segmentation sometimes leaves a whole
 * printed line out of every block (seen on speckled pages: a clean, legible line of a cleaned page
 * simply missing from the result), and recover-lines.ts can only re-read lines it was given. So
 * the page's ink is compared with the lines read: a band of rows with text-like ink (a run of rows
 * each with ink across a good part of a line's width) where no line box was read at all is cut
 * out and read as a single line (PSM 7, binarised locally, as a weak line is). The reading is kept
 * only when the recogniser is fairly sure of it and it fills its band with letters (a shadow's
 * edge or a stain read as a few marks, sure or not, is not kept: measured on a shadowed faded
 * page, such junk scored up to 167 of 200), and is put in reading order by its place on the page.
 * At most MAX_LOST kept and twice as many read a page.
 */
export const MAX_LOST = 4;
/** Least evidence (recover-lines.ts `evidence`, 0-200) for a found line to be kept. */
export const MIN_EVIDENCE = 150;

export async function findLostLines(pool: OcrPool, page: TessPage, px: Pixels, dpi: number, stats?: StageStats): Promise<number> {
  const lines = linesOf(page);
  if (!lines.length) return 0;
  const lineH = bodyLineHeight(lines);
  if (lineH < 8) return 0;
  const { width: w, height: h, data } = px;
  // Ink per row outside every line box read (boxes grown a little): counted only over the stretches
  // of each row that no box covers.
  const freeRow = new Uint32Array(h);
  const grow = Math.round(lineH * 0.15);
  const boxesAt: Array<Array<[number, number]>> = Array.from({ length: h }, () => []);
  for (const l of lines) {
    for (let y = Math.max(0, Math.floor(l.bbox.y0 - grow)); y < Math.min(h, Math.ceil(l.bbox.y1 + grow)); y++) boxesAt[y].push([l.bbox.x0 - grow, l.bbox.x1 + grow]);
  }
  for (let y = 0; y < h; y++) {
    const off = y * w;
    let n = 0;
    for (const [x0, x1] of freeStretches(boxesAt[y], w)) for (let x = x0; x < x1; x++) if (data[off + x] < 128) n++;
    freeRow[y] = n;
  }
  // Bands of rows whose free ink is text-like: at least a few characters' worth of strokes.
  const minRow = Math.max(12, Math.round(lineH * 0.6));
  const found: TLine[] = [];
  let y = 0;
  let reads = 0;
  while (y < h && found.length < MAX_LOST && reads < 2 * MAX_LOST) {
    if (freeRow[y] < minRow) {
      y++;
      continue;
    }
    let y1 = y;
    let quiet = 0;
    while (y1 + 1 < h && quiet <= 2) {
      y1++;
      quiet = freeRow[y1] < minRow ? quiet + 1 : 0;
    }
    const y0 = y;
    y = y1 + 1;
    const bandH = y1 - quiet - y0 + 1;
    if (bandH < lineH * 0.4 || bandH > lineH * 2.5) continue;
    // Only a line missing whole: most of its rows have no line box anywhere across the page. (Ink
    // beside a line that was read, past the end of its box or in a table's other column, is more
    // often part of what was read: measured on the generated set, taking it duplicated cells.)
    let open = 0;
    for (let yy = y0; yy <= y1 - quiet; yy++) if (!boxesAt[yy].length) open++;
    if (open < bandH * 0.7) continue;
    // Its free ink's extent across the page.
    let x0 = w;
    let x1 = -1;
    for (let yy = y0; yy <= y1 - quiet; yy++) {
      const off = yy * w;
      for (const [a, b] of freeStretches(boxesAt[yy], w))
        for (let x = a; x < b; x++) {
          if (data[off + x] >= 128) continue;
          if (x < x0) x0 = x;
          if (x > x1) x1 = x;
        }
    }
    if (x1 - x0 < lineH * 2) continue;
    const pad = Math.round(lineH * 0.15);
    const box = { x0: Math.max(0, x0 - pad), y0: Math.max(0, y0 - pad), x1: Math.min(w, x1 + pad + 1), y1: Math.min(h, y1 - quiet + pad + 1) };
    const margin = Math.round(lineH * 0.6);
    const img = sauvola(crop(px, box, margin), Math.max(15, lineH));
    const read = await timed(stats, 'lost: read', () => pool.recognise(toPgm(img), { dpi, psm: '7' }), img.width * img.height);
    reads++;
    const got = oneLine(linesOf(read));
    if (!got) continue;
    const line = moveLine(got, box.x0 - margin, box.y0 - margin, 1);
    // A line of print fills its band: about a character per line height across it (digits and
    // Latin narrower). A few marks read from a shadow's edge or a stain do not, however sure.
    const letters = [...line.text].filter((c) => /[\p{Script=Han}\p{L}\p{N}]/u.test(c)).length;
    if (evidence(line) >= MIN_EVIDENCE && letters >= 0.4 * ((box.x1 - box.x0) / lineH)) found.push(line);
  }
  tally(stats, 'lost: lines kept', found.length);
  for (const line of found) insertInOrder(page, line);
  return found.length;
}

/**
 * A page number printed alone below the text. A 公文 prints it there with a dash either side
 * (GB/T 9704: - 1 -, right on odd pages and left on even ones, or centred); it is too small for the
 * search above (a few strokes, narrower than two lines' height) and the layout analysis leaves it
 * out: on the samples all four printed were lost. Read as a line of its own, chi_sim reads the dashes
 * as 一 and then the digit between them as a character (一 工 一). So below the lowest line read,
 * parts of ink on one level and close together, each bigger than a speck, are taken as a page
 * number when they are digits (parts at least a third of a line high, no wider than four digits)
 * with at most a dash (a flat part) on either side: the digits alone are read, as one line, and
 * kept only when they read as 1-4 digits the recogniser is fairly sure of; the dashes are added from
 * their shapes (one 0.6 of a line's height or longer is an em dash; the samples' hyphens are under
 * 0.4). A speck or a stain in the margin read as marks is never kept. At most two groups are read.
 */
export async function findPageNumber(pool: OcrPool, page: TessPage, px: Pixels, dpi: number, stats?: StageStats): Promise<boolean> {
  const lines = linesOf(page);
  if (!lines.length) return false;
  const lineH = bodyLineHeight(lines);
  if (lineH < 8) return false;
  const top = Math.ceil(Math.max(...lines.map((l) => l.bbox.y1)) + lineH * 0.5);
  const parts = inkParts(px, { x0: 0, y0: top, x1: px.width, y1: px.height }, Math.max(12, Math.round((lineH * 0.06) ** 2))).filter((b) => b.y1 - b.y0 < lineH * 1.5 && b.x1 - b.x0 < lineH * 2);
  // Parts on one level (centres within half a line) and near each other (gaps under a line and a half).
  parts.sort((a, b) => a.x0 - b.x0);
  const groups: Box[][] = [];
  for (const p of parts) {
    const cy = (p.y0 + p.y1) / 2;
    const g = groups.find((g) => Math.abs((g[0].y0 + g[0].y1) / 2 - cy) < lineH * 0.5 && p.x0 - Math.max(...g.map((q) => q.x1)) < lineH * 1.5);
    if (g) g.push(p);
    else groups.push([p]);
  }
  let read = 0;
  for (const g of groups) {
    if (read >= 2) break;
    const tall = g.filter((b) => b.y1 - b.y0 >= lineH * 0.35);
    const flat = g.filter((b) => b.y1 - b.y0 <= lineH * 0.15 && b.x1 - b.x0 >= 2 * (b.y1 - b.y0 + 1));
    if (!tall.length || tall.length + flat.length !== g.length) continue;
    const digits = union(tall);
    if (digits.x1 - digits.x0 > lineH * 2.5) continue;
    const left = flat.filter((b) => b.x1 < digits.x0);
    const right = flat.filter((b) => b.x0 > digits.x1);
    if (left.length > 1 || right.length > 1 || left.length + right.length !== flat.length) continue;
    read++;
    const line = await readAlone(pool, px, digits, lineH, dpi, stats, 'page number: read');
    if (!line) continue;
    if (!/^\d{1,4}$/u.test(line.text.replace(/\s+/gu, '')) || evidence(line) < MIN_EVIDENCE) continue;
    const dash = (b: Box): Tesseract.Word => {
      const w = line.words[0];
      const text = b.x1 - b.x0 >= lineH * 0.6 ? '—' : '-';
      const bbox = { x0: b.x0, y0: b.y0, x1: b.x1 + 1, y1: b.y1 + 1 };
      return { ...w, text, bbox, symbols: [{ ...w.symbols[0], text, bbox }] };
    };
    line.words = [...left.map(dash), ...line.words, ...right.map(dash)];
    line.text = line.words.map((w) => w.text).join(' ');
    line.bbox = union([line.bbox, ...line.words.map((w) => w.bbox)]);
    insertInOrder(page, line);
    tally(stats, 'page number: kept');
    return true;
  }
  return false;
}

/**
 * A few parts of ink (`g`, in the page's pixels) read alone: a third of a line round them, binarised
 * locally, as one line (PSM 7). The line read, in the page's pixels, or undefined. Page numbers and
 * row numbers are read so.
 */
export async function readAlone(pool: OcrPool, px: Pixels, g: Box, lineH: number, dpi: number, stats: StageStats | undefined, stage: string): Promise<TLine | undefined> {
  const pad = Math.round(lineH * 0.3);
  const box = { x0: Math.max(0, g.x0 - pad), y0: Math.max(0, g.y0 - pad), x1: Math.min(px.width, g.x1 + pad + 1), y1: Math.min(px.height, g.y1 + pad + 1) };
  const margin = Math.round(lineH * 0.6);
  const img = sauvola(crop(px, box, margin), Math.max(15, lineH));
  const got = oneLine(linesOf(await timed(stats, stage, () => pool.recognise(toPgm(img), { dpi, psm: '7' }), img.width * img.height)));
  return got && moveLine(got, box.x0 - margin, box.y0 - margin, 1);
}

export function union(bs: Box[]): Box {
  return { x0: Math.min(...bs.map((b) => b.x0)), y0: Math.min(...bs.map((b) => b.y0)), x1: Math.max(...bs.map((b) => b.x1)), y1: Math.max(...bs.map((b) => b.y1)) };
}

export type Box = { x0: number; y0: number; x1: number; y1: number };

/** Boxes of the 8-connected parts of ink (darker than `ink`) inside `r` (parts cut at its edges), of at least `minArea` pixels. */
export function inkParts(px: Pixels, r: Box, minArea: number, ink = 128): Box[] {
  const { width: pw, data } = px;
  const left = Math.max(0, Math.floor(r.x0));
  const top = Math.max(0, Math.floor(r.y0));
  const right = Math.min(px.width, Math.ceil(r.x1));
  const h = Math.min(px.height, Math.ceil(r.y1));
  if (top >= h || left >= right) return [];
  const w = right - left;
  const seen = new Uint8Array(w * (h - top));
  const out: Box[] = [];
  const stack: number[] = [];
  for (let y = top; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = (y - top) * w + x;
      if (seen[i] || data[y * pw + left + x] >= ink) continue;
      seen[i] = 1;
      stack.push(i);
      const b = { x0: x, y0: y, x1: x, y1: y };
      let n = 0;
      while (stack.length) {
        const j = stack.pop()!;
        n++;
        const jx = j % w;
        const jy = (j - jx) / w + top;
        if (jx < b.x0) b.x0 = jx;
        if (jx > b.x1) b.x1 = jx;
        if (jy > b.y1) b.y1 = jy;
        for (let dy = -1; dy <= 1; dy++)
          for (let dx = -1; dx <= 1; dx++) {
            const qx = jx + dx;
            const qy = jy + dy;
            if (qx < 0 || qx >= w || qy < top || qy >= h) continue;
            const q = (qy - top) * w + qx;
            if (!seen[q] && data[qy * pw + left + qx] < ink) {
              seen[q] = 1;
              stack.push(q);
            }
          }
      }
      if (n >= minArea) out.push({ x0: b.x0 + left, y0: b.y0, x1: b.x1 + left, y1: b.y1 });
    }
  return out;
}

/** The stretches [x0, x1) of a row of width `w` outside every span [a, b] (inclusive, any order). */
export function freeStretches(spans: Array<[number, number]>, w: number): Array<[number, number]> {
  if (!spans.length) return [[0, w]];
  const covered = spans.map(([a, b]): [number, number] => [Math.max(0, Math.ceil(a)), Math.min(w - 1, Math.floor(b))]).sort((p, q) => p[0] - q[0]);
  const out: Array<[number, number]> = [];
  let x = 0;
  for (const [a, b] of covered) {
    if (b < a) continue;
    if (a > x) out.push([x, a]);
    x = Math.max(x, b + 1);
  }
  if (x < w) out.push([x, w]);
  return out;
}

/** The line put after the line read just above it (in that line's paragraph), or first. */
export function insertInOrder(page: TessPage, line: TLine): void {
  let best: { lines: TLine[]; at: number; y: number } | undefined;
  for (const b of page.blocks ?? [])
    for (const p of b.paragraphs)
      p.lines.forEach((l, i) => {
        if (l.bbox.y0 < line.bbox.y0 && (!best || l.bbox.y0 > best.y)) best = { lines: p.lines, at: i + 1, y: l.bbox.y0 };
      });
  if (best) best.lines.splice(best.at, 0, line);
  else page.blocks?.[0]?.paragraphs[0]?.lines.unshift(line);
}
