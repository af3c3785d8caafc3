import sharp from 'sharp';
import { inLanes } from '../../core/index.ts';
import type { Pixels } from './decode.ts';
import { toPgm } from './orient.ts';
import type { OcrPool, TessPage } from './pool.ts';
import type Tesseract from 'tesseract.js';
import type { OcrLine } from '../../core/index.ts';
import { lineQuality } from './line-quality.ts';
import { tally, timed, type StageStats } from './stage-stats.ts';
import type { SpeckStats } from './despeckle.ts';
import { median3 } from './median.ts';
import { bodyLineHeight, dropPiecesInside, isPiece, wholeCharacter } from './split-chars.ts';

type TLine = Tesseract.Line;
type TBox = { x0: number; y0: number; x1: number; y1: number };

/**
 * Weak lines read again. Tesseract reads a whole page in one pass with one binarisation (global
 * Otsu), one scale and automatic layout; a line it could not read well often reads right on its
 * own: cropped with a margin (no neighbours, specks or rules to confuse the layout), scaled so its
 * characters are a comfortable size, binarised locally (a shadow or stain no longer swallows the
 * strokes), as a single text line (page segmentation mode 7). Each such reading is a candidate;
 * the one with the best evidence (`evidence`: the recogniser's own symbol and word confidences)
 * replaces the line only when it beats the page's reading. Boxes of a re-read come back from the
 * crop's frame into the page's, so char boxes and the PDF text layer stay on the image. Cost is
 * bounded: only weak lines, at most MAX_LINES a page, and the variants stop at the first reading
 * that beats the page's; on a densely speckled page every line is read, once (SPECKLED_VARIANT).
 */

/** How one re-reading was made. */
export interface Variant {
  name: string;
  /** Scale applied to the crop before reading (characters of `targetPx` high when set). */
  targetPx?: number;
  /** Sauvola local binarisation of the crop. */
  local?: boolean;
  psm: '7' | '6' | '13';
  /** The crop median-filtered first (median.ts; only on a page with `RecoverOptions.specks`). */
  median?: boolean;
  /** Read even when an earlier variant already beat the page's reading (the best is kept). */
  always?: boolean;
}

/**
 * Tried in this order until one beats the page's reading. Measured (samples and bench/ocr-set): of 82 replaced
 * lines local binarisation won 57, rescaling 17, the plain crop 8 (none on the samples) at a third
 * of the reads, so the plain crop (`CROP`) is left out to keep the cost bound.
 */
export const VARIANTS: Variant[] = [
  { name: 'local', psm: '7', local: true },
  { name: 'scaled', psm: '7', targetPx: 48 },
];
export const CROP: Variant = { name: 'crop', psm: '7' };

/**
 * How every line of a densely speckled page (despeckle.ts `isSpeckled`; the page itself, dusty, is
 * read median-filtered: clean-page.ts) is read again: its crop median-filtered once more, binarised
 * locally (Sauvola) and read as one line; that reading is taken whatever the evidence says
 * (`take: 'read'`). Measured with bench/ocr-dusty.ts on the dusty pages of the generated sets of
 * seeds 0-3 (every line read every way, raw page CER against the truth): on the 8 densely speckled
 * pages (186 lines), the page's reading alone 8.62 %; weak lines replaced by the best evidence, as on
 * other pages, 8.28 %; every line replaced when this reading's evidence beats the page's 7.37 %;
 * every line taken from this reading 7.01 %, no page worse than its own reading. A vote per
 * character (ROVER) among the page's, this and the local reading read 7.12 % for twice the reads,
 * among the page's and five re-readings 6.74 % for five times. Evidence is a poor judge here: the
 * recogniser is as sure of a character with a speck read into it as of the printed one. On the 8
 * faded pages with lighter speckle (195 lines) the same rule read 9.04 -> 8.13 % raw, but through the
 * whole engine (bench/ocr-errors.ts: table rows, lost lines, tidying) 4 pages better and 4 worse,
 * for 20-35 more reads a page; there only weak lines are read again, as on any page.
 */
export const SPECKLED_VARIANT: Variant = { name: 'speckled', psm: '7', local: true, median: true };

/** One re-reading of a line: the line (boxes in the page's frame) and its evidence. */
export interface Candidate {
  name: string;
  line: TLine | undefined;
  score: number;
}

/** Most weak lines read again on one page. */
export const MAX_LINES = 8;

export interface RecoverOptions {
  /** Which lines to read again (default: `isWeak`). */
  weak?: (line: TLine) => boolean;
  variants?: Variant[];
  /** Most lines re-read per page (cost bound). */
  maxLines?: number;
  /** Every line read again with its candidates (for measurement: bench and tests). */
  onCandidates?: (original: TLine, candidates: Candidate[]) => void;
  /** Time the re-reads into this (measurement only). */
  stats?: StageStats;
  /** The page's speck measure: `median` variants are read only when it is given. */
  specks?: SpeckStats;
  /**
   * Which reading a line keeps: 'better' (default) the re-reading with the best evidence when it
   * beats the page's; 'read' the first re-reading that read anything (a densely speckled page: SPECKLED_VARIANT).
   */
  take?: 'better' | 'read';
}

/** Confidence of a line as the mean over its characters of their word's confidence. */
export function wordScore(line: TLine): number {
  let sum = 0;
  let n = 0;
  for (const w of line.words) {
    const k = [...w.text.replace(/\s+/gu, '')].length;
    sum += w.confidence * k;
    n += k;
  }
  return n ? sum / n : 0;
}

/** The line as the quality rule sees it (line-quality.ts reads confidences and the box only). */
function asOcrLine(line: TLine): OcrLine {
  return {
    text: line.text,
    box: line.bbox,
    confidence: line.confidence,
    words: line.words
      .filter((w) => w.text.trim() !== '')
      .map((w) => ({
        text: w.text.replace(/\s+/gu, ''),
        box: w.bbox,
        confidence: w.confidence,
        symbols: w.symbols.filter((x) => x.text.trim() !== '').map((x) => ({ text: x.text, box: x.bbox, confidence: x.confidence })),
      })),
  };
}

/**
 * Below this mean word confidence a line is read again even when the shared rule passes it:
 * measured on the samples, a line read as unrelated characters can keep high symbol confidences
 * (the LSTM is sure of each wrong character) while its word confidences fall to 70 or below.
 */
export const WEAK_WORDS = 80;

/** Weak: the shared rule (line-quality.ts, which also flags lines for review) or weak words. */
export function isWeak(line: TLine): boolean {
  return lineQuality(asOcrLine(line)).weak || wordScore(line) < WEAK_WORDS;
}

/**
 * The evidence for one reading of a line, 0-200: the shared rule's score (mean symbol confidence)
 * plus the mean word confidence. Both come from the recogniser reading the same ink, so two
 * readings of one line compare; one alone is fooled more often (see WEAK_WORDS).
 */
export function evidence(line: TLine): number {
  return lineQuality(asOcrLine(line)).score + wordScore(line);
}

const clampBox = (b: TBox, w: number, h: number): TBox => ({
  x0: Math.max(0, Math.floor(b.x0)),
  y0: Math.max(0, Math.floor(b.y0)),
  x1: Math.min(w, Math.ceil(b.x1)),
  y1: Math.min(h, Math.ceil(b.y1)),
});

/** Sauvola's local threshold (window about a character high), ink 0, paper 255. */
export function sauvola(px: Pixels, window: number, k = 0.2): Pixels {
  const { width: w, height: h, data } = px;
  const W = w + 1;
  const sum = new Float64Array(W * (h + 1));
  const sq = new Float64Array(W * (h + 1));
  for (let y = 0; y < h; y++) {
    let rs = 0;
    let rq = 0;
    for (let x = 0; x < w; x++) {
      const v = data[y * w + x];
      rs += v;
      rq += v * v;
      sum[(y + 1) * W + x + 1] = sum[y * W + x + 1] + rs;
      sq[(y + 1) * W + x + 1] = sq[y * W + x + 1] + rq;
    }
  }
  const r = Math.max(3, Math.floor(window / 2));
  const out = Buffer.alloc(w * h);
  for (let y = 0; y < h; y++) {
    const y0 = Math.max(0, y - r);
    const y1 = Math.min(h, y + r + 1);
    for (let x = 0; x < w; x++) {
      const x0 = Math.max(0, x - r);
      const x1 = Math.min(w, x + r + 1);
      const n = (y1 - y0) * (x1 - x0);
      const s = sum[y1 * W + x1] - sum[y0 * W + x1] - sum[y1 * W + x0] + sum[y0 * W + x0];
      const q = sq[y1 * W + x1] - sq[y0 * W + x1] - sq[y1 * W + x0] + sq[y0 * W + x0];
      const m = s / n;
      const sd = Math.sqrt(Math.max(0, q / n - m * m));
      const t = m * (1 + k * (sd / 128 - 1));
      out[y * w + x] = data[y * w + x] <= t ? 0 : 255;
    }
  }
  return { data: out, width: w, height: h, channels: 1 };
}

/**
 * The line's own pixels (its box and a little more), set on a margin of plain paper: a quiet zone
 * for the layout analysis without the neighbouring lines' ink (a margin cut from the page would
 * carry halves of the characters above and below, which read as garbage).
 */
export function crop(px: Pixels, b: TBox, margin: number): Pixels {
  const w = b.x1 - b.x0;
  const h = b.y1 - b.y0;
  const W = w + 2 * margin;
  const H = h + 2 * margin;
  // Paper: a light percentile of the line's pixels.
  const hist = new Uint32Array(256);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) hist[px.data[(b.y0 + y) * px.width + b.x0 + x]]++;
  let paper = 255;
  for (let v = 255, cum = 0; v >= 0; v--) {
    cum += hist[v];
    if (cum >= w * h * 0.3) {
      paper = v;
      break;
    }
  }
  const out = Buffer.alloc(W * H, paper);
  for (let y = 0; y < h; y++) px.data.copy(out, (margin + y) * W + margin, (b.y0 + y) * px.width + b.x0, (b.y0 + y) * px.width + b.x1);
  return { data: out, width: W, height: H, channels: 1 };
}

async function rescale(px: Pixels, k: number): Promise<Pixels> {
  const width = Math.max(1, Math.round(px.width * k));
  const height = Math.max(1, Math.round(px.height * k));
  const data = await sharp(px.data, { raw: { width: px.width, height: px.height, channels: 1 } })
    .resize(width, height, { kernel: 'cubic' })
    .greyscale()
    .raw()
    .toBuffer();
  return { data, width, height, channels: 1 };
}

/** Every box of a line read from a crop, moved back into the page's frame. */
export function moveLine(line: TLine, dx: number, dy: number, k: number): TLine {
  const mv = <T extends TBox>(b: T): T => ({ ...b, x0: b.x0 / k + dx, x1: b.x1 / k + dx, y0: b.y0 / k + dy, y1: b.y1 / k + dy });
  return {
    ...line,
    bbox: mv(line.bbox),
    baseline: line.baseline ? { ...line.baseline, ...mv(line.baseline) } : line.baseline,
    words: line.words.map((w) => ({ ...w, bbox: mv(w.bbox), symbols: w.symbols.map((s) => ({ ...s, bbox: mv(s.bbox) })) })),
  };
}

export function linesOf(page: TessPage): TLine[] {
  return (page.blocks ?? []).flatMap((b) => b.paragraphs.flatMap((p) => p.lines)).filter((l) => l.words.some((w) => w.text.trim() !== ''));
}

/** Join what a single-line reading split into several lines (PSM 7 gives one; others may not). */
export function oneLine(lines: TLine[]): TLine | undefined {
  if (lines.length <= 1) return lines[0];
  const words = lines.flatMap((l) => l.words);
  const bbox = {
    x0: Math.min(...lines.map((l) => l.bbox.x0)),
    y0: Math.min(...lines.map((l) => l.bbox.y0)),
    x1: Math.max(...lines.map((l) => l.bbox.x1)),
    y1: Math.max(...lines.map((l) => l.bbox.y1)),
  };
  const confidence = lines.reduce((a, l) => a + l.confidence, 0) / lines.length;
  return { ...lines[0], words, bbox, confidence, text: lines.map((l) => l.text).join(' ') };
}

export interface RecoverStats {
  /** Weak lines read again, and of those, lines whose reading was replaced. */
  tried: number;
  replaced: number;
  /** Recogniser calls made (each a single cropped line). */
  reads: number;
}

/**
 * Read the weak lines of a page again and put the better readings in place (the page object is
 * changed). `px` is the image the page was read from (same frame as its boxes).
 */
export async function recoverLines(pool: OcrPool, page: TessPage, px: Pixels, dpi: number, opts: RecoverOptions = {}): Promise<RecoverStats> {
  const weak = opts.weak ?? isWeak;
  const variants = opts.variants ?? VARIANTS;
  const todo: Array<{ line: TLine; score: number }> = [];
  for (const block of page.blocks ?? [])
    for (const para of block.paragraphs) for (const line of para.lines) if (line.words.some((w) => w.text.trim() !== '') && weak(line)) todo.push({ line, score: evidence(line) });
  todo.sort((a, b) => a.score - b.score);
  const chosen = todo.slice(0, opts.maxLines ?? MAX_LINES);
  tally(opts.stats, 'recover: weak lines found', todo.length);
  const stats: RecoverStats = { tried: chosen.length, replaced: 0, reads: 0 };
  const lineH = bodyLineHeight(linesOf(page));
  /** One line read in the page's ways, in order, until one beats the page's reading. */
  const readAgain = async (line: TLine, score: number): Promise<{ whole?: TBox; candidates: Candidate[] } | undefined> => {
    // A piece of a large character is read as the whole character (split-chars.ts).
    const whole = isPiece(line) ? wholeCharacter(px, line.bbox, lineH) : undefined;
    const lb = whole ?? line.bbox;
    const h = lb.y1 - lb.y0;
    if (h < 4 || lb.x1 - lb.x0 < 4) return undefined;
    // A little of the page round the line's box (strokes Tesseract's box cut off), then paper.
    const pad = Math.max(2, Math.round(h * 0.12));
    const box = clampBox({ x0: lb.x0 - 2 * pad, y0: lb.y0 - pad, x1: lb.x1 + 2 * pad, y1: lb.y1 + pad }, px.width, px.height);
    const margin = Math.round(h * 0.6);
    const base = crop(px, box, margin);
    const candidates: Candidate[] = [];
    let beaten = false;
    for (const v of variants) {
      if (beaten && !v.always) continue;
      if (v.median && !opts.specks) continue;
      const want = v.targetPx ? Math.min(3, Math.max(0.5, v.targetPx / h)) : 1;
      const k = Math.abs(want - 1) < 0.05 ? 1 : want;
      const img = await timed(opts.stats, 'recover: prepare crop', async () => {
        const from = v.median ? await median3(base) : base;
        const im = k === 1 ? from : await rescale(from, k);
        return v.local ? sauvola(im, Math.max(15, Math.round(h * k))) : im;
      });
      const read = await timed(opts.stats, `recover: read ${v.name}`, () => pool.recognise(toPgm(img), { dpi: dpi * k, psm: v.psm }), img.width * img.height);
      stats.reads++;
      const got = oneLine(linesOf(read));
      const moved = got ? moveLine(got, box.x0 - margin, box.y0 - margin, k) : undefined;
      candidates.push({ name: v.name, line: moved, score: moved ? evidence(moved) : 0 });
      // The next way is tried only when this one did not beat the page's reading. Measured on the
      // samples and the generated set (the 8 weakest lines a page, against the ground truth): both
      // ways unless the first scored 187 fixed 111 errors in 164 reads; this rule 112 in 105.
      if (moved && candidates[candidates.length - 1].score > score) beaten = true;
    }
    return { whole, candidates };
  };
  // Each line is read from its own crop of the page, so the lines are read at once, as many as the
  // pool has workers (a page's re-reads then take a worker another page has left idle; with one
  // worker, one at a time as before); what they read is put in place afterwards, weakest line first,
  // exactly as reading them in turn would.
  const readings = new Array<{ whole?: TBox; candidates: Candidate[] } | undefined>(chosen.length);
  await inLanes(chosen.length, pool.size, async (i) => {
    readings[i] = await readAgain(chosen[i].line, chosen[i].score);
  });
  const gone = new Set<TLine>();
  chosen.forEach(({ line, score }, i) => {
    const r = readings[i];
    // A piece already taken into a whole character's line (below) stays gone.
    if (!r || gone.has(line)) return;
    opts.onCandidates?.(line, r.candidates);
    const read = r.candidates.filter((c) => c.line && c.line.text.trim() !== '');
    const best = opts.take === 'read' ? read[0] : read.sort((a, b) => b.score - a.score)[0];
    if (best?.line && (opts.take === 'read' || best.score > score)) {
      Object.assign(line, best.line);
      stats.replaced++;
      if (r.whole) for (const l of dropPiecesInside(page, line, r.whole)) gone.add(l);
      tally(opts.stats, 'recover: lines replaced');
    }
  });
  return stats;
}
