import type { OcrSymbol, OcrWord } from '../../core/index.ts';
import { dropSymbols } from './line-symbols.ts';

/**
 * 文号 (document numbers) as printed: 机关代字〔年份〕序号号, e.g. 档发〔2010〕67号. chi_sim reads the
 * hexagonal brackets as [ ], （ ）, 【 】, 「 」 or { }, the closing one also as j, l or I, and on a
 * speckled or faded page with a speck's mark or two beside them (measured on the generated sets, 5 of
 * about 40 文号: 档发[2010j 67号, 交字：（2013]24号, 交办〔2013}】91号, 水孙[2023〕7号, 交字「.[2013]24号). The letter
 * matters beyond looks: the index drops marks but keeps letters, so 档发2010j67号 would not be
 * found by its 文号. A year (19xx or 20xx) right after the office's characters, opened by a
 * bracket-like mark (at most two marks before it, one after) or by nothing, closed by one (a mark
 * either side at most), and followed by a number ending in 号 is a 文号's:
 * its opening and closing marks become 〔 〕 and other marks beside them go. A 文号 read with
 * round brackets on both sides is left as read: some offices print it so.
 */
const OPENING = '[\\[(（【「{〔<《]';
const CLOSING = '[\\])）】」}〕>》jJlI|]';
const MARK = '[\\p{P}\\p{S}]';
const DOC_NUMBER = new RegExp(`(?<=\\p{Script=Han})(${MARK}{0,2}${OPENING}${MARK}?)?((?:19|20)\\d\\d)(${MARK}?${CLOSING}${MARK}?)(?=\\d{1,5}号)`, 'gu');

/** The line's symbols (one character each) with 文号 brackets mended in place; words left empty go. */
export function mendDocNumbers(words: OcrWord[]): number {
  const syms = words.flatMap((w) => w.symbols);
  if (syms.some((s) => [...s.text].length !== 1)) return 0;
  const line = syms.map((s) => s.text).join('');
  // String offsets to symbol indices (a character outside the BMP is two code units).
  const at: number[] = [];
  syms.forEach((s, i) => {
    for (let k = 0; k < s.text.length; k++) at.push(i);
  });
  at.push(syms.length);
  const drop = new Set<OcrSymbol>();
  let mended = 0;
  // One 〔 (or 〕) where the first of the marks stood, the rest of them dropped.
  const mark = (from: number, length: number, bracket: string) => {
    for (let k = 0; k < length; k++) {
      if (k === 0) syms[from].text = bracket;
      else drop.add(syms[from + k]);
    }
  };
  for (const m of line.matchAll(DOC_NUMBER)) {
    const [, open = '', year, close] = m;
    // Already right, or a pair of round brackets (some offices print their 文号 so).
    if ((open === '〔' || open === '') && close === '〕') continue;
    if (/^[(（]$/u.test(open) && /^[)）]$/u.test(close)) continue;
    // The opening: none added where none was read.
    mark(at[m.index], [...open].length, '〔');
    mark(at[m.index + open.length + year.length], [...close].length, '〕');
    mended++;
  }
  if (!mended) return 0;
  for (const w of words) w.text = w.symbols.map((s) => s.text).join('');
  dropSymbols(words, (s) => drop.has(s));
  return mended;
}
