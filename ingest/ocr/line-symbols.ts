import type { OcrSymbol, OcrWord } from '../../core/index.ts';

/**
 * Removes the symbols `gone` picks from a line's words (one symbol per character), keeping each
 * word's text equal to its symbols; words left empty go. Returns how many symbols went.
 */
export function dropSymbols(words: OcrWord[], gone: (s: OcrSymbol) => boolean): number {
  let dropped = 0;
  for (let i = words.length - 1; i >= 0; i--) {
    const wd = words[i];
    const keep = wd.symbols.filter((s) => !gone(s));
    if (keep.length === wd.symbols.length) continue;
    dropped += wd.symbols.length - keep.length;
    if (!keep.length) {
      words.splice(i, 1);
      continue;
    }
    wd.symbols = keep;
    wd.text = keep.map((s) => s.text).join('');
  }
  return dropped;
}
