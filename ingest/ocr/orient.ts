import sharp from 'sharp';
import type { Pixels } from './decode.ts';
import { otsuThreshold } from './otsu.ts';

/** A grey image shrunk for layout measurements, with its dark (ink) pixels listed. */
interface Ink {
  xs: Float32Array;
  ys: Float32Array;
  width: number;
  height: number;
}

/** Otsu's threshold of a grey image. */
function otsu(data: Uint8Array): number {
  const hist = new Float64Array(256);
  for (let i = 0; i < data.length; i++) hist[data[i]]++;
  return otsuThreshold(hist);
}

async function ink(grey: Pixels, targetWidth = 900): Promise<Ink> {
  const scale = Math.min(1, targetWidth / grey.width);
  const { data, info } = await sharp(grey.data, { raw: { width: grey.width, height: grey.height, channels: grey.channels } })
    .greyscale()
    .resize({ width: Math.max(1, Math.round(grey.width * scale)), kernel: 'linear' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const thr = otsu(data);
  // Ignore the outer 8% (scanner shadows and page edges make long dark bars that are not text).
  const mx = Math.round(info.width * 0.08);
  const my = Math.round(info.height * 0.08);
  const xs: number[] = [];
  const ys: number[] = [];
  for (let y = my; y < info.height - my; y++) {
    for (let x = mx; x < info.width - mx; x++) {
      if (data[y * info.width + x] < thr) {
        xs.push(x);
        ys.push(y);
      }
    }
  }
  return { xs: Float32Array.from(xs), ys: Float32Array.from(ys), width: info.width, height: info.height };
}

/**
 * How sharply the ink falls into rows at a given angle: text lines make a profile of tall peaks and
 * empty gaps, so the sum of squared bin counts peaks when the angle matches the lines. The score is
 * relative to ink spread evenly over the profile's own extent (so blank margins and a half-empty
 * page do not count as sharpness): about 1 for no structure, 2 or more for lines of text.
 */
function profileScore(a: Float32Array, b: Float32Array, len: number, deg: number): number {
  const t = Math.tan((deg * Math.PI) / 180);
  const off = Math.ceil(Math.abs(t) * len) + 2;
  const bins = new Float64Array(len + 2 * off + 2);
  for (let i = 0; i < a.length; i++) bins[Math.round(b[i] - a[i] * t) + off]++;
  const n = a.length;
  if (!n) return 0;
  // Extent from the 1st to the 99th percentile of ink, so stray specks do not stretch it.
  let s = 0;
  let cum = 0;
  let first = -1;
  let last = -1;
  for (let i = 0; i < bins.length; i++) {
    if (bins[i] === 0) continue;
    s += bins[i] * bins[i];
    cum += bins[i];
    if (first < 0 && cum >= n * 0.01) first = i;
    if (last < 0 && cum >= n * 0.99) last = i;
  }
  return s / ((n * n) / (last - first + 1));
}

function bestAngle(a: Float32Array, b: Float32Array, len: number, maxDeg: number): { deg: number; score: number } {
  let best = { deg: 0, score: -1 };
  for (let d = -maxDeg; d <= maxDeg + 1e-9; d += 0.2) {
    const s = profileScore(a, b, len, d);
    if (s > best.score) best = { deg: d, score: s };
  }
  const coarse = best.deg;
  for (let d = coarse - 0.2; d <= coarse + 0.2 + 1e-9; d += 0.04) {
    const s = profileScore(a, b, len, d);
    if (s > best.score) best = { deg: d, score: s };
  }
  return best;
}

export interface Layout {
  /** Skew of the text lines in degrees, positive when lines fall to the right (clockwise). */
  skewDeg: number;
  /** Text lines look vertical: the page is probably sideways (90° or 270°). */
  sideways: boolean;
  /** Fraction of the page that is ink (an empty page needs no OCR). */
  inkRatio: number;
}

/** Measure skew and whether lines run across or down the page, from a shrunken binarised copy. */
export async function measureLayout(grey: Pixels, maxDeg = 5): Promise<Layout> {
  const k = await ink(grey);
  const inkRatio = k.xs.length / (k.width * k.height);
  if (k.xs.length < 200) return { skewDeg: 0, sideways: false, inkRatio };
  const across = bestAngle(k.xs, k.ys, k.height, maxDeg);
  const down = bestAngle(k.ys, k.xs, k.width, maxDeg);
  return { skewDeg: Math.round(across.deg * 100) / 100, sideways: down.score > across.score * 1.1, inkRatio };
}

/**
 * A rotation of the scan (a quarter-turn count plus a small deskew) and its inverse, so boxes found
 * on the turned image are reported in the original scan's pixels. Coordinates are continuous (pixel
 * edges), rotation is about the image centre, and the turned canvas grows to hold the whole image.
 */
export interface Turn {
  /** Clockwise degrees applied to the original. */
  degrees: number;
  width: number;
  height: number;
  toOriginal(x: number, y: number): [number, number];
}

export function turnGeometry(w: number, h: number, degrees: number, outW: number, outH: number): Turn {
  const r = (degrees * Math.PI) / 180;
  const c = Math.cos(r);
  const s = Math.sin(r);
  return {
    degrees,
    width: outW,
    height: outH,
    toOriginal(x, y) {
      const dx = x - outW / 2;
      const dy = y - outH / 2;
      // Inverse of a clockwise turn (y down) about the centre.
      return [c * dx + s * dy + w / 2, -s * dx + c * dy + h / 2];
    },
  };
}

/** Turn a grey image clockwise by `degrees` (white fills the corners). */
export async function turnImage(grey: Pixels, degrees: number): Promise<{ pixels: Pixels; turn: Turn }> {
  if (Math.abs(degrees) < 1e-6) return { pixels: grey, turn: turnGeometry(grey.width, grey.height, 0, grey.width, grey.height) };
  const { data, info } = await sharp(grey.data, { raw: { width: grey.width, height: grey.height, channels: grey.channels } })
    .rotate(degrees, { background: { r: 255, g: 255, b: 255 } })
    .greyscale()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { pixels: { data, width: info.width, height: info.height, channels: 1 }, turn: turnGeometry(grey.width, grey.height, degrees, info.width, info.height) };
}

/** Binary PGM: the cheapest encoding Leptonica (inside tesseract.js) reads. */
export function toPgm(grey: Pixels): Uint8Array {
  if (grey.channels !== 1) throw new Error('toPgm needs one channel');
  return Buffer.concat([Buffer.from(`P5\n${grey.width} ${grey.height}\n255\n`, 'latin1'), grey.data]);
}
