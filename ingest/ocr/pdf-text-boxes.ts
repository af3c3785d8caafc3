import sharp from 'sharp';
import type { PageText } from '../../core/index.ts';
import { inkOf, placeLine, unitsOf } from './char-boxes.ts';
import { isWide } from './tidy-text.ts';

/**
 * A PDF's own text gives word boxes in font units (em-high, a run of Chinese as one word): laid
 * onto the ink of the page as the viewer shows it (the same rendering), every character's box lies
 * on the printed character, as for a scan.
 */
export async function placeOnRendered(text: PageText, jpeg: Uint8Array): Promise<PageText> {
  const { data, info } = await sharp(jpeg).greyscale().raw().toBuffer({ resolveWithObject: true });
  if (info.width !== text.width || info.height !== text.height) return text; // a different frame: keep poppler's boxes
  const ink = inkOf({ data, width: info.width, height: info.height, channels: 1 });
  for (const line of text.lines) {
    const units = line.words.flatMap((w) => unitsOf(w.symbols, isWide));
    if (!units.length) continue;
    const placed = placeLine(ink, line.box, units);
    units.forEach((u, i) => u.syms.forEach((s, j) => (s.box = placed[i][j])));
    for (const w of line.words) {
      if (!w.symbols.length) continue;
      w.box = {
        x0: Math.min(...w.symbols.map((s) => s.box.x0)),
        y0: Math.min(...w.symbols.map((s) => s.box.y0)),
        x1: Math.max(...w.symbols.map((s) => s.box.x1)),
        y1: Math.max(...w.symbols.map((s) => s.box.y1)),
      };
    }
  }
  return text;
}
