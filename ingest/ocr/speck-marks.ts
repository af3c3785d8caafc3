import type { OcrSymbol, OcrWord } from '../../core/index.ts';
import type { Ink, TBox } from './char-boxes.ts';
import { dropSymbols } from './line-symbols.ts';

/**
 * Specks read as Chinese punctuation. On a speckled page the recogniser reads many a speck among
 * the characters as 。，、：「 (measured on the generated set's speckled pages: invented marks are
 * 43% of their errors). A mark printed in a Chinese font has ink of its own size — a 。 or ， is a
 * fifth of a character or more — while a speck is a dot a few pixels across. Once each character
 * is laid on the line's ink (char-boxes.ts), a wide mark whose ink is smaller than SPECK of the
 * line's height both ways is a speck and is dropped. Measured on the samples and the generated
 * set (36 pages, 1880 marks): such marks were 27 specks and 8 printed marks (the printed ones laid
 * on a speck beside them by the placement); page by page, on four generated sets of other text and
 * fonts (80 pages) every page it changed read better (14 pages, all speckled, by 0.2-2.1 points) and
 * the samples 1.07% -> 1.05%. Half-width marks (a decimal point, the colon of 9:30) are never
 * touched: a decimal point is as small as a speck.
 */
export const SPECK = 0.1;
const MARKS = new Set([...'，。、；：「」“”']);

/** Drops speck-sized wide marks from a line's words (boxes as placed on the ink; words left empty go). Returns how many. */
export function dropSpeckMarks(words: OcrWord[], lineHeight: number): number {
  const limit = SPECK * lineHeight;
  return dropSymbols(words, (s) => MARKS.has(s.text) && s.box.x1 - s.box.x0 < limit && s.box.y1 - s.box.y0 < limit);
}

/** Marks a speck is read as on a dusty page (wide and narrow). */
const GAP_MARKS = new Set([...'，。、；：「」“”,.;:-·\'"`']);
/**
 * Marks that never begin a printed line (避头, GB/T 15834; Word and WPS keep them off a line's start
 * by default, and no line breaks before a half-width . , : ; ! ? ) between Latin or digits).
 */
const NEVER_LEADS = new Set([...'，。、；：！？）”」〕,.;:!?)']);
/** Sentence ends kept at a line's end after a character: 。，；：！？ end or break a line of prose. */
const LINE_END = new Set([...'。，；：！？']);
const HAN = /\p{Script=Han}/u;
const DIGIT = /^[0-9]$/;
/**
 * A mark with this much blank beside it (either side, in line heights) stands in a gap between a
 * table's cells. Measured on dusty generated pages: marks read from specks in a name list's gaps
 * had 0.71-1.70 on one side; printed marks at most 0.87 (a UKai ： in 联系电话：131…), the wide ones
 * (，。：) leaving part of their own em blank, narrow ones (a decimal point, a hyphen) touching
 * their digits (0.00-0.16).
 */
export const CELL_GAP = { wide: 0.95, narrow: 0.7 };

/**
 * On a dusty page (despeckle.ts's `DUSTY_PER_MP`), a mark standing in a gap between a table's cells
 * or ending a line right after a digit (071-7860259.) is a speck the despeckler had to leave
 * (beside the characters it might have been a full stop): on the generated sets' dusty name lists
 * the gaps held 范宇-副科长, 主任。 1978.08, 胡超，科长. A sentence's 。，；：！？ ending a line after a
 * character stays. A mark no printed line begins with (NEVER_LEADS) that begins one is a speck in
 * the margin or before a cell (.15夏旭洋, ：16贺晓, .2012年5月5日: five on the dusty pages of the
 * generated sets of seeds 0-3, no printed one). Boxes are as placed on the ink. Returns how many
 * marks were dropped.
 */
export function dropDustyGapMarks(words: OcrWord[], lineHeight: number): number {
  const syms = words.flatMap((w) => w.symbols);
  const drop = new Set<OcrSymbol>();
  syms.forEach((s, i) => {
    const prev = syms[i - 1];
    const next = syms[i + 1];
    if (!prev) {
      if (next && NEVER_LEADS.has(s.text)) drop.add(s);
      return;
    }
    if (!GAP_MARKS.has(s.text)) return;
    if (!next) {
      if (DIGIT.test(prev.text) && !LINE_END.has(s.text)) drop.add(s);
      else if (!(HAN.test(prev.text) && LINE_END.has(s.text)) && s.box.x0 - prev.box.x1 >= CELL_GAP.narrow * lineHeight) drop.add(s);
      return;
    }
    const blank = Math.max(s.box.x0 - prev.box.x1, next.box.x0 - s.box.x1) / lineHeight;
    if (blank >= (MARKS.has(s.text) ? CELL_GAP.wide : CELL_GAP.narrow)) drop.add(s);
  });
  return drop.size ? dropSymbols(words, (s) => drop.has(s)) : 0;
}

/**
 * On a dusty page, a 。 whose ink encloses no paper is a speck: a printed 。 is a ring, a speck a
 * solid dot (or a few). Measured after each character is laid on the ink (char-boxes.ts), on the
 * dusty pages of the generated sets of seeds 0-3 read median-filtered: 115 of 117 printed 。 enclosed
 * paper (54-79 pixels at 300 DPI; the two that did not had boxes laid over a neighbour's ink), none
 * of the 16 read from specks did; on the samples all 184 printed 。 enclosed paper. Only dusty pages
 * are checked: a blurred or low-resolution scan may fill a small ring in.
 */
export function dropSolidFullStops(words: OcrWord[], ink: Ink): number {
  return dropSymbols(words, (s) => s.text === '。' && !enclosesPaper(ink, s.box));
}

/** Marks chi_sim reads a 。 as (：，；“ and their ASCII forms): each is solid ink, where a 。 is a ring. */
const NOT_RINGS = new Set([...'：:，,；;“"']);

/**
 * A 。 read as another mark: on a dusty page chi_sim reads a full stop as ：，；or “ now and then
 * (measured on the generated sets, seeds 0-3: 12 such, most on speckled or faded pages), but those
 * marks are solid ink and a printed 。 is a ring. Once each character is laid on the ink
 * (char-boxes.ts), such a mark no wider than `RING_WIDTH` of the line's height whose ink encloses
 * paper is made a 。 again. Only dusty pages are checked (recognise.ts): on the others the marks
 * chi_sim misreads so are few, and a ：or ， whose box the placement laid over part of a neighbour
 * with a closed stroke (口, 日) would be taken for a ring — applied to every page, it made 5 of the
 * 16 sample pages and 17 other generated pages read worse, the 5 dusty ones it changed better.
 */
export function ringsAsFullStops(words: OcrWord[], ink: Ink, lineHeight: number): number {
  let n = 0;
  for (const w of words) {
    let changed = false;
    for (const s of w.symbols) {
      if (!NOT_RINGS.has(s.text) || s.box.x1 - s.box.x0 > RING_WIDTH * lineHeight || !enclosesPaper(ink, s.box)) continue;
      s.text = '。';
      changed = true;
      n++;
    }
    if (changed) w.text = w.symbols.map((s) => s.text).join('');
  }
  return n;
}
/** The widest a mark's box may be (in line heights) to be taken for a 。: wider, it holds part of a neighbour. */
export const RING_WIDTH = 0.6;

/** Is there paper inside the box (one pixel wider each way) that no path of paper joins to its edge? */
export function enclosesPaper(ink: Ink, b: TBox): boolean {
  const x0 = Math.max(0, Math.floor(b.x0) - 1);
  const y0 = Math.max(0, Math.floor(b.y0) - 1);
  const x1 = Math.min(ink.width, Math.ceil(b.x1) + 2);
  const y1 = Math.min(ink.height, Math.ceil(b.y1) + 2);
  const w = x1 - x0;
  const h = y1 - y0;
  if (w < 3 || h < 3) return false;
  const paper = (i: number) => ink.data[(y0 + Math.floor(i / w)) * ink.width + x0 + (i % w)] > ink.threshold;
  const reached = new Uint8Array(w * h);
  const stack: number[] = [];
  const visit = (i: number) => {
    if (!reached[i] && paper(i)) {
      reached[i] = 1;
      stack.push(i);
    }
  };
  for (let x = 0; x < w; x++) {
    visit(x);
    visit((h - 1) * w + x);
  }
  for (let y = 0; y < h; y++) {
    visit(y * w);
    visit(y * w + w - 1);
  }
  while (stack.length) {
    const i = stack.pop()!;
    const x = i % w;
    if (x > 0) visit(i - 1);
    if (x < w - 1) visit(i + 1);
    if (i >= w) visit(i - w);
    if (i < w * (h - 1)) visit(i + w);
  }
  for (let i = 0; i < w * h; i++) if (!reached[i] && paper(i)) return true;
  return false;
}
