import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Box, OcrLine, OcrSymbol, PageText } from '../../core/index.ts';
import { isWide, normaliseLine } from './tidy-text.ts';

const run = promisify(execFile);

const unescape = (s: string): string =>
  s.replace(/&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-f]+);/gi, (_, e: string) => {
    const m: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
    if (m[e]) return m[e];
    return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
  });

/**
 * Character boxes inside a word of a PDF's own text: poppler gives words (a run of Chinese is one
 * word), and a typeset font advances a Han character a full em and a Latin letter or digit about
 * half, so the word's box is shared out by that measure.
 */
function splitWord(text: string, b: Box): OcrSymbol[] {
  const chars = [...text];
  const weight = chars.map((c) => (isWide(c) ? 1 : 0.55));
  const total = weight.reduce((s, x) => s + x, 0) || 1;
  let at = b.x0;
  return chars.map((c, i) => {
    const x0 = at;
    at += ((b.x1 - b.x0) * weight[i]) / total;
    return { text: c, box: { x0: Math.round(x0), y0: b.y0, x1: Math.round(at), y1: b.y1 }, confidence: 100 };
  });
}

/**
 * The text a PDF page already carries, with word boxes, from `pdftotext -bbox-layout` (poppler's
 * own reading order), scaled from points to pixels at `dpi` so it matches the page image.
 */
export async function pdfPageText(file: string, pageIndex: number, pageNo: number, dpi: number): Promise<PageText> {
  const n = String(pageIndex + 1);
  const { stdout } = await run('pdftotext', ['-q', '-enc', 'UTF-8', '-bbox-layout', '-f', n, '-l', n, file, '-'], { maxBuffer: 1 << 28 });
  const k = dpi / 72;
  const page = /<page width="([\d.]+)" height="([\d.]+)">/.exec(stdout);
  const box = (m: RegExpExecArray, i: number) => ({
    x0: Math.round(Number(m[i]) * k),
    y0: Math.round(Number(m[i + 1]) * k),
    x1: Math.round(Number(m[i + 2]) * k),
    y1: Math.round(Number(m[i + 3]) * k),
  });
  const lines: OcrLine[] = [];
  const lineRe = /<line xMin="([\d.-]+)" yMin="([\d.-]+)" xMax="([\d.-]+)" yMax="([\d.-]+)">([\s\S]*?)<\/line>/g;
  for (let lm = lineRe.exec(stdout); lm; lm = lineRe.exec(stdout)) {
    const words = [];
    const wordRe = /<word xMin="([\d.-]+)" yMin="([\d.-]+)" xMax="([\d.-]+)" yMax="([\d.-]+)">([^<]*)<\/word>/g;
    for (let wm = wordRe.exec(lm[5]); wm; wm = wordRe.exec(lm[5])) {
      const text = unescape(wm[5]); // as printed: folding is the search index's business
      if (text.trim()) words.push({ text, box: box(wm, 1), confidence: 100, symbols: splitWord(text.replace(/\s+/gu, ''), box(wm, 1)) });
    }
    const text = normaliseLine(words.map((w) => w.text).join(' '));
    if (text) lines.push({ text, box: box(lm, 1), confidence: 100, words });
  }
  return {
    page: pageNo,
    width: Math.round(Number(page?.[1] ?? 0) * k),
    height: Math.round(Number(page?.[2] ?? 0) * k),
    dpi,
    rotation: 0,
    text: lines.map((l) => l.text).join('\n'),
    confidence: 100,
    lines,
    source: 'pdf-text',
  };
}

/** A PDF page rendered as JPEG for the viewer. */
export async function renderPdfPageJpeg(file: string, pageIndex: number, dpi: number): Promise<Uint8Array> {
  const n = String(pageIndex + 1);
  const { stdout } = await run('pdftoppm', ['-q', '-jpeg', '-jpegopt', 'quality=85', '-r', String(dpi), '-f', n, '-l', n, file], { encoding: 'buffer', maxBuffer: 1 << 28 });
  return stdout;
}
