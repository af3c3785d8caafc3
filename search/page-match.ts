import { hasCompatChars, hasTerm, lowerText, termRanges, type Needle } from './term-match.ts';
import type { QueryTerm } from './char-pairs.ts';
import { snippet } from './snippet.ts';

/** Characters either side of a page break that are searched for a term running across it. */
const ACROSS = 48;

/**
 * A page text; `low` (its lower-cased form) and `compat` (hasCompatChars) are filled on first use
 * and kept with a cached page, so a page shown by many searches is looked over once.
 */
export interface MatchPage {
  page: number;
  text: string;
  low?: string | null;
  compat?: boolean;
}

export interface PageMatch {
  /** Pages on which a term occurs; a term across a page break counts on both pages. */
  pages: number[];
  /** HTML: text escaped, terms in <mark>. */
  snippet: string;
  snippetPage?: number;
}

function has(p: MatchPage, n: Needle): boolean {
  p.compat ??= hasCompatChars(p.text);
  if (!n.cased) return hasTerm(p.text, n, undefined, p.compat);
  if (p.low === undefined) p.low = lowerText(p.text) ?? null;
  return hasTerm(p.text, n, p.low ?? undefined, p.compat);
}

/**
 * Which pages of one item hold the query's terms, and the snippet, from the page texts — the
 * same matching as the index (term-match.ts).
 * (Meilisearch's `_matchesPosition` could name the pages, but computing it for 20 hits of
 * several pages each cost ~30 ms per query in bench/search.ts.)
 */
export function matchPages(terms: QueryTerm[], pagesIn: MatchPage[]): PageMatch {
  const sorted = pagesIn.every((p, i) => i === 0 || pagesIn[i - 1].page < p.page);
  const pages = sorted ? pagesIn : [...pagesIn].sort((a, b) => a.page - b.page);
  const needles = terms.map((t) => t.needle);
  const found = new Set<number>();
  let snip: { text: string; page: number } | undefined;
  for (let i = 0; i < pages.length && needles.length; i++) {
    const p = pages[i];
    if (needles.some((n) => has(p, n))) {
      found.add(p.page);
      snip ??= { text: p.text, page: p.page };
    }
    const next = pages[i + 1];
    if (!next || next.page !== p.page + 1) continue;
    const tail = p.text.slice(-ACROSS);
    const joined = tail + next.text.slice(0, ACROSS);
    const compat = hasCompatChars(joined);
    for (const n of needles) {
      for (const [a, b] of termRanges(joined, n, undefined, compat)) {
        if (a < tail.length && b > tail.length) {
          found.add(p.page);
          found.add(next.page);
          snip ??= { text: `${p.text}\n${next.text}`, page: p.page };
          break;
        }
      }
    }
  }
  if (!snip && pages.length > 0) snip = { text: pages[0].text, page: pages[0].page };
  return { pages: [...found].sort((a, b) => a - b), snippet: snip ? snippet(snip.text, terms).html : '', snippetPage: snip?.page };
}
