/**
 * Text as printed. Tesseract's chi_sim writes ASCII punctuation for the full-width marks printed in
 * Chinese text (，→ , ：→ : （→ ( ), and sometimes full-width letters and digits for half-width
 * ones. The stored text, the snippets and the PDF's text layer should read as the page does, so
 * each character is mapped on its own (one character in, one out: boxes stay with their
 * characters); folding for search happens only in the index (search/char-pairs.ts).
 */

/** Han characters and wide punctuation: beside one of these, ASCII punctuation was printed wide. */
const WIDE = /[\p{Script=Han}\u3400-\u4dbf\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65\u2018-\u201f\u2026\u2014\u00b7]/u;
const HAN = /[\p{Script=Han}\u3400-\u4dbf]/u;
const DIGIT = /^[0-9]$/;

const WIDEN: Record<string, string> = { ',': '，', ':': '：', ';': '；', '?': '？', '!': '！', '(': '（', ')': '）' };

/** Full-width letters and digits as the half-width ones they print as; wide punctuation stays. */
function narrowAlnum(c: string): string {
  const cp = c.codePointAt(0)!;
  if ((cp >= 0xff10 && cp <= 0xff19) || (cp >= 0xff21 && cp <= 0xff3a) || (cp >= 0xff41 && cp <= 0xff5a)) return String.fromCodePoint(cp - 0xfee0);
  if (cp === 0x3000) return ' ';
  if (WIDE.test(c)) return c;
  const k = c.normalize('NFKC');
  return [...k].length === 1 ? k : c;
}

/**
 * One line's characters as printed (same length, same order). `chars` holds no whitespace except
 * the single spaces kept between Latin/digit words.
 */
export function asPrintedChars(chars: string[]): string[] {
  const out = chars.map(narrowAlnum);
  const neighbour = (i: number, step: number): string | undefined => {
    for (let j = i + step; j >= 0 && j < out.length; j += step) if (out[j] !== ' ') return out[j];
    return undefined;
  };
  // In a line of Chinese, a comma, colon or semicolon was printed full-width even between Latin
  // and digits (0851-8740001，QQ：820050376); only digit,digit (1,000; 9:30; a port) and a URL's
  // :// stay narrow.
  const chinese = out.some((c) => HAN.test(c));
  let quotes = 0;
  for (let i = 0; i < out.length; i++) {
    const c = out[i];
    const p = neighbour(i, -1);
    const n = neighbour(i, 1);
    const wideP = p !== undefined && WIDE.test(p);
    const wideN = n !== undefined && WIDE.test(n);
    if (c === '“' || c === '”') quotes++;
    const betweenDigits = p !== undefined && n !== undefined && DIGIT.test(p) && DIGIT.test(n);
    if ((c === ',' || c === ';' || (c === ':' && n !== '/')) && chinese && !betweenDigits) {
      out[i] = WIDEN[c];
    } else if (WIDEN[c]) {
      // (a) and a URL's ? stay narrow: only beside Chinese text is the mark a Chinese one.
      if ((wideP || wideN) && !betweenDigits) out[i] = WIDEN[c];
    } else if (c === '.') {
      const afterChinese = p !== undefined && (HAN.test(p) || /[”’）》%]/u.test(p));
      if ((afterChinese || (wideN && p !== undefined && !/[A-Za-z]/.test(p))) && !(n && DIGIT.test(n))) out[i] = '。';
    } else if (c === '"') {
      if (wideP || wideN || p === undefined) out[i] = quotes++ % 2 === 0 ? '“' : '”';
    }
  }
  return out;
}

const NUMERALS = /[〇○零一二三四五六七八九十]/u;
/** Letters chi_sim reads for digits: o O for 0, l I i for 1. */
const AS_DIGIT: Record<string, string> = { o: '0', O: '0', l: '1', I: '1', i: '1' };

/**
 * Digits read as letters, in place: in a run of digits, hyphens and points (a telephone number, a
 * date) with three digits or more and no other letter, o O l I i are 0 0 1 1 1 (o8o-7774026 is
 * 080-7774026); a lone o between two Chinese characters is the 。 it was printed as (内存o各级), or
 * 〇 between two Chinese numerals (二o一三年). Words with other letters (V4.8, I5) stay. The other
 * way round, a 0 in a word of two or more capitals and no other digit is an O (0FD is OFD; A0 and
 * MP3 stay).
 * For the recogniser's reading only: a PDF's own text is what was typed.
 */
export function lettersInNumbers(out: string[]): string[] {
  let i = 0;
  while (i < out.length) {
    if (!/[0-9A-Za-z]/.test(out[i])) {
      i++;
      continue;
    }
    let j = i;
    while (j < out.length && /[0-9A-Za-z.\-]/.test(out[j])) j++;
    const run = out.slice(i, j);
    const digits = run.filter((c) => DIGIT.test(c)).length;
    const letters = run.filter((c) => /[A-Za-z]/.test(c));
    const capitals = letters.filter((c) => /[A-Z]/.test(c)).length;
    if (digits >= 3 && letters.length && letters.every((c) => AS_DIGIT[c])) for (let k = i; k < j; k++) out[k] = AS_DIGIT[out[k]] ?? out[k];
    else if (capitals >= 2 && capitals === letters.length && digits && run.every((c) => /[A-Z0]/.test(c))) for (let k = i; k < j; k++) out[k] = out[k] === '0' ? 'O' : out[k];
    else if (j === i + 1 && (out[i] === 'o' || out[i] === 'O') && i > 0 && HAN.test(out[i - 1]) && i + 1 < out.length && HAN.test(out[i + 1]))
      out[i] = NUMERALS.test(out[i - 1]) && NUMERALS.test(out[i + 1]) ? '〇' : '。';
    i = j;
  }
  return out;
}

export function asPrinted(s: string): string {
  return asPrintedChars([...s]).join('');
}
