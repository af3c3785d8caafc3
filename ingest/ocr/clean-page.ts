import sharp from 'sharp';
import type { Pixels } from './decode.ts';
import { isDusty, removeSpecks, type SpeckStats } from './despeckle.ts';
import { median3 } from './median.ts';
import { timed, type StageStats } from './stage-stats.ts';

/**
 * The page as the recogniser should see it: the paper made evenly white and the things on it that
 * are not print taken away. Only a copy is changed — the stored scan, the viewer's image and the
 * searchable PDF's image are the scan as it came (page-session.ts builds those from the source).
 *
 * - Uneven background (tinted paper, a stain, the shadow along the binding edge, a scanner's
 *   uneven light): the paper's brightness is estimated as a smooth surface (the brightest value
 *   around each point, over a window wider than a character, smoothed) and every pixel divided by
 *   it, so the paper comes out white everywhere and the ink keeps its contrast against it; what is
 *   then lighter than PAPER is made white.
 *   Tesseract binarises with one global threshold: without this, text in a shadow goes black with
 *   its background, and a stain's edge reads as characters.
 * - Dark borders (the scanner lid outside the sheet, a black frame from a copier): dark background
 *   that reaches the edge of the image is not paper, and is made white.
 * - Speckle (dust, toner dots): specks, small against the page's own strokes and characters and
 *   away from every character, are removed (despeckle.ts). A speck beside or inside a line of text
 *   stays (it could be a full stop, a dot of a colon or of a character).
 * - Dust: on a dusty page (many specks away from the print: despeckle.ts `isDusty`) specks also lie
 *   on and beside the characters, where the despeckler must leave them, and the recogniser reads a
 *   stroke with a speck on it as another character (照→煌, 须→顾). Such a page is read from its copy
 *   3×3 median-filtered (median.ts), which shrinks those specks and keeps strokes. Measured on the
 *   16 dusty pages of the generated sets of seeds 0-3 (no sample page is dusty), page CER of the
 *   whole engine: 15 pages better, one worse (3.34 -> 3.71 %), the four seeds' means 1.84 -> 1.77,
 *   1.51 -> 1.23, 1.86 -> 1.62 and 1.88 -> 1.61 %.
 */
/**
 * Lighter than this once the background is divided out is paper, and made white: the paper's grain
 * and the faint noise of the scan otherwise stay on as light grey. Measured, first reading alone
 * of the samples and the generated set (36 pages, same run): the recogniser's time 8-10% less, and
 * mean page CER 1.36% -> 1.31% on the samples (some pages up to a point better, some worse).
 */
export const PAPER = 230;

export async function cleanForOcr(grey: Pixels, dpi: number, stats?: StageStats): Promise<Pixels> {
  return (await cleanWithSpecks(grey, dpi, stats)).pixels;
}

/** `cleanForOcr`, and what despeckling found (how dusty and how speckled the page is: despeckle.ts). */
export async function cleanWithSpecks(grey: Pixels, dpi: number, stats?: StageStats): Promise<{ pixels: Pixels; specks: SpeckStats }> {
  const out = await timed(stats, 'clean: background', () => flatten(grey, dpi));
  const specks = await timed(stats, 'clean: despeckle', () => removeSpecks(out.data, out.width, out.height, dpi));
  const pixels = isDusty(specks) ? await timed(stats, 'clean: median (dusty)', () => median3(out)) : out;
  return { pixels, specks };
}

async function flatten(grey: Pixels, dpi: number): Promise<Pixels> {
  if (grey.channels !== 1) throw new Error('cleanForOcr needs a grey image');
  const { width: w, height: h } = grey;
  // Background at 1/8 size: the brightest value within about a character and a half, smoothed.
  const f = 8;
  const sw = Math.max(1, Math.round(w / f));
  const sh = Math.max(1, Math.round(h / f));
  const small = await sharp(grey.data, { raw: { width: w, height: h, channels: 1 } })
    .resize(sw, sh, { kernel: 'linear' })
    .greyscale()
    .raw()
    .toBuffer();
  const r = Math.max(2, Math.round((dpi / 300) * 4));
  const bg = maxFilter(small, sw, sh, r);
  const outside = outsideOfSheet(bg, sw, sh);
  const smooth = boxBlur(bg, sw, sh, Math.max(1, r >> 1));
  const out = Buffer.alloc(w * h);
  // Division by the background (interpolated between rows of the small image, nearest across
  // within a row: it is smooth), through a reciprocal table so the loop stays in integers.
  const recip = new Uint32Array(256);
  for (let b = 0; b < 256; b++) recip[b] = Math.round((255 * 65536) / Math.max(1, b));
  // Each column of the small image covers a run of the page's columns: [colStart[c], colStart[c + 1]).
  const colStart = new Int32Array(sw + 1).fill(w);
  for (let x = w - 1; x >= 0; x--) colStart[Math.min(sw - 1, Math.floor((x * sw) / w))] = x;
  for (let c = sw - 1; c >= 0; c--) colStart[c] = Math.min(colStart[c], colStart[c + 1]);
  const rowRecip = new Uint32Array(sw);
  const src = grey.data;
  for (let y = 0; y < h; y++) {
    const fy = Math.min(sh - 1, Math.max(0, ((y + 0.5) * sh) / h - 0.5));
    const y0 = Math.floor(fy);
    const y1 = Math.min(sh - 1, y0 + 1);
    const wy = fy - y0;
    const ys = Math.min(sh - 1, Math.floor((y * sh) / h));
    for (let x = 0; x < sw; x++) {
      // 0 marks outside the sheet (made white below).
      rowRecip[x] = outside && outside[ys * sw + x] ? 0 : recip[Math.round(smooth[y0 * sw + x] * (1 - wy) + smooth[y1 * sw + x] * wy)];
    }
    const off = y * w;
    for (let c = 0; c < sw; c++) {
      const rr = rowRecip[c];
      const end = off + colStart[c + 1];
      if (rr === 0) {
        out.fill(255, off + colStart[c], end);
        continue;
      }
      // (v * rr) >>> 16 in two halves, so every product stays a small integer (rr has 24 bits).
      const hi = rr >>> 16;
      const lo = rr & 0xffff;
      for (let i = off + colStart[c]; i < end; i++) {
        const g = src[i];
        const v = g * hi + ((g * lo) >>> 16);
        out[i] = v > PAPER ? 255 : v;
      }
    }
  }
  return { data: out, width: w, height: h, channels: 1 };
}

/** Mean over a (2r+1)-square window, separable. */
function boxBlur(src: Buffer, w: number, h: number, r: number): Float32Array {
  const tmp = new Float32Array(w * h);
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      let n = 0;
      for (let k = Math.max(0, x - r); k <= Math.min(w - 1, x + r); k++, n++) s += src[y * w + k];
      tmp[y * w + x] = s / n;
    }
  }
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) {
      let s = 0;
      let n = 0;
      for (let k = Math.max(0, y - r); k <= Math.min(h - 1, y + r); k++, n++) s += tmp[k * w + x];
      out[y * w + x] = s / n;
    }
  }
  return out;
}

/** Separable maximum filter (radius r) of a small grey image. */
function maxFilter(src: Buffer, w: number, h: number, r: number): Buffer {
  const tmp = Buffer.alloc(w * h);
  const out = Buffer.alloc(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let m = 0;
      for (let k = Math.max(0, x - r); k <= Math.min(w - 1, x + r); k++) if (src[y * w + k] > m) m = src[y * w + k];
      tmp[y * w + x] = m;
    }
  }
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) {
      let m = 0;
      for (let k = Math.max(0, y - r); k <= Math.min(h - 1, y + r); k++) if (tmp[k * w + x] > m) m = tmp[k * w + x];
      out[y * w + x] = m;
    }
  }
  return out;
}

/**
 * Background far darker than the page's paper that reaches the image edge is outside the sheet.
 * Returns a mask (255 outside) or undefined when there is none; the estimate there is set to the
 * paper level, so smoothing does not darken the paper beside it.
 */
function outsideOfSheet(bg: Buffer, w: number, h: number): Buffer | undefined {
  const sorted = Uint8Array.from(bg).sort();
  const paper = sorted[Math.floor(sorted.length * 0.9)];
  const dark = Math.min(paper * 0.45, 110);
  const mask = Buffer.alloc(w * h);
  const stack: number[] = [];
  const push = (i: number) => {
    if (!mask[i] && bg[i] < dark) {
      mask[i] = 255;
      stack.push(i);
    }
  };
  for (let x = 0; x < w; x++) {
    push(x);
    push((h - 1) * w + x);
  }
  for (let y = 0; y < h; y++) {
    push(y * w);
    push(y * w + w - 1);
  }
  if (!stack.length) return undefined;
  while (stack.length) {
    const i = stack.pop()!;
    bg[i] = paper;
    const x = i % w;
    if (x > 0) push(i - 1);
    if (x < w - 1) push(i + 1);
    if (i >= w) push(i - w);
    if (i < w * (h - 1)) push(i + w);
  }
  return mask;
}
