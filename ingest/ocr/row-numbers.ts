import type Tesseract from 'tesseract.js';
import type { Pixels } from './decode.ts';
import { inkParts, insertInOrder, MIN_EVIDENCE, readAlone, union, type Box } from './lost-lines.ts';
import type { OcrPool, TessPage } from './pool.ts';
import { evidence, linesOf } from './recover-lines.ts';
import { bodyLineHeight } from './split-chars.ts';
import { tally, type StageStats } from './stage-stats.ts';
import { INK } from './unread-ink.ts';

/**
 * A table's column of row numbers the layout left out. Automatic page segmentation sometimes puts a
 * name list's 序号 column (1, 2 … 36, a digit or two a row, far from the names) in no block at all:
 * every row comes back without its number (measured on the generated set v3 of seed 0: a faded,
 * speckled UMing list lost all 16 numbers, 9.5% of its page). The print it leaves is too little
 * for the unread-print re-read (unread-ink.ts: PSM 4's layout left it out too) and too narrow for
 * the lost-line search, which looks for whole lines.
 *
 * So left of each line read, up to the next line box on its level, the ink (darker than unread-ink.ts's
 * INK: the faded digits that were lost are lighter than half-grey) is taken apart: when it
 * holds digit-sized parts only (at least a third of a line high, none wider than a line's height;
 * specks ignored) no wider than four digits, and at least MIN_COLUMN lines on the page have such a
 * group lined up one above the other (left or right edges within half a line), each group is read
 * alone (one line, binarised locally, as a page number is) and kept when it reads as 1-4 digits the
 * recogniser is fairly sure of, or as a number (a mark beside it taken off) that continues the count
 * of the sure ones above and below it (25 between 24 and 26). A kept number is a line of its own;
 * table-rows.ts then joins it to its row. At most MAX_READS reads a page.
 */
export const MIN_COLUMN = 3;
export const MAX_READS = 60;

export async function findRowNumbers(pool: OcrPool, page: TessPage, px: Pixels, dpi: number, stats?: StageStats): Promise<number> {
  const lines = linesOf(page);
  if (lines.length < MIN_COLUMN) return 0;
  const lineH = bodyLineHeight(lines);
  if (lineH < 8) return 0;
  const grow = Math.round(lineH * 0.15);
  const minArea = Math.max(12, Math.round((lineH * 0.06) ** 2));
  const groups: Box[] = [];
  for (const l of lines) {
    const b = l.bbox;
    if (b.y1 - b.y0 > lineH * 1.8) continue;
    // Up to the nearest line box on this line's level to its left (a column read), or the page's edge.
    let from = 0;
    for (const o of lines) {
      if (o === l || o.bbox.x1 > b.x0) continue;
      const overlap = Math.min(o.bbox.y1, b.y1) - Math.max(o.bbox.y0, b.y0);
      if (overlap > 0.3 * (b.y1 - b.y0)) from = Math.max(from, o.bbox.x1 + grow);
    }
    const r = { x0: from, y0: b.y0, x1: b.x0 - grow, y1: b.y1 };
    if (r.x1 - r.x0 < lineH) continue;
    const parts = inkParts(px, r, minArea, INK).filter((p) => p.x1 < r.x1 - 1 && p.x0 > r.x0);
    const tall = parts.filter((p) => p.y1 - p.y0 >= lineH * 0.35);
    if (!tall.length || tall.some((p) => p.y1 - p.y0 > lineH * 1.3 || p.x1 - p.x0 > lineH)) continue;
    const g = union(tall);
    if (g.x1 - g.x0 <= lineH * 2.5) groups.push(g);
  }
  const column = linedUp(groups, lineH);
  if (column.length < MIN_COLUMN) return 0;
  const reads: Array<{ line: Tesseract.Line; n: number; sure: boolean }> = [];
  for (const g of column.slice(0, MAX_READS)) {
    const line = await readAlone(pool, px, g, lineH, dpi, stats, 'row numbers: read');
    if (!line) continue;
    const raw = line.text.replace(/\s+/gu, '');
    const digits = digitsOnly(line);
    if (!/^\d{1,4}$/u.test(digits.text) || raw.length > digits.text.length + 1) continue;
    reads.push({ line: digits, n: Number(digits.text), sure: raw === digits.text && evidence(line) >= MIN_EVIDENCE });
  }
  // A number the recogniser was less sure of, or read with a mark beside it (“29), is kept when it
  // continues the count of the sure ones round it: one more than the row above, one less than the row below.
  let kept = 0;
  reads.forEach((r, i) => {
    const above = reads
      .slice(0, i)
      .filter((x) => x.sure)
      .at(-1);
    const below = reads.slice(i + 1).find((x) => x.sure);
    if (r.sure || (above?.n === r.n - 1 && below?.n === r.n + 1)) {
      insertInOrder(page, r.line);
      kept++;
    }
  });
  tally(stats, 'row numbers: kept', kept);
  return kept;
}

/** The line with its digits only (a mark read beside them, as in “29, taken off). */
function digitsOnly(line: Tesseract.Line): Tesseract.Line {
  const words = line.words
    .map((w) => ({ ...w, symbols: w.symbols.filter((s) => /^\d$/u.test(s.text)) }))
    .filter((w) => w.symbols.length)
    .map((w) => ({ ...w, text: w.symbols.map((s) => s.text).join('') }));
  return { ...line, words, text: words.map((w) => w.text).join('') };
}

/** The largest set of groups lined up in a column: left edges, or right edges, within half a line of each other. */
function linedUp(groups: Box[], lineH: number): Box[] {
  let best: Box[] = [];
  for (const edge of [(b: Box) => b.x0, (b: Box) => b.x1]) {
    for (const g of groups) {
      const near = groups.filter((o) => Math.abs(edge(o) - edge(g)) <= lineH * 0.5);
      if (near.length > best.length) best = near;
    }
  }
  return best;
}
