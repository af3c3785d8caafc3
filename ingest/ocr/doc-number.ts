import type { OcrWord } from '../../core/index.ts';

/**
 * 文号 (document numbers) as printed: 机关代字〔年份〕序号号, e.g. 档发〔2010〕67号. chi_sim reads the
 * hexagonal brackets as [ ], （ ）, 【 】, 「 」 or { }, the closing one also as j, l or I, and on a
 * speckled or faded page with a speck's mark beside them (measured on the generated sets, 4 of
 * about 40 文号: 档发[2010j 67号, 交字：（2013]24号, 交办〔2013}】91号, 水孙[2023〕7号). The letter
 * matters beyond looks: the index drops marks but keeps letters, so 档发2010j67号 would not be
 * found by its 文号. A year (19xx or 20xx) right after the office's characters, opened by a
 * bracket-like mark or by nothing, closed by one, and followed by a number ending in 号 is a 文号's:
 * its opening and closing marks become 〔 〕 and other marks beside them go. A 文号 read with
 * round brackets on both sides is left as read: some offices print it so.
 */
const OPENING = '[\\[(（【「{〔<《]';
const CLOSING = '[\\])）】」}〕>》jJlI|]';
const MARK = '[\\p{P}\\p{S}]';
const DOC_NUMBER = new RegExp(`(?<=\\p{Script=Han})(${MARK}?${OPENING}|${OPENING}${MARK}?)?((?:19|20)\\d\\d)(${CLOSING}${MARK}?|${MARK}${CLOSING})(?=\\d{1,5}号)`, 'gu');

/** The line's symbols (one character each) with 文号 brackets mended in place; words left empty go. */
export function mendDocNumbers(words: OcrWord[]): number {
  const syms = words.flatMap((w, wi) => w.symbols.map((s) => ({ wi, text: s.text })));
  if (syms.some((s) => [...s.text].length !== 1)) return 0;
  const line = syms.map((s) => s.text).join('');
  // String offsets to symbol indices (a character outside the BMP is two code units).
  const at: number[] = [];
  syms.forEach((s, i) => {
    for (let k = 0; k < s.text.length; k++) at.push(i);
  });
  at.push(syms.length);
  const set = new Map<number, string>();
  const drop = new Set<number>();
  let mended = 0;
  for (const m of line.matchAll(DOC_NUMBER)) {
    const [, open = '', year, close] = m;
    // Already right, or a pair of round brackets (some offices print their 文号 so).
    if ((open === '〔' || open === '') && close === '〕') continue;
    if (/^[(（]$/u.test(open) && /^[)）]$/u.test(close)) continue;
    const first = at[m.index];
    const openLen = [...open].length;
    // The opening: one 〔 where any marks stood (none added where none was read).
    for (let k = 0; k < openLen; k++) {
      if (k === 0) set.set(first, '〔');
      else drop.add(first + k);
    }
    const closeAt = at[m.index + open.length + year.length];
    const closeLen = [...close].length;
    for (let k = 0; k < closeLen; k++) {
      if (k === 0) set.set(closeAt, '〕');
      else drop.add(closeAt + k);
    }
    mended++;
  }
  if (!mended) return 0;
  for (let wi = words.length - 1; wi >= 0; wi--) {
    const w = words[wi];
    const base = syms.findIndex((s) => s.wi === wi);
    w.symbols = w.symbols.filter((s, si) => {
      const i = base + si;
      const t = set.get(i);
      if (t) s.text = t;
      return !drop.has(i);
    });
    w.text = w.symbols.map((s) => s.text).join('');
    if (!w.symbols.length) words.splice(wi, 1);
  }
  return mended;
}
