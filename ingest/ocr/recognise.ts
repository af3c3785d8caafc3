import sharp from 'sharp';
import type { Box, OcrLine, OcrSymbol, OcrWord, PageText } from '../../core/index.ts';
import type { PageSource, Pixels } from './decode.ts';
import { asPrintedChars, lettersInNumbers } from './as-printed.ts';
import { inkOf, placeLine, unitsOf, type Ink } from './char-boxes.ts';
import { isWide, normaliseLine } from './tidy-text.ts';
import { measureLayout, toPgm, turnImage, type Turn } from './orient.ts';
import type { OcrPool, TessPage } from './pool.ts';
import { SPECKLED_VARIANT, recoverLines, type RecoverOptions } from './recover-lines.ts';
import { cleanWithSpecks } from './clean-page.ts';
import { isDusty, isSpeckled, type SpeckStats } from './despeckle.ts';
import { dropGapMarks } from './gap-marks.ts';
import { joinTableRows } from './table-rows.ts';
import { findLostLines, findPageNumber } from './lost-lines.ts';
import { findRowNumbers } from './row-numbers.ts';
import { dropPercentDigits } from './percent.ts';
import { rereadIfUnread } from './unread-ink.ts';
import { dropDustyGapMarks, dropSolidFullStops, dropSpeckMarks, ringsAsFullStops } from './speck-marks.ts';
import { mendDocNumbers } from './doc-number.ts';
import { timed, type StageStats } from './stage-stats.ts';

/**
 * Deskew for OCR from this skew up (measured on the samples: no deskew 3.5% mean CER, from 0.3°
 * 2.3%, from 0.1° 2.2%).
 */
const MIN_DESKEW_DEG = 0.1;
/** A page read with less mean confidence than this is checked for being upside down or sideways. */
const RECHECK_CONFIDENCE = 60;
/** Ink below this fraction of the page: a blank page, nothing to read. */
const BLANK_INK = 0.0005;
/**
 * Scans finer than this are read at OCR_DPI: Tesseract is trained on print at about 300 DPI, and a
 * 600-DPI A4 page (35 million pixels) would grow an OCR worker's memory, which WebAssembly never
 * gives back, by hundreds of megabytes. Boxes are scaled back to the scan's own pixels.
 */
const MAX_OCR_DPI = 400;
const OCR_DPI = 300;

export async function toGrey(px: Pixels): Promise<Pixels> {
  if (px.channels === 1) return px;
  const data = await sharp(px.data, { raw: { width: px.width, height: px.height, channels: px.channels } })
    .greyscale()
    .raw()
    .toBuffer();
  return { data, width: px.width, height: px.height, channels: 1 };
}

/** Grey pixels scaled down by `scale` (0 < scale < 1). */
async function shrink(px: Pixels, scale: number): Promise<Pixels> {
  const width = Math.max(1, Math.round(px.width * scale));
  const height = Math.max(1, Math.round(px.height * scale));
  const data = await sharp(px.data, { raw: { width: px.width, height: px.height, channels: 1 } })
    .resize(width, height, { kernel: 'lanczos3' })
    .greyscale()
    .raw()
    .toBuffer();
  return { data, width, height, channels: 1 };
}

type TBox = { x0: number; y0: number; x1: number; y1: number };

function mapBox(b: TBox, turn: Turn, w: number, h: number, scale: number): Box {
  const pts = [turn.toOriginal(b.x0, b.y0), turn.toOriginal(b.x1, b.y0), turn.toOriginal(b.x0, b.y1), turn.toOriginal(b.x1, b.y1)];
  const xs = pts.map((p) => p[0] / scale);
  const ys = pts.map((p) => p[1] / scale);
  const clamp = (v: number, max: number) => Math.max(0, Math.min(max, Math.round(v)));
  return { x0: clamp(Math.min(...xs), w), y0: clamp(Math.min(...ys), h), x1: clamp(Math.max(...xs), w), y1: clamp(Math.max(...ys), h) };
}

const HAN_END = /\p{Script=Han}$/u;
/** Punctuation that Chinese typesetting never puts at the start of a line (避头点). */
const NEVER_LEADS = /^[,.:;!?、。，：；！？]$/u;

/**
 * Fix what Tesseract's chi_sim reliably gets wrong in Chinese print (measured on the samples: the
 * commonest errors after character confusions): an ASCII '.' (or a line-ending '-') after a
 * Chinese character is '。';
 * a line never starts with ，。、：； (so such a leading mark is a speck); '|' does not occur in
 * Chinese documents (it is a page edge or a rule); and a low-confidence opening quote with no
 * closing quote on the line is a wide gap (a full-width space) read as '“' (and so is a lone '_' or
 * an unclosed quote touching a digit: gap-marks.ts).
 */
export function tidyChinese(words: OcrWord[]): void {
  dropGapMarks(words);
  for (let i = words.length - 1; i >= 0; i--) {
    const w = words[i];
    const closes = words.slice(i + 1).some((x) => x.text.includes('”') || x.text.includes('"'));
    const drop = w.text.replace(/\|/g, '') === '' || (i === 0 && NEVER_LEADS.test(w.text)) || (w.text === '“' && !closes && w.confidence < 80);
    if (drop) words.splice(i, 1);
  }
  // The year in a document number (文号) is bracketed 〔2014〕, which chi_sim reads as [2014].
  const line = words.map((w) => w.text).join('\u0000');
  const m = /(\p{Script=Han})\u0000?\[\u0000?(\d{4})\u0000?\]/u.exec(line);
  if (m) {
    let pos = 0;
    const at = m.index + m[1].length;
    for (const w of words) {
      const start = pos;
      pos += w.text.length + 1;
      if (start + w.text.length < at || start > at + m[0].length) continue;
      w.text = w.text.replace('[', '〔').replace(']', '〕');
      for (const s of w.symbols) s.text = s.text.replace('[', '〔').replace(']', '〕');
    }
  }
  // A hyphen ending a line of Chinese is never hyphenation: after a character it is a misread '。',
  // after punctuation a speck (and viewers would join it away as a hyphen anyway).
  const last = words.at(-1);
  if (last && words.length > 1 && last.text === '-') {
    const before = words[words.length - 2].text;
    if (HAN_END.test(before)) last.text = '.';
    else if (/[\p{P}]$/u.test(before)) words.pop();
  }
  for (let i = 1; i < words.length; i++) {
    if (words[i].text === '.' && HAN_END.test(words[i - 1].text)) {
      words[i].text = '。';
      for (const s of words[i].symbols) s.text = '。';
    }
  }
}

/** Tesseract's block tree flattened to lines, every box mapped back into the original scan. */
export function toLines(page: TessPage, turn: Turn, w: number, h: number, scale = 1, ink?: Ink, dusty = false): OcrLine[] {
  const lines: OcrLine[] = [];
  const map = (b: TBox) => mapBox(b, turn, w, h, scale);
  for (const block of page.blocks ?? []) {
    for (const para of block.paragraphs) {
      for (const line of para.lines) {
        // Boxes stay in the frame Tesseract saw (turned, deskewed) until the characters are placed.
        const words: OcrWord[] = [];
        for (const word of line.words) {
          const symbols: OcrSymbol[] = word.symbols.filter((s) => s.text.trim() !== '').map((s) => ({ text: s.text, box: { ...s.bbox }, confidence: Math.round(s.confidence * 10) / 10 }));
          const text = word.text.replace(/\s+/gu, '');
          if (!text) continue;
          words.push({ text, box: { ...word.bbox }, confidence: Math.round(word.confidence * 10) / 10, symbols });
        }
        tidyChinese(words);
        if (!words.length) continue;
        // One symbol per character of the word's text, so a box can never slide onto a neighbour.
        for (const wd of words) {
          const chars = [...wd.text];
          if (wd.symbols.length !== chars.length || wd.symbols.some((s, i) => s.text !== chars[i])) {
            const conf = wd.confidence;
            wd.symbols = chars.map((c) => ({ text: c, box: { ...wd.box }, confidence: conf }));
          }
        }
        // Text as printed, character for character (so each keeps its box), digits read as letters mended.
        const printed = lettersInNumbers(asPrintedChars(words.flatMap((wd) => wd.symbols.map((s) => s.text))));
        let k = 0;
        for (const wd of words) {
          for (const s of wd.symbols) s.text = printed[k++];
          wd.text = wd.symbols.map((s) => s.text).join('');
        }
        // A 文号's brackets as printed: 档发[2010j 67号 is 档发〔2010〕67号 (doc-number.ts).
        mendDocNumbers(words);
        // Digits read out of a % sign (percent.ts: 95.4%06。).
        dropPercentDigits(words);
        if (!words.length) continue;
        if (ink) {
          const units = words.flatMap((wd) => unitsOf(wd.symbols, isWide));
          const placed = placeLine(ink, line.bbox, units);
          units.forEach((u, i) => u.syms.forEach((s, j) => (s.box = placed[i][j])));
          // A wide mark laid on a speck's worth of ink is a speck (speck-marks.ts).
          dropSpeckMarks(words, line.bbox.y1 - line.bbox.y0);
          // On a dusty page, a 。 with no paper inside it, and a mark in a gap between a table's cells, are specks too.
          if (dusty) {
            // A 。 read as ：，；“ (solid marks) where its ring is on the ink.
            ringsAsFullStops(words, ink, line.bbox.y1 - line.bbox.y0);
            dropSolidFullStops(words, ink);
            dropDustyGapMarks(words, line.bbox.y1 - line.bbox.y0);
          }
          if (!words.length) continue;
          for (const wd of words) wd.box = unionBox(wd.symbols.map((s) => s.box));
        }
        for (const wd of words) {
          wd.box = map(wd.box);
          for (const s of wd.symbols) s.box = map(s.box);
        }
        const text = normaliseLine(words.map((x) => x.text).join(' '));
        if (!text) continue;
        lines.push({ text, box: map(line.bbox), confidence: Math.round(line.confidence * 10) / 10, words });
      }
    }
  }
  return lines;
}

function unionBox(bs: TBox[]): TBox {
  return { x0: Math.min(...bs.map((b) => b.x0)), y0: Math.min(...bs.map((b) => b.y0)), x1: Math.max(...bs.map((b) => b.x1)), y1: Math.max(...bs.map((b) => b.y1)) };
}

function meanConfidence(lines: OcrLine[]): number {
  let sum = 0;
  let n = 0;
  for (const l of lines)
    for (const w of l.words) {
      const k = [...w.text].length;
      sum += w.confidence * k;
      n += k;
    }
  return n ? Math.round((sum / n) * 10) / 10 : 0;
}

interface Attempt {
  rotation: 0 | 90 | 180 | 270;
  skewDeg: number;
  lines: OcrLine[];
  confidence: number;
}

/** The scan's own size, and the factor from it to the pixels OCR reads. */
interface Frame {
  width: number;
  height: number;
  scale: number;
}

async function attempt(pool: OcrPool, grey: Pixels, dpi: number, rotation: 0 | 90 | 180 | 270, skewAtZero: number | undefined, frame: Frame, how: ReadOptions, specks?: SpeckStats): Promise<Attempt> {
  // Skew is measured on the upright image (a quarter-turn changes which way lines run).
  const st = how.stats;
  let skew = skewAtZero;
  if (skew === undefined) {
    const upright = await timed(st, 'turn', () => turnImage(grey, rotation));
    skew = (await timed(st, 'layout', () => measureLayout(upright.pixels))).skewDeg;
  }
  const deskew = Math.abs(skew) >= MIN_DESKEW_DEG ? -skew : 0;
  const { pixels, turn } = await timed(st, 'turn', () => turnImage(grey, rotation + deskew));
  // Page segmentation 3 (automatic): measured best on the samples (PSM 4: +0.2 points CER, PSM 6:
  // +1.2). Full resolution: shrinking 300 DPI scans to 240 cost +0.3 points CER.
  const first = await timed(st, 'read page', () => pool.recognise(toPgm(pixels), { dpi, psm: '3' }), pixels.width * pixels.height);
  // A page whose layout left much of its print unread is read again as one column (unread-ink.ts).
  const page = how.recover === false ? first : await rereadIfUnread(pool, first, pixels, dpi, st);
  // Weak lines read again, each from a crop of the same image (boxes come back in this frame).
  if (how.recover !== false) await timed(st, 'recover (all)', () => recoverLines(pool, page, pixels, dpi, recoverHow(st, specks)));
  // Printed lines the layout left out of every block are found on the ink and read (lost-lines.ts).
  if (how.recover !== false) await timed(st, 'lost (all)', () => findLostLines(pool, page, pixels, dpi, st));
  // And a page number printed alone below the text (- 1 -), too small for that search.
  if (how.recover !== false) await timed(st, 'page number (all)', () => findPageNumber(pool, page, pixels, dpi, st));
  // And a table's column of row numbers the layout left out (row-numbers.ts).
  if (how.recover !== false) await timed(st, 'row numbers (all)', () => findRowNumbers(pool, page, pixels, dpi, st));
  // A table cut into column blocks is read row by row again (table-rows.ts).
  await timed(st, 'table rows', () => joinTableRows(page));
  const lines = await timed(st, 'to lines', () => toLines(page, turn, frame.width, frame.height, frame.scale, inkOf(pixels), isDusty(specks)));
  return { rotation, skewDeg: skew, lines, confidence: meanConfidence(lines) };
}

/**
 * Which lines are read again, and how (recover-lines.ts): a page's weak lines, the best evidence
 * kept; on a densely speckled page every line, from its median-filtered crop, and that reading kept
 * (`SPECKLED_VARIANT`).
 */
function recoverHow(stats: StageStats | undefined, specks: SpeckStats | undefined): RecoverOptions {
  return isSpeckled(specks) ? { stats, specks, weak: () => true, maxLines: Infinity, variants: [SPECKLED_VARIANT], take: 'read' } : { stats };
}

/** How a page is read: both on by default (off only to measure what each brings). */
export interface ReadOptions {
  /** Clean a copy of the page for the recogniser (clean-page.ts). */
  clean?: boolean;
  /** Read weak lines again (recover-lines.ts). */
  recover?: boolean;
  /** Time each stage into this (measurement only: bench/ocr-stages.ts). */
  stats?: StageStats;
}

export interface RecogniseResult {
  text: PageText;
  /** Measured skew of the scan in degrees (corrected for OCR only; the scan itself is untouched). */
  skewDeg: number;
}

/**
 * Read one scanned page. The scan is turned upright and deskewed for Tesseract only; every box is
 * reported in the original scan's pixels, because the searchable PDF shows the original scan.
 * Orientation costs nothing on an ordinary page: Tesseract OSD runs only when the lines look
 * vertical or the upright reading came out with low confidence (an upside-down page).
 */
export async function recognisePage(pool: OcrPool, src: PageSource, pageNo: number, pixels?: Pixels, how: ReadOptions = {}): Promise<RecogniseResult> {
  const st = how.stats;
  const full = await timed(st, 'decode+grey', async () => toGrey(pixels ?? (await src.pixels())));
  const base = { page: pageNo, width: full.width, height: full.height, dpi: src.dpi, source: 'ocr' as const };
  const shrunk = src.dpi > MAX_OCR_DPI ? await timed(st, 'shrink', () => shrink(full, OCR_DPI / src.dpi)) : full;
  const frame: Frame = { width: full.width, height: full.height, scale: shrunk.width / full.width };
  const dpi = Math.round(src.dpi * frame.scale);
  // The recogniser reads a cleaned copy; the scan (and the caller's pixels) stay as scanned.
  const cleaned = how.clean === false ? undefined : await cleanWithSpecks(shrunk, dpi, st);
  const grey = cleaned?.pixels ?? shrunk;
  const specks = cleaned?.specks;
  const layout = await timed(st, 'layout', () => measureLayout(grey));
  if (layout.inkRatio < BLANK_INK) return { text: { ...base, rotation: 0, text: '', confidence: 0, lines: [] }, skewDeg: 0 };

  let osdDone = false;
  let best: Attempt | undefined;
  if (layout.sideways) {
    const o = await timed(st, 'osd', () => pool.detectOrientation(toPgm(grey), dpi));
    osdDone = true;
    best = await attempt(pool, grey, dpi, o.degrees, o.degrees === 0 ? layout.skewDeg : undefined, frame, how, specks);
  } else {
    best = await attempt(pool, grey, dpi, 0, layout.skewDeg, frame, how, specks);
  }
  if (best.confidence < RECHECK_CONFIDENCE && !osdDone) {
    const o = await timed(st, 'osd', () => pool.detectOrientation(toPgm(grey), dpi));
    if (o.degrees !== 0) {
      const other = await attempt(pool, grey, dpi, o.degrees, undefined, frame, how, specks);
      if (other.confidence > best.confidence) best = other;
    }
  }
  const text = best.lines.map((l) => l.text).join('\n');
  return { text: { ...base, rotation: best.rotation, text, confidence: best.confidence, lines: best.lines }, skewDeg: best.skewDeg };
}
