import type { QueryTerm } from './char-pairs.ts';
import { hasCompatChars, hasTerm, lowerText } from './term-match.ts';
import type { MatchPage } from './page-match.ts';
import { MAX_PAGES_FETCHED } from './page-texts.ts';

/**
 * The exact check of a candidate item for the terms Meilisearch cannot prove exactly (char-pairs.ts
 * `exact`: terms of more than four characters, or with a repeated character): the item holds the
 * term if one of its catalogue strings or its page texts (pages joined, so a term running across a
 * page break counts) holds it, matched as the index matches (term-match.ts: letters and digits,
 * lower-cased, anything else between them skipped).
 */

/** Candidates checked at most per query; past it the answer is Meilisearch's (flagged not exact). */
export const VERIFY_LIMIT = 5000;

/** What the check reads of a candidate besides its pages. */
export const VERIFY_FIELDS = ['itemId', 'contentHash', 'pageCount', 'title', 'docNumber', 'archivalCode', 'responsible'] as const;

export interface VerifyHit {
  itemId: string;
  contentHash: string;
  pageCount: number;
  title?: string;
  docNumber?: string;
  archivalCode?: string;
  responsible?: string;
}

function holds(text: string, t: QueryTerm): boolean {
  const compat = hasCompatChars(text);
  return hasTerm(text, t.needle, t.needle.cased ? lowerText(text) : undefined, compat);
}

/**
 * Does the item hold every one of the terms? `pages` undefined or incomplete: its texts cannot be
 * read, and the item is kept (a hit too many rather than an archived file that cannot be found).
 */
export function itemHolds(hit: VerifyHit, pages: MatchPage[] | undefined, terms: QueryTerm[]): boolean {
  if (!pages || pages.length < hit.pageCount) return true;
  const catalogue = [hit.title, hit.docNumber, hit.archivalCode, hit.responsible].filter((s): s is string => Boolean(s));
  const sorted = [...pages].sort((a, b) => a.page - b.page);
  const body = sorted.map((p) => p.text).join('\n');
  return terms.every((t) => catalogue.some((s) => holds(s, t)) || holds(body, t));
}

/** The page texts of candidates (from the page-text store, else their index, under the asker's own token). */
export type PagesOf = (hits: VerifyHit[]) => Promise<Map<string, MatchPage[]>>;

/**
 * The candidates (Meilisearch's answer for the query, at most VERIFY_LIMIT, under the asker's own
 * token and filter) that hold every term Meilisearch cannot prove; 'approximate' when there are too
 * many to check. The one check of local search (query.ts) and of a peer's search of the shared index
 * (shared-verify.ts).
 */
export async function verifyCandidates(
  all: { hits: VerifyHit[]; estimatedTotalHits?: number },
  terms: QueryTerm[],
  pagesOf: PagesOf,
  /** Date.now() past which the check stops and the answer is 'approximate' (a peer's search must answer within its relay's bound). */
  deadline = Infinity,
): Promise<string[] | 'approximate'> {
  if (all.hits.length >= VERIFY_LIMIT || (all.estimatedTotalHits ?? 0) > all.hits.length) return 'approximate';
  const loose = terms.filter((t) => !t.exact);
  // In runs of at most MAX_PAGES_FETCHED pages: every candidate's pages can be fetched when its
  // text file is missing (one request of them all stopped at that many, and kept the rest
  // unchecked), and the texts held at once stay bounded.
  const kept: string[] = [];
  let run: VerifyHit[] = [];
  let pages = 0;
  const check = async () => {
    const texts = await pagesOf(run);
    for (const h of run) if (itemHolds(h, texts.get(h.itemId), loose)) kept.push(h.itemId);
    run = [];
    pages = 0;
  };
  for (const h of all.hits) {
    if (run.length && pages + h.pageCount > MAX_PAGES_FETCHED) {
      await check();
      if (Date.now() > deadline) return 'approximate';
    }
    run.push(h);
    pages += h.pageCount;
  }
  if (run.length) await check();
  return kept;
}
