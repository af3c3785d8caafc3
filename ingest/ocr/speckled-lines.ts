import type { Pixels } from './decode.ts';
import type { SpeckStats } from './despeckle.ts';

/**
 * Densely speckled pages (dust, toner dots all over): despeckling (despeckle.ts) must leave a speck
 * that lies among the characters when other ink is near it (it could be a full stop, the dot of a
 * colon or of a character), and the recogniser then reads such specks as marks and characters
 * whose strokes they crowd as other characters. On such a page a weak line is read once more
 * (recover-lines.ts) from its crop median-filtered (3×3: a speck's edge and the smallest specks
 * go, a stroke two pixels or more across stays), and that reading is kept only when the recogniser's evidence for it beats every
 * other reading of the line, as the other re-readings are. Only the recogniser's crop changes:
 * the page's cleaned copy, and the scan that is stored and shown, stay as they were.
 */

/**
 * Small components per million pixels above which a page is densely speckled. Measured over the
 * generated sets of seeds 0-3 (80 pages): the 'speckle' pages 389-431, every other page 208 or
 * below (shadow+skew+speckle+faded 176-208, binding shadows 150-180).
 */
export const SPECKLED_PER_MP = 300;

export function isSpeckled(s: SpeckStats | undefined): boolean {
  return !!s && s.stroke > 0 && s.smallPerMp >= SPECKLED_PER_MP;
}

/** 3×3 median of a grey image (a copy). */
export function median3(px: Pixels): Pixels {
  const { width: w, height: h, data } = px;
  const out = Buffer.from(data);
  const win = new Uint8Array(9);
  for (let y = 1; y < h - 1; y++)
    for (let x = 1; x < w - 1; x++) {
      let n = 0;
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) win[n++] = data[(y + dy) * w + x + dx];
      win.sort();
      out[y * w + x] = win[4];
    }
  return { data: out, width: w, height: h, channels: 1 };
}
