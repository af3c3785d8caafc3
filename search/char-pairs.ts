/**
 * Text normalisation and the character-bigram encoding that gives Chinese substring recall.
 *
 * Meilisearch segments Chinese with jieba and matches words by prefix, so a substring inside a
 * segmented word (简单 in 安装简单) or digits inside Chinese text are missed. Instead of relying on
 * its segmentation we index every overlapping pair of characters as one opaque lowercase Latin token
 * (4 letters per code point) and search a query as a phrase of its pairs: a phrase matches only
 * consecutive positions, so it finds exactly the pages that contain the string, and nothing else.
 */

import { needleOf, type Needle } from './term-match.ts';

// Han, CJK punctuation and full-width punctuation (not full-width letters or digits).
const HAN_OR_WIDE = '\\p{Script=Han}\\u3000-\\u303f\\uff01-\\uff0f\\uff1a-\\uff20\\uff3b-\\uff40\\uff5b-\\uff65';
const SPACE_BEFORE = new RegExp(`[ \\t\\u00a0]+(?=[${HAN_OR_WIDE}])`, 'gu');
const SPACE_AFTER = new RegExp(`(?<=[${HAN_OR_WIDE}])[ \\t\\u00a0]+`, 'gu');

/**
 * Page text as it is stored and shown: as printed (full-width Chinese punctuation stays full-width),
 * no whitespace touching a Han character or CJK punctuation (OCR puts spaces between Chinese
 * characters), full-width letters and digits as the half-width ones they print as, other runs of
 * spaces collapsed, line breaks kept. NFKC and lower case belong to the index only (gramChars,
 * and term-match.ts when matching): one character in, one out, so positions found there hold here.
 */
export function normalizeText(s: string): string {
  return s
    .replace(/\r\n?/g, '\n')
    .replace(/\u3000/g, ' ')
    .replace(/[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0))
    .replace(SPACE_BEFORE, '')
    .replace(SPACE_AFTER, '')
    .replace(/[ \t\u00a0]+/g, ' ')
    .replace(/ *\n */g, '\n');
}

/** 26^4: code points at or above it (unassigned planes) cannot be encoded and are skipped. */
const MAX_CP = 26 ** 4;

/**
 * The characters that take part in matching: letters and digits of any script, lower-cased.
 * Punctuation, spaces and line breaks are dropped, so 〔2014〕12号 and [2014]12号 match each other
 * and a string broken across two lines still matches.
 */
export function gramChars(s: string): string[] {
  const out: string[] = [];
  for (const ch of s.normalize('NFKC').toLowerCase()) {
    if (/[\p{L}\p{N}]/u.test(ch) && ch.codePointAt(0)! < MAX_CP) out.push(ch);
  }
  return out;
}

function encodeChar(ch: string): string {
  let n = ch.codePointAt(0)!;
  let s = '';
  for (let i = 0; i < 4; i++) {
    s = String.fromCharCode(97 + (n % 26)) + s;
    n = Math.floor(n / 26);
  }
  return s;
}

/** Overlapping bigram tokens of a character sequence (empty when it has fewer than 2). */
export function bigramTokens(chars: string[]): string[] {
  const enc = chars.map(encodeChar);
  const out: string[] = [];
  for (let i = 0; i + 1 < enc.length; i++) out.push(enc[i] + enc[i + 1]);
  return out;
}

export function gramField(chars: string[]): string {
  return bigramTokens(chars).join(' ');
}

/**
 * Meilisearch proves a phrase per document and three words at a time (for each window of three
 * words: the pairs at distance 1 and 2 occur somewhere in the document, from its word-pair-proximity
 * table), not at one place. So a phrase of at most three pair tokens (a term of at most four
 * characters) is exact, and a longer one only proves each four-character window apart (measured:
 * test/search/exact-windows.test.ts). The query service checks the candidates of such a term
 * against the page texts (search/verify.ts).
 */
export const PHRASE_PAIRS = 3;

/**
 * Does Meilisearch's answer for the term hold exactly the items that contain it? Yes for up to
 * PHRASE_PAIRS pairs without a repeated character: the window's pairs at distance 1 and 2 then fit
 * only the term itself. A repeated character lets two unrelated places satisfy them (啊吧 吧吧 吧啊).
 */
function exactInIndex(chars: string[]): boolean {
  return chars.length - 1 <= PHRASE_PAIRS && (chars.length <= 3 || new Set(chars).size === chars.length);
}

/**
 * The `q` Meilisearch gets for the terms: exact terms' phrases first. Meilisearch reads only the
 * first 10 words of a query (a phrase is one); words past it, if it drops any, are then phrases of
 * terms checked against the texts anyway.
 */
export function meiliQuery(terms: QueryTerm[]): string {
  return [...terms.filter((t) => t.exact), ...terms.filter((t) => !t.exact)].map((t) => t.phrase).join(' ');
}

/** One search term of a query: its matchable characters and the phrase Meilisearch gets. */
export interface QueryTerm {
  text: string;
  chars: string[];
  phrase: string;
  /** Meilisearch's answer for it is exact; false: its candidates are checked against the texts (verify.ts). */
  exact: boolean;
  /** How the page texts are searched for it (term-match.ts), made once per query. */
  needle: Needle;
}

export interface ParsedQuery {
  terms: QueryTerm[];
  /** Terms dropped because they hold fewer than two letters or digits. */
  ignored: string[];
}

export const MAX_TERMS = 10;
export const MAX_QUERY_CHARS = 200;

/**
 * Whitespace separates terms; every term must occur in the item (on any page, or in its
 * catalogue data). A term of one character cannot be a bigram and is ignored.
 */
export function parseQuery(q: string): ParsedQuery {
  const terms: QueryTerm[] = [];
  const ignored: string[] = [];
  const seen = new Set<string>();
  for (const raw of q.normalize('NFKC').split(/\s+/u)) {
    if (!raw) continue;
    const chars = gramChars(raw);
    if (chars.length < 2) {
      ignored.push(raw);
      continue;
    }
    const key = chars.join('');
    if (seen.has(key)) continue;
    seen.add(key);
    terms.push(queryTerm(raw, chars));
  }
  return { terms, ignored };
}

/** The term of these matchable characters (gramChars of what was typed). */
export function queryTerm(text: string, chars: string[]): QueryTerm {
  return { text, chars, phrase: `"${bigramTokens(chars).join(' ')}"`, exact: exactInIndex(chars), needle: needleOf(chars) };
}

function decodeChar(s: string): string {
  let n = 0;
  for (const c of s) n = n * 26 + (c.charCodeAt(0) - 97);
  return String.fromCodePoint(n);
}

/**
 * The terms of a `q` as meiliQuery wrote it, read back from its phrases (the answering office of a
 * federated search gets only the query): each phrase of overlapping pair tokens is one term. Words
 * outside phrases, and phrases that are not such a chain, are no term of this design and left to
 * Meilisearch.
 */
export function termsOfMeiliQuery(q: string): QueryTerm[] {
  const terms: QueryTerm[] = [];
  for (const m of q.matchAll(/"([^"]*)"/g)) {
    const tokens = m[1].split(/\s+/).filter(Boolean);
    if (tokens.length === 0 || !tokens.every((t) => /^[a-z]{8}$/.test(t))) continue;
    if (!tokens.every((t, i) => i === 0 || t.slice(0, 4) === tokens[i - 1].slice(4))) continue;
    const chars = [...tokens.map((t) => decodeChar(t.slice(0, 4))), decodeChar(tokens[tokens.length - 1].slice(4))];
    terms.push(queryTerm(chars.join(''), chars));
  }
  return terms;
}
