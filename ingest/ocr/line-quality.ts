import type { OcrLine, PageText } from '../../core/index.ts';

/**
 * Is a recognised line likely wrong? Measured with bench/ocr-lines.ts (per-line CER against ground
 * truth on ../shared/samples and on the generated set of bench/ocr-set: other text, five fonts, ten
 * kinds of damage): a lost line (CER over 30%: a printed line read as unrelated characters, or
 * speckle, a stain or a shadow read as text) is told from a good one best by the mean of its
 * symbol confidences. Tesseract's LSTM gives each character of a well-read line 96-99; a lost line
 * falls below 96 even when its line and word confidences look ordinary (70-80). Line confidence,
 * word confidences, the share of doubtful words, line length and line height separate worse alone
 * and add nothing to it (bench/ocr-lines.ts prints each). The same rule flags lines for review
 * (text.json `weak`) and picks the lines worth reading again.
 */

/** What the rule looks at, per line. */
export interface LineFeatures {
  /** Characters on the line. */
  chars: number;
  /** Tesseract's line confidence 0-100. */
  lineConfidence: number;
  /** Mean word confidence, weighted by characters. */
  wordMean: number;
  /** Share of the line's characters in words below LOW_WORD confidence. */
  lowShare: number;
  /** Mean symbol confidence 0-100 (Tesseract's LSTM gives symbols high values even on lost lines). */
  meanSymbol: number;
  /** Line box height over the page's median line height (1 when unknown). */
  heightRatio: number;
}

/** A word below this confidence counts as doubtful. */
export const LOW_WORD = 60;

/**
 * The rule's threshold: a line whose mean symbol confidence is below it is weak. Measured on 985
 * lines (355 sample, 630 generated; 110 lost): precision 78%, recall 77% (bench/ocr-lines.ts).
 */
export const WEAK_RULE = { meanSymbol: 96 } as const;

export function lineFeatures(line: OcrLine, medianHeight?: number): LineFeatures {
  let chars = 0;
  let sum = 0;
  let low = 0;
  const syms: number[] = [];
  for (const w of line.words) {
    const k = [...w.text].length;
    chars += k;
    sum += w.confidence * k;
    if (w.confidence < LOW_WORD) low += k;
    for (const s of w.symbols) syms.push(s.confidence);
  }
  const h = line.box.y1 - line.box.y0;
  return {
    chars,
    lineConfidence: line.confidence,
    wordMean: chars ? sum / chars : line.confidence,
    lowShare: chars ? low / chars : 0,
    meanSymbol: syms.length ? syms.reduce((a, b) => a + b, 0) / syms.length : line.confidence,
    heightRatio: medianHeight ? h / medianHeight : 1,
  };
}

/** Median line height on a page (for heightRatio). */
export function medianLineHeight(lines: OcrLine[]): number | undefined {
  const hs = lines.map((l) => l.box.y1 - l.box.y0).sort((a, b) => a - b);
  return hs.length ? hs[Math.floor(hs.length / 2)] : undefined;
}

export interface LineQuality {
  weak: boolean;
  /**
   * The evidence the rule weighs, 0-100 (the mean symbol confidence): higher is better. A caller
   * choosing among readings of the same line can compare scores; weak is score < WEAK_RULE.meanSymbol.
   */
  score: number;
}

export function lineQuality(line: OcrLine, medianHeight?: number): LineQuality {
  const f = lineFeatures(line, medianHeight);
  return { weak: f.meanSymbol < WEAK_RULE.meanSymbol, score: Math.round(f.meanSymbol * 100) / 100 };
}

/** A page whose mean confidence is below this is offered for review even without a weak line. */
export const REVIEW_PAGE_CONFIDENCE = 60;

/**
 * Flag a page for review (in place, and returned): weak lines get `weak: true`, the page lists
 * their indexes in `weakLines` and carries `review: true` when a person should look at it. Pages
 * with nothing weak carry none of these fields, so text.json stays as it was for them.
 */
export function flagForReview(page: PageText): PageText {
  delete page.weakLines;
  delete page.review;
  if (page.source !== 'ocr' || !page.lines.length) return page;
  const mh = medianLineHeight(page.lines);
  const weak: number[] = [];
  page.lines.forEach((l, i) => {
    delete l.weak;
    if (lineQuality(l, mh).weak) {
      l.weak = true;
      weak.push(i);
    }
  });
  if (weak.length) page.weakLines = weak;
  if (weak.length || page.confidence < REVIEW_PAGE_CONFIDENCE) page.review = true;
  return page;
}
