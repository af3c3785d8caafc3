import type { Pixels } from './decode.ts';
import { toPgm } from './orient.ts';
import type { LineBox, OcrPool, TessPage } from './pool.ts';
import { linesOf } from './recover-lines.ts';
import { tally, timed, type StageStats } from './stage-stats.ts';

/**
 * Print the layout left unread. Tesseract's automatic page segmentation (PSM 3) sometimes drops
 * whole columns of a table as non-text: on a faded, speckled name list the 序号 and 职务 columns
 * never reached any line (measured: the page read at 26% CER, 89 of its 115 errors characters
 * missing), and neither re-reading weak lines nor the lost-line search (whole lines only) can bring
 * back what no line holds. So after the first reading the page's print is compared with the lines
 * read, and a page with much print outside every line is read again as one column of lines (PSM 4:
 * no block detection, so no column is dropped as non-text; measured worse than PSM 3 on ordinary
 * pages, so only here), that reading kept when it leaves clearly less print unread.
 *
 * Print is measured in square cells half a body line high: a cell is print when a good part of it
 * is ink (a speck, a dot or a stain's grain fills little of a cell that size) but not most of it
 * (solid dark), and its ink is strokes — most of it within a stroke's reach of white paper, where
 * the rest of a shadow's or border's gradient left by the cleaning is not. A cell is read when it
 * lies in some line's box grown by a quarter of a line.
 */
export interface UnreadInk {
  /** Unread print cells over print cells (0 with no lines or no print). */
  share: number;
  printCells: number;
  unreadCells: number;
  /** The cell size used (pixels), so two readings of one page are measured alike. */
  cell: number;
}

/** Darker than this on the cleaned page (paper 255) is ink, faded print included. */
export const INK = 200;
/** Paper on the cleaned page (clean-page.ts makes everything lighter than its PAPER white). */
const WHITE = 230;
/** A cell is print when at least PRINT_FILL and at most SOLID of it is ink. */
export const PRINT_FILL = 0.08;
export const SOLID = 0.6;

export function unreadInk(page: TessPage, px: Pixels, cellSize?: number): UnreadInk {
  return unreadInkOutside(
    linesOf(page).map((l) => l.bbox),
    px,
    cellSize,
  );
}

/** `unreadInk` with the lines given as boxes (e.g. a layout analysis's, before anything is read). */
export function unreadInkOutside(lines: LineBox[], px: Pixels, cellSize?: number): UnreadInk {
  const heights = lines.map((l) => l.y1 - l.y0).sort((a, b) => a - b);
  const lineH = heights.length ? heights[Math.floor(heights.length / 2)] : 0;
  const cell = cellSize ?? Math.max(4, Math.round(lineH / 2));
  const none = { share: 0, printCells: 0, unreadCells: 0, cell };
  if (!lines.length) return none;
  const { width: w, height: h, data } = px;
  const gw = Math.ceil(w / cell);
  const gh = Math.ceil(h / cell);
  const ink = new Uint32Array(gw * gh);
  // Every other pixel of every other row (a quarter of the work; a cell holds hundreds of them).
  for (let y = 0; y < h; y += 2) {
    const row = Math.floor(y / cell) * gw;
    const off = y * w;
    for (let x = 0; x < w; x += 2) if (data[off + x] < INK) ink[row + Math.floor(x / cell)] += 4;
  }
  const read = new Uint8Array(gw * gh);
  const grow = lineH / 4;
  for (const l of lines) {
    const x0 = Math.max(0, Math.floor((l.x0 - grow) / cell));
    const x1 = Math.min(gw - 1, Math.floor((l.x1 + grow) / cell));
    const y0 = Math.max(0, Math.floor((l.y0 - grow) / cell));
    const y1 = Math.min(gh - 1, Math.floor((l.y1 + grow) / cell));
    for (let y = y0; y <= y1; y++) read.fill(1, y * gw + x0, y * gw + x1 + 1);
  }
  // A stroke's reach: white paper within this many pixels along the row or the column.
  const reach = Math.max(3, Math.round(cell / 5));
  const strokes = (i: number): boolean => {
    const cx = (i % gw) * cell;
    const cy = Math.floor(i / gw) * cell;
    let inkN = 0;
    let near = 0;
    for (let y = cy; y < Math.min(h, cy + cell); y++)
      for (let x = cx; x < Math.min(w, cx + cell); x++) {
        if (data[y * w + x] >= INK) continue;
        inkN++;
        let white = false;
        for (let d = 1; d <= reach && !white; d++)
          white =
            (x - d >= 0 && data[y * w + x - d] >= WHITE) ||
            (x + d < w && data[y * w + x + d] >= WHITE) ||
            (y - d >= 0 && data[(y - d) * w + x] >= WHITE) ||
            (y + d < h && data[(y + d) * w + x] >= WHITE);
        if (white) near++;
      }
    return near * 2 >= inkN;
  };
  const lo = cell * cell * PRINT_FILL;
  const hi = cell * cell * SOLID;
  let printCells = 0;
  let unreadCells = 0;
  for (let i = 0; i < ink.length; i++) {
    if (ink[i] < lo || ink[i] > hi) continue;
    // Read print is counted as it is; only unread cells are looked at closely (few, and cheaper).
    if (read[i]) printCells++;
    else if (strokes(i)) {
      printCells++;
      unreadCells++;
    }
  }
  return printCells ? { share: unreadCells / printCells, printCells, unreadCells, cell } : none;
}

/**
 * Above this share of the page's print unread, the layout lost text: measured on the samples and
 * the generated set, pages read whole leave at most a few per cent unread (a stain's rim, the edge
 * of a binding shadow), and the faded, speckled name lists whose columns PSM 3 dropped 20-40%.
 */
export const UNREAD_LIMIT = 0.03;

/**
 * A page whose first reading left more than UNREAD_LIMIT of its print unread is read again with
 * PSM 4, and that reading kept when it leaves at most half as much print unread (measured in the
 * same cells). Returns the page to go on with.
 *
 * Before that reading, PSM 4's layout analysis alone (about a fifth of a reading's cost) says where
 * its lines would be: a reading reads only inside its lines, so when they too leave more than half
 * of the unread print outside, the reading could never be kept and is not made. Measured on the
 * generated sets of seeds 0-3 (80 pages; bench/ocr-rereads.ts): the PSM 4 reading fired on 4
 * pages, was kept on 2 (its layout left 23 of 320 and 0 of 46 cells unread, as its reading did)
 * and wasted on 2 shadowed, speckled pages whose unread cells no layout puts in a line (79 of 79
 * and 88 of 88 left unread by the layout and by the reading alike).
 */
export async function rereadIfUnread(pool: OcrPool, page: TessPage, px: Pixels, dpi: number, stats?: StageStats): Promise<TessPage> {
  const first = await timed(stats, 'unread: measure', async () => unreadInk(page, px));
  if (first.share <= UNREAD_LIMIT) return page;
  const layout = await timed(stats, 'unread: layout psm 4', () => pool.layoutLines(toPgm(px), { dpi, psm: '4' }), px.width * px.height);
  if (unreadInkOutside(layout, px, first.cell).unreadCells * 2 > first.unreadCells) return page;
  tally(stats, 'unread: pages read again');
  const again = await timed(stats, 'unread: read page psm 4', () => pool.recognise(toPgm(px), { dpi, psm: '4' }), px.width * px.height);
  const second = unreadInk(again, px, first.cell);
  if (second.unreadCells * 2 > first.unreadCells) return page;
  tally(stats, 'unread: readings replaced');
  return again;
}
