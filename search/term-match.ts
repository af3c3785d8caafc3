/**
 * Finding the query's terms in page texts the way the index matches them (char-pairs.ts
 * gramChars): letters and digits only, lower-cased, so punctuation, spaces and line breaks
 * between the characters of a term do not count.
 *
 * Hot path (every hit of every search). A regex allowing punctuation between every two characters
 * (`[^\p{L}\p{N}]*`) took V8 longer to compile per term than Meilisearch took to answer, and any
 * pass classifying every character by Unicode property was slower still. Instead indexOf finds the
 * term's first character (native speed), and only from there are the next characters compared,
 * skipping what is not a letter or digit (bench/search.ts measures the whole query path).
 */

const KEPT = /^[\p{L}\p{N}]$/u;
/**
 * Code units of letters and digits whose NFKC form differs (①, ㈠, full-width Ａ, compatibility
 * ideographs, Kangxi radicals, and the lead surrogates of the mathematical alphanumerics and the
 * compatibility ideographs supplement): a table, since a text is checked on every search that
 * shows it. A regex over the same classes cost three times as much and, as a unicode regex, missed
 * the surrogate pairs; callers that keep a text (MatchPage) check it once.
 */
const COMPAT_UNITS = new Uint8Array(0x10000);
for (const [a, b] of [
  [0xaa, 0xaa],
  [0xb2, 0xb3],
  [0xb9, 0xba],
  [0xbc, 0xbe],
  [0x132, 0x133],
  [0x13f, 0x140],
  [0x17f, 0x17f],
  [0x1c4, 0x1cc],
  [0x1d2c, 0x1dbf],
  [0x2070, 0x209f],
  [0x2100, 0x218f],
  [0x2460, 0x24ff],
  [0x2f00, 0x2fdf],
  [0x3038, 0x303a],
  [0x3131, 0x318e],
  [0x3192, 0x319f],
  [0x3200, 0x33ff],
  [0xf900, 0xfaff],
  [0xfb00, 0xfb4f],
  [0xff10, 0xff19],
  [0xff21, 0xff3a],
  [0xff41, 0xff5a],
  [0xff66, 0xffdc],
  [0xd835, 0xd835],
  [0xd87e, 0xd87e],
])
  COMPAT_UNITS.fill(1, a, b + 1);

/** Does the text hold a letter or digit that NFKC folds into another (then matching folds it as the index does)? */
export function hasCompatChars(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (COMPAT_UNITS[text.charCodeAt(i)] === 1) return true;
  return false;
}

/** BMP code unit → 0 not yet seen, 1 letter or digit, 2 neither. */
const kinds = new Uint8Array(0x10000);
for (let c = 0; c < 0x80; c++) kinds[c] = /[0-9A-Za-z]/.test(String.fromCharCode(c)) ? 1 : 2;
kinds.fill(1, 0x4e00, 0xa000);

function kept(cp: number): boolean {
  if (cp < 0x10000 && kinds[cp]) return kinds[cp] === 1;
  const k = KEPT.test(String.fromCodePoint(cp)) ? 1 : 2;
  if (cp < 0x10000) kinds[cp] = k;
  return k === 1;
}

/** A term as matching looks for it: its characters as gramChars gives them. */
export interface Needle {
  text: string;
  /** It holds a letter with case: look in the lower-cased text. */
  cased: boolean;
}

export function needleOf(chars: string[]): Needle {
  const text = chars.join('');
  return { text, cased: text !== text.toUpperCase() };
}

/**
 * The text lower-cased as gramChars does it (the whole string at once, so a word-final Σ becomes
 * ς there too), when that keeps every position; undefined when it does not (İ becomes i + U+0307).
 */
export function lowerText(text: string): string | undefined {
  const low = text.toLowerCase();
  return low.length === text.length ? low : undefined;
}

/** Where the match starting at `at` ends (exclusive), or -1: `hay[at]` equals needle[0]. */
function matchAt(hay: string, at: number, needle: string): number {
  let i = at + 1;
  for (let j = 1; j < needle.length;) {
    if (i >= hay.length) return -1;
    const c = hay.charCodeAt(i);
    if (c === needle.charCodeAt(j)) {
      i++;
      j++;
      continue;
    }
    // Only a whole character that is neither letter nor digit may stand between two of the term's.
    const prev = needle.charCodeAt(j - 1);
    if (prev >= 0xd800 && prev <= 0xdbff) return -1;
    const cp = hay.codePointAt(i)!;
    if (kept(cp)) return -1;
    i += cp > 0xffff ? 2 : 1;
  }
  return i;
}

/** Occurrences of one needle in `hay` (same length as the text it stands for), in order. */
function* find(hay: string, needle: string): Generator<[number, number]> {
  const first = needle[0];
  for (let at = hay.indexOf(first); at >= 0; at = hay.indexOf(first, at + 1)) {
    const end = matchAt(hay, at, needle);
    if (end >= 0) yield [at, end];
  }
}

/**
 * For a text whose lower-casing changes its length (rare): each character lowered on its own,
 * its letters and digits kept with the position they come from. (Differs from gramChars only for
 * a word-final Σ in such a text.)
 */
function* findSlow(text: string, needle: string): Generator<[number, number]> {
  const units: Array<{ at: number; end: number }> = [];
  let folded = '';
  for (let i = 0; i < text.length;) {
    const cp = text.codePointAt(i)!;
    const w = cp > 0xffff ? 2 : 1;
    for (const c of String.fromCodePoint(cp).normalize('NFKC').toLowerCase()) {
      if (!kept(c.codePointAt(0)!)) continue;
      folded += c;
      for (let k = 0; k < c.length; k++) units.push({ at: i, end: i + w });
    }
    i += w;
  }
  for (let at = folded.indexOf(needle); at >= 0; at = folded.indexOf(needle, at + 1)) {
    yield [units[at].at, units[at + needle.length - 1].end];
  }
}

/**
 * Occurrences of the needle in `text`, as [start, end) of the text: from the first to the last
 * character of the term, punctuation between them included. `low`: the text's lowerText, if known.
 */
export function* termRanges(text: string, needle: Needle, low?: string, compat = hasCompatChars(text)): Generator<[number, number]> {
  if (!needle.text) return;
  // Text is kept as printed; characters that NFKC turns into other letters or digits (①, ㈠,
  // full-width Ａ, compatibility ideographs, Kangxi radicals) are folded as the index folds them.
  if (compat) {
    yield* findSlow(text, needle.text);
    return;
  }
  if (!needle.cased) {
    yield* find(text, needle.text);
    return;
  }
  const l = low ?? lowerText(text);
  yield* l === undefined ? findSlow(text, needle.text) : find(l, needle.text);
}

/** Does the needle occur in the text? */
export function hasTerm(text: string, needle: Needle, low?: string, compat?: boolean): boolean {
  for (const _ of termRanges(text, needle, low, compat)) return true;
  return false;
}

/**
 * Where the needles occur in `text`: sorted by start, overlapping or touching ranges merged.
 * `first`: only each needle's first occurrence.
 */
export function occurrences(text: string, needles: Needle[], opts: { first?: boolean } = {}): Array<[number, number]> {
  const low = needles.some((n) => n.cased) ? lowerText(text) : undefined;
  const compat = hasCompatChars(text);
  const out: Array<[number, number]> = [];
  for (const n of needles) {
    for (const r of termRanges(text, n, low, compat)) {
      out.push(r);
      if (opts.first) break;
    }
  }
  out.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const merged: Array<[number, number]> = [];
  for (const r of out) {
    const last = merged[merged.length - 1];
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else merged.push([r[0], r[1]]);
  }
  return merged;
}
