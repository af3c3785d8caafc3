import type { OcrSymbol, OcrWord } from '../../core/index.ts';
import { dropSymbols } from './line-symbols.ts';

/**
 * Digits read out of a % sign. chi_sim often reads the lower ring of a % as one more digit after
 * it (95.4%06。, 100%6，; measured on the generated sets, Noto Serif and UKai at 12-14 pt), and in
 * Chinese print a % is followed by a mark or a character, never by a digit (a range is 10%～20%).
 * So one or two digits right after a %, before a character, a mark or the line's end, go. Returns
 * how many symbols went.
 */
export function dropPercentDigits(words: OcrWord[]): number {
  const syms = words.flatMap((w) => w.symbols);
  const drop = new Set<OcrSymbol>();
  syms.forEach((s, i) => {
    if (s.text !== '%' && s.text !== '％') return;
    let j = i + 1;
    while (j < syms.length && j - i <= 2 && /^[0-9]$/.test(syms[j].text)) j++;
    const n = j - i - 1;
    if (n >= 1 && n <= 2 && !(j < syms.length && /^[0-9.]$/.test(syms[j].text))) for (let k = i + 1; k < j; k++) drop.add(syms[k]);
  });
  return drop.size ? dropSymbols(words, (s) => drop.has(s)) : 0;
}
