import type Tesseract from 'tesseract.js';
import type { Pixels } from './decode.ts';
import type { TessPage } from './pool.ts';

type TLine = Tesseract.Line;
type TBox = { x0: number; y0: number; x1: number; y1: number };

/**
 * A large character cut into pieces by the layout analysis. A heading's last character alone on
 * its line (告 of 调研报告 on the samples S0004 and S0005) is taller than the body's lines, and
 * automatic page segmentation can take its top and its bottom (the 𠂉 and the 口 of 告, a few
 * pixels apart) for two lines, or keep one piece and drop the other: each piece reads as a
 * different, wrong character (八 and 门, or 一, or 口). Reading such a piece again from its own box
 * cannot help. So before a short weak line is read again (recover-lines.ts), its box is grown over
 * the ink that continues it: up, down and sideways while no gap as wide as a quarter of a body
 * line interrupts it (the gap between two lines of print is wider, the gaps inside a character are
 * narrower). The grown box is used only when it took in more ink than the piece and is still at
 * most one large character or two (a heading's size), so a grown box never spans two lines of body
 * text or a table's rows.
 */

/** A line of at most this many characters may be a piece of one. */
export const PIECE_CHARS = 2;

const chars = (l: TLine) => l.words.reduce((n, w) => n + [...w.text.replace(/\s+/gu, '')].length, 0);

export function isPiece(line: TLine): boolean {
  const n = chars(line);
  return n > 0 && n <= PIECE_CHARS;
}

/** Median height of the page's lines (its body text's line height). */
export function bodyLineHeight(lines: TLine[]): number {
  const hs = lines.map((l) => l.bbox.y1 - l.bbox.y0).sort((a, b) => a - b);
  return hs.length ? hs[Math.floor(hs.length / 2)] : 0;
}

/** Ink: darker than this on the cleaned page (as lost-lines.ts). */
const INK = 128;

/**
 * The box of the whole character (or two) a piece belongs to, or undefined when the piece's box
 * already holds all of its ink, or the ink it continues into is larger than a heading's character.
 */
export function wholeCharacter(px: Pixels, b: TBox, lineH: number): TBox | undefined {
  if (lineH < 8) return undefined;
  const { width: w, height: h, data } = px;
  const gap = Math.max(3, Math.round(lineH * 0.25));
  const maxH = Math.round(lineH * 1.8);
  const maxW = Math.round(lineH * 3.6);
  const rowInk = (y: number, x0: number, x1: number) => {
    const off = y * w;
    for (let x = Math.max(0, x0); x < Math.min(w, x1); x++) if (data[off + x] < INK) return true;
    return false;
  };
  const colInk = (x: number, y0: number, y1: number) => {
    for (let y = Math.max(0, y0); y < Math.min(h, y1); y++) if (data[y * w + x] < INK) return true;
    return false;
  };
  let { x0, y0, x1, y1 } = { x0: Math.floor(b.x0), y0: Math.floor(b.y0), x1: Math.ceil(b.x1), y1: Math.ceil(b.y1) };
  // Grow until nothing changes: each side over ink within `gap` of it.
  for (let round = 0; round < 4; round++) {
    const before = `${x0},${y0},${x1},${y1}`;
    for (let y = y0 - 1, blank = 0; y >= 0 && blank < gap && y1 - y <= maxH; y--) {
      if (rowInk(y, x0, x1)) {
        y0 = y;
        blank = 0;
      } else blank++;
    }
    for (let y = y1, blank = 0; y < h && blank < gap && y + 1 - y0 <= maxH; y++) {
      if (rowInk(y, x0, x1)) {
        y1 = y + 1;
        blank = 0;
      } else blank++;
    }
    for (let x = x0 - 1, blank = 0; x >= 0 && blank < gap && x1 - x <= maxW; x--) {
      if (colInk(x, y0, y1)) {
        x0 = x;
        blank = 0;
      } else blank++;
    }
    for (let x = x1, blank = 0; x < w && blank < gap && x + 1 - x0 <= maxW; x++) {
      if (colInk(x, y0, y1)) {
        x1 = x + 1;
        blank = 0;
      } else blank++;
    }
    if (`${x0},${y0},${x1},${y1}` === before) break;
  }
  const grownH = y1 - y0;
  const pieceH = b.y1 - b.y0;
  // Still growing at the limit: the ink runs on (a rule, a table, a block of text): not a character.
  if (grownH >= maxH || x1 - x0 >= maxW) return undefined;
  if (grownH < pieceH * 1.3 && x1 - x0 < (b.x1 - b.x0) * 1.3) return undefined;
  return { x0, y0, x1, y1 };
}

/**
 * Other pieces inside a whole character's box, taken out of the page (their ink is now read with
 * the character's). Returns the lines removed.
 */
export function dropPiecesInside(page: TessPage, keep: TLine, box: TBox): TLine[] {
  const gone: TLine[] = [];
  for (const block of page.blocks ?? [])
    for (const para of block.paragraphs)
      para.lines = para.lines.filter((l) => {
        if (l === keep || !isPiece(l)) return true;
        const b = l.bbox;
        const ow = Math.min(b.x1, box.x1) - Math.max(b.x0, box.x0);
        const oh = Math.min(b.y1, box.y1) - Math.max(b.y0, box.y0);
        const area = Math.max(1, (b.x1 - b.x0) * (b.y1 - b.y0));
        const inside = ow > 0 && oh > 0 && (ow * oh) / area >= 0.7;
        if (inside) gone.push(l);
        return !inside;
      });
  return gone;
}
