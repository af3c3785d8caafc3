import type { Pixels } from './decode.ts';
import { otsuThreshold } from './otsu.ts';

/**
 * Character boxes measured on the ink, not taken from Tesseract.
 *
 * Tesseract's LSTM engine reports each symbol's box from the time steps of its recogniser, and
 * for Chinese those boxes are unreliable (measured on the samples: 齐 4 px wide; a comma given the
 * box of the character before it and that character the comma's; one character spanning four):
 * a hit outlined from them lands about one character off. Its line boxes come from layout
 * analysis and are sound. So each line's ink is cut into column runs (blobs) and the recognised
 * characters are laid onto them by a small dynamic programme: every character takes a run of
 * blobs whose width fits what it is (a Han character about one em, a comma a fifth), gaps inside
 * a character are short, specks may be left over, and Tesseract's own position is a weak prior.
 */

export interface TBox {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** The scan as ink / no ink (Otsu threshold), in the frame the OCR saw. */
export interface Ink {
  width: number;
  height: number;
  /** Grey pixels; ink is at or below `threshold`. */
  data: Uint8Array;
  threshold: number;
}

export function inkOf(px: Pixels): Ink {
  if (px.channels !== 1) throw new Error('inkOf needs a grey image');
  // The histogram from every 4th row is as good for a threshold and a quarter of the work.
  const hist = new Float64Array(256);
  for (let y = 0; y < px.height; y += 4) {
    const off = y * px.width;
    for (let x = 0; x < px.width; x++) hist[px.data[off + x]]++;
  }
  const threshold = otsuThreshold(hist);
  return { width: px.width, height: px.height, data: px.data, threshold };
}

/** One thing to place: a Han character or wide punctuation alone, or a Latin/digit word whole. */
export interface Unit {
  chars: string[];
  /** Tesseract's box for it (a weak prior only). */
  tess: TBox;
}

/**
 * A word's symbols as units: each Han character or wide mark alone, each run of Latin letters and
 * digits together (their ink often touches), with the symbols each unit stands for.
 */
export function unitsOf<S extends { text: string; box: TBox }>(symbols: S[], isWide: (c: string) => boolean): Array<Unit & { syms: S[] }> {
  const out: Array<Unit & { syms: S[] }> = [];
  let run: S[] = [];
  const flush = () => {
    if (!run.length) return;
    const b = run.map((s) => s.box);
    out.push({
      chars: run.map((s) => s.text),
      tess: { x0: Math.min(...b.map((x) => x.x0)), y0: Math.min(...b.map((x) => x.y0)), x1: Math.max(...b.map((x) => x.x1)), y1: Math.max(...b.map((x) => x.y1)) },
      syms: run,
    });
    run = [];
  };
  for (const s of symbols) {
    if (isWide(s.text)) {
      flush();
      out.push({ chars: [s.text], tess: s.box, syms: [s] });
    } else run.push(s);
  }
  flush();
  return out;
}

interface Blob {
  x0: number;
  x1: number; // exclusive
  y0: number;
  y1: number; // exclusive
}

const HAN = /[\p{Script=Han}\u3400-\u4dbf]/u;
const SMALL_PUNCT = /^[，。、；：！？,.;:!?·・]$/u;
const BRACKET = /^[“”‘’"'（）()《》〈〉〔〕【】「」『』\[\]]$/u;

/** Expected ink width of one character in em: [low, ideal, high]. */
function expectedChar(c: string): [number, number, number] {
  if (HAN.test(c)) return [0.25, 0.88, 1.08];
  if (SMALL_PUNCT.test(c)) return [0.03, 0.18, 0.5];
  if (BRACKET.test(c)) return [0.05, 0.3, 0.65];
  if (c === '—' || c === '…') return [0.3, 0.9, 1.1];
  return [0.08, 0.5, 0.85];
}

/** Expected ink width of a unit in em: [low, ideal, high] (characters side by side, small gaps). */
function expected(u: Unit): [number, number, number] {
  const e = u.chars.map(expectedChar);
  const gaps = u.chars.length - 1;
  return [e.reduce((s, x) => s + x[0], 0), e.reduce((s, x) => s + x[1], 0) + 0.08 * gaps, e.reduce((s, x) => s + x[2], 0) + 0.2 * gaps];
}

/** Rows of the line that carry its characters: the run around the densest row. */
function bodyRows(ink: Ink, box: TBox): [number, number] {
  const rows: number[] = [];
  for (let y = box.y0; y < box.y1; y++) {
    let n = 0;
    const off = y * ink.width;
    const { data, threshold } = ink;
    for (let x = box.x0; x < box.x1; x++) if (data[off + x] <= threshold) n++;
    rows.push(n);
  }
  let peak = 0;
  for (let i = 1; i < rows.length; i++) if (rows[i] > rows[peak]) peak = i;
  const floor = Math.max(1, rows[peak] * 0.02);
  const gapMax = 3;
  let top = peak;
  for (let i = peak, gap = 0; i >= 0; i--) {
    if (rows[i] >= floor) {
      top = i;
      gap = 0;
    } else if (++gap > gapMax) break;
  }
  let bottom = peak;
  for (let i = peak, gap = 0; i < rows.length; i++) {
    if (rows[i] >= floor) {
      bottom = i;
      gap = 0;
    } else if (++gap > gapMax) break;
  }
  return [box.y0 + top, box.y0 + bottom + 1];
}

function blobsOf(ink: Ink, x0: number, x1: number, y0: number, y1: number, em: number): Blob[] {
  const w = x1 - x0;
  const cols = new Int32Array(w);
  // Per column, the first and last ink row: a blob's height without another pass over it.
  const top = new Int32Array(w).fill(y1);
  const bottom = new Int32Array(w).fill(y0);
  const { data, threshold } = ink;
  for (let y = y0; y < y1; y++) {
    const off = y * ink.width + x0;
    for (let x = 0; x < w; x++) {
      if (data[off + x] <= threshold) {
        cols[x]++;
        if (y < top[x]) top[x] = y;
        bottom[x] = y + 1;
      }
    }
  }
  const runs: Array<[number, number]> = [];
  for (let x = 0; x < w;) {
    if (!cols[x]) {
      x++;
      continue;
    }
    const s = x;
    while (x < w && cols[x]) x++;
    runs.push([s, x]);
  }
  // Characters that touch make one wide run: cut it at its thinnest column near each em.
  const split: Array<[number, number]> = [];
  const cut = (s: number, e: number): void => {
    if (e - s <= 1.2 * em) {
      split.push([s, e]);
      return;
    }
    let at = -1;
    for (let x = Math.round(s + 0.6 * em); x <= Math.min(e - 1, Math.round(s + 1.15 * em)); x++) if (at < 0 || cols[x] < cols[at]) at = x;
    if (at <= s) {
      split.push([s, e]);
      return;
    }
    split.push([s, at]);
    cut(at, e);
  };
  for (const [s, e] of runs) cut(s, e);
  return split.map(([s, e]) => {
    let t = y1;
    let b = y0;
    for (let x = s; x < e; x++) {
      if (top[x] < t) t = top[x];
      if (bottom[x] > b) b = bottom[x];
    }
    return { x0: x0 + s, x1: x0 + e, y0: t, y1: Math.max(t + 1, b) };
  });
}

const MAX_GROUP = 10;

/**
 * Boxes for every character of a line's units (in the same order), measured on the ink inside the
 * line's box. A unit that found no ink keeps Tesseract's box, split evenly among its characters.
 */
export function placeLine(ink: Ink, lineBox: TBox, units: Unit[]): TBox[][] {
  const clampX = (v: number) => Math.max(0, Math.min(ink.width, Math.round(v)));
  const clampY = (v: number) => Math.max(0, Math.min(ink.height, Math.round(v)));
  const box = { x0: clampX(lineBox.x0), y0: clampY(lineBox.y0), x1: clampX(lineBox.x1), y1: clampY(lineBox.y1) };
  const fallback = (): TBox[][] => units.map((u) => splitEven(u.tess, u.chars.length));
  if (!units.length || box.x1 - box.x0 < 2 || box.y1 - box.y0 < 2) return fallback();
  const [r0, r1] = bodyRows(ink, box);
  const em = Math.max(6, r1 - r0);
  // Some margin either side: Tesseract's line box can clip a first or last character.
  const pad = Math.round(0.3 * em);
  const bx0 = clampX(box.x0 - pad);
  const bx1 = clampX(box.x1 + pad);
  const y0 = clampY(r0 - 0.15 * em);
  const y1 = clampY(r1 + 0.15 * em);
  const blobs = blobsOf(ink, bx0, bx1, y0, y1, em);
  if (!blobs.length) return fallback();

  const n = units.length;
  const m = blobs.length;
  const exp = units.map(expected);
  const unitCost = (u: number, a: number, b: number): number => {
    // blobs a..b-1
    const w = (blobs[b - 1].x1 - blobs[a].x0) / em;
    const [lo, ideal, hi] = exp[u];
    let c = 0.6 * Math.abs(w - ideal) + (w < lo ? 4 * (lo - w) : 0) + (w > hi ? 6 * (w - hi) : 0);
    for (let i = a + 1; i < b; i++) {
      const gap = (blobs[i].x0 - blobs[i - 1].x1) / em;
      if (gap > 0.3) c += 4 * (gap - 0.3);
    }
    const centre = (blobs[a].x0 + blobs[b - 1].x1) / 2;
    const tc = (units[u].tess.x0 + units[u].tess.x1) / 2;
    c += 0.15 * Math.min(3, Math.abs(centre - tc) / em);
    return c;
  };
  const skipCost = (j: number): number => 0.1 + 2 * ((blobs[j].x1 - blobs[j].x0) / em) * Math.min(1, (blobs[j].y1 - blobs[j].y0) / (0.5 * em));
  const NONE = 3;

  // cost[i][j]: best cost with the first i units placed using the first j blobs.
  const cost = Array.from({ length: n + 1 }, () => new Float64Array(m + 1).fill(Infinity));
  const from = Array.from({ length: n + 1 }, () => new Int32Array(m + 1).fill(-2));
  cost[0][0] = 0;
  for (let i = 0; i <= n; i++) {
    for (let j = 0; j <= m; j++) {
      const here = cost[i][j];
      if (here === Infinity) continue;
      if (j < m && here + skipCost(j) < cost[i][j + 1]) {
        cost[i][j + 1] = here + skipCost(j);
        from[i][j + 1] = -1; // came by skipping blob j
      }
      if (i < n) {
        if (here + NONE < cost[i + 1][j]) {
          cost[i + 1][j] = here + NONE;
          from[i + 1][j] = j; // unit i took no blob
        }
        for (let b = j + 1; b <= Math.min(m, j + MAX_GROUP); b++) {
          if ((blobs[b - 1].x1 - blobs[j].x0) / em > exp[i][2] + 0.6) break;
          const c = here + unitCost(i, j, b);
          if (c < cost[i + 1][b]) {
            cost[i + 1][b] = c;
            from[i + 1][b] = j;
          }
        }
      }
    }
  }
  const groups: Array<[number, number] | null> = new Array(n).fill(null);
  for (let i = n, j = m; i > 0 || j > 0;) {
    const f = from[i][j];
    if (f === -1) {
      j--;
      continue;
    }
    if (f === -2) return fallback(); // unreachable state: never expected
    groups[i - 1] = f === j ? null : [f, j];
    i--;
    j = f;
  }
  return units.map((u, i) => {
    const g = groups[i];
    if (!g) return splitEven(u.tess, u.chars.length);
    return splitGroup(blobs.slice(g[0], g[1]), u.chars.length);
  });
}

function splitEven(b: TBox, k: number): TBox[] {
  const w = (b.x1 - b.x0) / Math.max(1, k);
  return Array.from({ length: k }, (_, i) => ({ x0: Math.round(b.x0 + i * w), y0: b.y0, x1: Math.round(b.x0 + (i + 1) * w), y1: b.y1 }));
}

const union = (bs: Blob[]): TBox => ({ x0: Math.min(...bs.map((b) => b.x0)), y0: Math.min(...bs.map((b) => b.y0)), x1: Math.max(...bs.map((b) => b.x1)), y1: Math.max(...bs.map((b) => b.y1)) });

/** A group of blobs shared by k characters: cut at the k-1 widest gaps (or evenly when too few). */
function splitGroup(bs: Blob[], k: number): TBox[] {
  if (k === 1) return [union(bs)];
  if (bs.length < k) {
    const u = union(bs);
    return splitEven(u, k).map((b) => ({ ...b, y0: u.y0, y1: u.y1 }));
  }
  const gaps = bs.slice(1).map((b, i) => ({ i: i + 1, gap: b.x0 - bs[i].x1 }));
  const cuts = gaps
    .sort((a, b) => b.gap - a.gap || a.i - b.i)
    .slice(0, k - 1)
    .map((g) => g.i)
    .sort((a, b) => a - b);
  const out: TBox[] = [];
  let start = 0;
  for (const c of [...cuts, bs.length]) {
    out.push(union(bs.slice(start, c)));
    start = c;
  }
  return out;
}
