import type { SearchResponse } from 'meilisearch';
import { dataPath, type MeiliConnection } from '../core/index.ts';
import { termsOfMeiliQuery } from './char-pairs.ts';
import { meiliPost } from './meili-query-http.ts';
import { PageTextCache } from './page-cache.ts';
import { pageTexts } from './page-texts.ts';
import { idFilter } from './query.ts';
import { INDEX_SHARED, type SharedItemDoc } from './shared-schema.ts';
import { PageTextStore } from './text-store.ts';
import { VERIFY_FIELDS, VERIFY_LIMIT, verifyCandidates, type VerifyHit } from './verify.ts';

/**
 * The exact check of a peer's search of this office's shared index (联合检索), made here, by the
 * office that holds the texts: as for local search (query.ts, verify.ts), a term Meilisearch cannot
 * prove exactly (char-pairs.ts `exact`) is checked against the candidates' texts, and the query
 * goes on restricted to the candidates that hold it, so the hits, the count and any facets the peer
 * gets are exact.
 *
 * Nothing widens: the candidates are the query's own answer under the peer's own token (its scope
 * filter, which Meilisearch applies) and the query's own filter; page texts are read only for them
 * (the page-text store by the contentHash their shared document names, else the shared index's page
 * documents under the same token); the query that answers keeps its filter and the token and only
 * gains `itemId IN [the verified ones]`. An item the peer may not see is never a candidate, so it is
 * never read, counted or named.
 */
export interface SharedCheck {
  /** The multi-search body to send on (the given one when nothing needed a check). */
  body: { queries: Array<Record<string, unknown>>; [k: string]: unknown };
  /** A query had more than VERIFY_LIMIT candidates and was left as Meilisearch answers it. */
  approximate: boolean;
}

/**
 * How an answer says a query had more candidates than the check reads: a facet of the shared index
 * in the federated answer (federation/endpoint.ts adds it), valued by the answering office's code.
 * The asking Meilisearch appends a remote's facets as they come into its own answer's
 * facetsByIndex.shared (measured: test/federation/exact-federated.test.ts), where
 * federated-query.ts reads it.
 */
export const APPROXIMATE_FACET = '_archive.approximate';

/**
 * How long the check of one peer's request may take before its answer is left as Meilisearch gives
 * it, flagged approximate: the asking office's relay waits 2.5 s for the whole call (TLS, the check,
 * the query). Measured (bench/federation-exact.ts, on a loaded 2-core machine): 1,000 candidates of
 * 20 pages ~0.8 s cold and 0.4 s warm with page-text files, 4.7 s cold without them.
 */
export const SHARED_CHECK_BUDGET_MS = 1_500;

/** What the check reads of a candidate: VERIFY_FIELDS (contentHash there is the shared document's, `<items hash>:<office>:<scope>`). */
type Candidate = Pick<SharedItemDoc, 'itemId' | 'contentHash' | 'pageCount' | 'title' | 'docNumber' | 'archivalCode' | 'responsible'>;

/** Query fields that decide which documents match (everything else only shapes the answer). */
const MATCHING = ['q', 'matchingStrategy', 'filter', 'attributesToSearchOn', 'rankingScoreThreshold', 'locales', 'distinct'] as const;

function and(filter: unknown, clause: string): unknown[] {
  if (filter === undefined || filter === null || filter === '') return [clause];
  return Array.isArray(filter) ? [...filter, clause] : [filter, clause];
}

export class SharedVerifier {
  /** Page texts of recently checked items (as query.ts's cache; the same items come back query after query). */
  private readonly cache = new PageTextCache(20_000_000);

  constructor(
    private readonly conn: MeiliConnection,
    private readonly texts: PageTextStore,
  ) {}

  /** Check every query of a multi-search body (already known to be a plain search of the shared index) with the peer's token. */
  async check(body: { queries: Array<Record<string, unknown>>; [k: string]: unknown }, token: string, budgetMs = SHARED_CHECK_BUDGET_MS): Promise<SharedCheck> {
    const post = <T>(path: string, b: unknown) => meiliPost<T>(this.conn.host, token, path, b);
    const deadline = Date.now() + budgetMs;
    let approximate = false;
    let changed = false;
    const queries: Array<Record<string, unknown>> = [];
    for (const query of body.queries) {
      // The asking office always asks for every term (matchingStrategy 'all'); a query that lets
      // Meilisearch drop terms has no exact answer to check against, and goes as asked.
      const terms = typeof query.q === 'string' && query.matchingStrategy === 'all' ? termsOfMeiliQuery(query.q) : [];
      if (terms.every((t) => t.exact)) {
        queries.push(query);
        continue;
      }
      const ask: Record<string, unknown> = {};
      for (const k of MATCHING) if (query[k] !== undefined) ask[k] = query[k];
      const all = await post<SearchResponse<Candidate>>(`/indexes/${INDEX_SHARED}/search`, { ...ask, offset: 0, limit: VERIFY_LIMIT, attributesToRetrieve: [...VERIFY_FIELDS] });
      const hits: VerifyHit[] = all.hits.filter((h) => typeof h.itemId === 'string').map((h) => ({ ...h, contentHash: String(h.contentHash ?? '').split(':')[0] }));
      const ids = await verifyCandidates(
        { hits, estimatedTotalHits: all.estimatedTotalHits },
        terms,
        (list) => pageTexts(post, list, this.cache, this.texts, { index: INDEX_SHARED, filter: 'kind = "page"' }),
        deadline,
      );
      if (ids === 'approximate') {
        approximate = true;
        queries.push(query);
        continue;
      }
      changed = true;
      queries.push({ ...query, filter: and(query.filter, idFilter(ids)) });
    }
    return { body: changed ? { ...body, queries } : body, approximate };
  }
}

export function createSharedVerifier(conn: MeiliConnection, dataDir: string): SharedVerifier {
  return new SharedVerifier(conn, new PageTextStore(dataPath(dataDir, 'texts')));
}
