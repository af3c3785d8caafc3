import { asPrintedChars } from './as-printed.ts';

/**
 * Tesseract puts spaces between Chinese characters and around digits; indexed raw, phrase and year
 * queries fail (field notes). Whitespace goes unless it separates two Latin/digit words (then one
 * space stays): none beside a Han character or any punctuation. Punctuation is then made what was
 * printed (as-printed.ts: OCR's ',' beside Chinese is '，'); NFKC folding happens only in the
 * search index, so the stored and shown text keeps the page's full-width marks.
 */
const WIDE = /[\p{Script=Han}\u3000-\u303f\uff00-\uffef\u2018-\u201f\u2026\u2014\u00b7\u3400-\u4dbf]/u;

/** True when a character is Chinese or wide punctuation (no space is wanted beside it). */
export function isWide(ch: string): boolean {
  return WIDE.test(ch);
}

const NARROW_WORD = /^[\p{L}\p{N}]$/u;

/** Whether a space belongs between two characters: only between Latin letters/digits. */
function spaceBetween(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && !isWide(a) && !isWide(b) && NARROW_WORD.test(a) && NARROW_WORD.test(b);
}

/** Whether a space belongs between two adjacent words of a line (only between Latin/digit words). */
export function needsSpace(left: string, right: string): boolean {
  return spaceBetween([...left].at(-1), [...right][0]);
}

/** Normalise one line of OCR text. */
export function normaliseLine(text: string): string {
  const chars = asPrintedChars([...text.replace(/\s+/gu, ' ').trim()]);
  let out = '';
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    if (c === ' ' && !spaceBetween(chars[i - 1], chars[i + 1])) continue;
    out += c;
  }
  return out;
}

/** Normalise a page: each line on its own, empty lines dropped, joined by \n. */
export function normaliseText(text: string): string {
  return text
    .split(/\r?\n/)
    .map(normaliseLine)
    .filter((l) => l.length > 0)
    .join('\n');
}
