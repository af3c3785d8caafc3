import type { OcrWord } from '../../core/index.ts';

/**
 * Marks chi_sim reads into a wide blank (the gap between the cells of a table row, a tab stop):
 * measured on the generated set's name lists (序号 姓名 职务 出生年月 联系电话), the gap comes
 * back as a lone '_' or an opening quote glued to the next cell — `12“韩俊`, `_1994.09`,
 * `1969.06“_068-8705416` — with symbol confidences of 94-98, so no confidence rule sees them, and
 * Tesseract's symbol boxes for them lie on the neighbouring digits, so no ink test does either.
 * What tells them apart is the text:
 * - a single '_' (not part of a fill-in blank '__') at the start or end of a word, or beside a
 *   quote, is a gap;
 * - an opening quote with no closing quote after it on the line is a gap when it follows a digit
 *   or a '_', comes before a '_', or opens a number that no Chinese follows (a phone or date cell);
 *   a quotation that opens on a number (“2020年工作要点 …, running on to the next line) stays.
 * Removes them from the words (text and symbols) in place; a word left empty is dropped.
 */
export function dropGapMarks(words: OcrWord[]): void {
  const flat: Array<{ c: string; w: number; i: number }> = [];
  words.forEach((w, wi) => [...w.text].forEach((c, i) => flat.push({ c, w: wi, i })));
  const blanks = words.some((w) => w.text.includes('__'));
  const drop = new Set<number>();
  for (let k = 0; k < flat.length; k++) {
    const { c, i } = flat[k];
    const len = [...words[flat[k].w].text].length;
    const prev = flat[k - 1]?.c ?? '';
    const next = flat[k + 1]?.c ?? '';
    if (c === '_' && !blanks && (i === 0 || i === len - 1 || isOpenQuote(prev) || isOpenQuote(next))) drop.add(k);
    if (!isOpenQuote(c)) continue;
    const rest = flat.slice(k + 1).map((x) => x.c);
    if (rest.some((x) => x === '”' || x === '"')) continue;
    // A straight quote may be the closing one of a quotation opened earlier on the line.
    if (c === '"' && flat.slice(0, k).some((x) => isOpenQuote(x.c))) continue;
    // After the digits it touches: a Chinese character means a quotation that opens on a number
    // (“2020年工作要点 …), anything else (the line's end, another cell) a gap before a number cell.
    let j = 0;
    while (j < rest.length && /[0-9.\-/:]/.test(rest[j])) j++;
    const numberCell = j > 0 && !/\p{Script=Han}/u.test(rest[j] ?? '');
    if (/[0-9_]/.test(prev) || next === '_' || numberCell) drop.add(k);
  }
  if (!drop.size) return;
  const gone = new Map<number, Set<number>>();
  for (const k of drop) gone.set(flat[k].w, (gone.get(flat[k].w) ?? new Set()).add(flat[k].i));
  for (const [wi, idx] of gone) {
    const w = words[wi];
    const chars = [...w.text];
    const aligned = w.symbols.length === chars.length && w.symbols.every((s, i) => s.text === chars[i]);
    w.text = chars.filter((_, i) => !idx.has(i)).join('');
    if (aligned) w.symbols = w.symbols.filter((_, i) => !idx.has(i));
  }
  for (let i = words.length - 1; i >= 0; i--) if (!words[i].text) words.splice(i, 1);
}

const isOpenQuote = (c: string) => c === '“' || c === '"';
