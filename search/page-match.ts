import type { QueryTerm } from './normalize.ts';
import { snippet, termPattern } from './snippet.ts';

/** Characters either side of a page break that are searched for a term running across it. */
const ACROSS = 48;

export interface PageMatch {
  /** Pages on which a term occurs; a term across a page break counts on both pages. */
  pages: number[];
  /** HTML: text escaped, terms in <mark>. */
  snippet: string;
  snippetPage?: number;
}

/**
 * Which pages of one item hold the query's terms, and the snippet, from the page texts — the
 * same matching as the index: punctuation, spaces and line breaks between characters are ignored.
 * (Meilisearch's `_matchesPosition` could name the pages, but computing it for 20 hits of
 * several pages each cost ~30 ms per query in bench/search.ts, ten times this.)
 */
export function matchPages(terms: QueryTerm[], pagesIn: Array<{ page: number; text: string }>): PageMatch {
  const pages = [...pagesIn].sort((a, b) => a.page - b.page);
  const found = new Set<number>();
  let snip: { text: string; page: number } | undefined;
  const patterns = terms.map(termPattern);
  for (let i = 0; i < pages.length; i++) {
    const { page, text } = pages[i];
    if (patterns.some((re) => ((re.lastIndex = 0), re.test(text)))) {
      found.add(page);
      snip ??= { text, page };
    }
    const next = pages[i + 1];
    if (!next || next.page !== page + 1 || patterns.length === 0) continue;
    const tail = text.slice(-ACROSS);
    const joined = tail + next.text.slice(0, ACROSS);
    for (const re of patterns) {
      re.lastIndex = 0;
      for (const m of joined.matchAll(re)) {
        if (m.index! < tail.length && m.index! + m[0].length > tail.length) {
          found.add(page);
          found.add(next.page);
          snip ??= { text: text + next.text, page };
        }
      }
    }
  }
  if (!snip && pages.length > 0) snip = { text: pages[0].text, page: pages[0].page };
  return { pages: [...found].sort((a, b) => a - b), snippet: snip ? snippet(snip.text, terms).html : '', snippetPage: snip?.page };
}
