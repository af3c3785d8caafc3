import type { QueryTerm } from './char-pairs.ts';
import { VERIFY_LIMIT, verifyCandidates, type PagesOf, type VerifyHit } from './verify.ts';

/**
 * Candidates of a term Meilisearch cannot prove (char-pairs.ts `exact`) that a search checks in
 * full before it answers, so that its count and facets are exact. Past it, the answer holds only
 * checked hits, found by walking the candidates in Meilisearch's order as far as the result page
 * needs (checkedPage), and the count and facets are Meilisearch's, flagged approximate, unless
 * the person asks for the exact count (`exact`: up to VERIFY_LIMIT candidates).
 *
 * Why: every candidate costs a read of its texts and a scan (about 50 µs with its share of
 * Meilisearch's answer), so a long term found in 1,300 items cost 70 ms of CPU a search; at 8
 * clients on 2 cores that is a p95 of 0.5 s (bench/search.ts at 200,000 pages). A page of 20
 * checked hits costs about 1 ms.
 */
export const COUNT_CHECK_LIMIT = 300;

/** Candidates asked of Meilisearch per step of a walk past the first answer. */
const WALK_BATCH = 200;
/** Candidates checked at once (their texts are read together). */
const CHECK_RUN = 25;

export interface CheckedPage<H> {
  /** The first `need` candidates that hold every term, in Meilisearch's order (fewer at the end). */
  held: H[];
  /** Every candidate was checked: `held` is all of them, and its length the exact count. */
  complete: boolean;
}

/**
 * Walks the candidates (the query's answer from offset 0, then `more` for the next ones, at most
 * VERIFY_LIMIT in all) and checks them in runs until `need` hold every term. The hits are only
 * ever the viewer's own query's (the caller's poster carries the viewer's token).
 */
export async function checkedPage<H extends VerifyHit>(
  first: { hits: H[]; estimatedTotalHits?: number },
  more: (offset: number, limit: number) => Promise<H[]>,
  terms: QueryTerm[],
  pagesOf: PagesOf,
  need: number,
): Promise<CheckedPage<H>> {
  const total = Math.min(VERIFY_LIMIT, first.estimatedTotalHits ?? first.hits.length);
  const candidates = [...first.hits];
  const held: H[] = [];
  let at = 0;
  while (held.length < need) {
    if (at >= candidates.length) {
      if (candidates.length >= total) break;
      const next = await more(candidates.length, Math.min(WALK_BATCH, total - candidates.length));
      if (next.length === 0) break;
      candidates.push(...next);
    }
    const run = candidates.slice(at, at + Math.min(CHECK_RUN, Math.max(5, need - held.length)));
    at += run.length;
    const ids = await verifyCandidates({ hits: run }, terms, pagesOf);
    if (ids === 'approximate') throw new Error('a run of candidates is never more than VERIFY_LIMIT');
    const keep = new Set(ids);
    held.push(...run.filter((h) => keep.has(h.itemId)));
  }
  const complete = at >= candidates.length && candidates.length >= (first.estimatedTotalHits ?? candidates.length) && candidates.length < VERIFY_LIMIT;
  return { held: held.slice(0, need), complete };
}
