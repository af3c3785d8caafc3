import type Tesseract from 'tesseract.js';
import type { Pixels } from './decode.ts';
import { toPgm } from './orient.ts';
import type { OcrPool, TessPage } from './pool.ts';
import { crop, evidence, linesOf, moveLine, oneLine, sauvola } from './recover-lines.ts';
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
  const heights = lines.map((l) => l.bbox.y1 - l.bbox.y0).sort((a, b) => a - b);
  const lineH = heights[Math.floor(heights.length / 2)];
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
function insertInOrder(page: TessPage, line: TLine): void {
  let best: { lines: TLine[]; at: number; y: number } | undefined;
  for (const b of page.blocks ?? [])
    for (const p of b.paragraphs)
      p.lines.forEach((l, i) => {
        if (l.bbox.y0 < line.bbox.y0 && (!best || l.bbox.y0 > best.y)) best = { lines: p.lines, at: i + 1, y: l.bbox.y0 };
      });
  if (best) best.lines.splice(best.at, 0, line);
  else page.blocks?.[0]?.paragraphs[0]?.lines.unshift(line);
}
