import type { OcrWord } from '../../core/index.ts';

/**
 * Marks chi_sim reads into a wide blank (the gap between the cells of a table row, a tab stop):
 * measured on the generated set's name lists (序号 姓名 职务 出生年月 联系电话), the gap comes
 * back as a lone '_' or an opening quote glued to the next cell — `12“韩俊`, `_1994.09`,
 * `1969.06“_068-8705416` — with symbol confidences of 94-98, so no confidence rule sees them, and
 * Tesseract's symbol boxes for them lie on the neighbouring digits, so no ink test does either.
 * What tells them apart is the text:
 * - a single '_' (not part of a fill-in blank '__') at the start or end of a word is a gap;
 * - an opening quote with no closing quote after it on the line, touching a digit or a '_', is a
 *   gap (a real quotation opens before words; one that runs on to the next line opens after a
 *   Chinese character or punctuation, and both stay).
 * Removes them from the words (text and symbols) in place; a word left empty is dropped.
 */
export function dropGapMarks(words: OcrWord[]): void {
  const line = words.map((w) => w.text).join('');
  const blanks = line.includes('__');
  for (let wi = 0; wi < words.length; wi++) {
    const w = words[wi];
    const chars = [...w.text];
    const keep = chars.map(() => true);
    for (let i = 0; i < chars.length; i++) {
      const c = chars[i];
      if (c === '_' && !blanks && (i === 0 || i === chars.length - 1 || (i === 1 && isOpenQuote(chars[0])))) keep[i] = false;
      if (isOpenQuote(c)) {
        const after =
          chars.slice(i + 1).join('') +
          words
            .slice(wi + 1)
            .map((x) => x.text)
            .join('');
        if (/[”"]/u.test(after)) continue;
        // A straight quote may be the closing one of a quotation opened earlier on the line.
        if (
          c === '"' &&
          /[“"]/u.test(
            words
              .slice(0, wi)
              .map((x) => x.text)
              .join('') + chars.slice(0, i).join(''),
          )
        )
          continue;
        const prev = i > 0 ? chars[i - 1] : (words[wi - 1]?.text.at(-1) ?? '');
        const next = i + 1 < chars.length ? chars[i + 1] : (words[wi + 1]?.text[0] ?? '');
        if (/[0-9_]/.test(prev) || /[0-9_]/.test(next)) keep[i] = false;
      }
    }
    if (keep.every(Boolean)) continue;
    const aligned = w.symbols.length === chars.length && w.symbols.every((s, i) => s.text === chars[i]);
    w.text = chars.filter((_, i) => keep[i]).join('');
    if (aligned) w.symbols = w.symbols.filter((_, i) => keep[i]);
  }
  for (let i = words.length - 1; i >= 0; i--) if (!words[i].text) words.splice(i, 1);
}

const isOpenQuote = (c: string) => c === '“' || c === '"';
