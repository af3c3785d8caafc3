import type { SearchParams as MeiliSearchParams, SearchResponse } from 'meilisearch';
import { z } from 'zod';
import { type MeiliConnection, ApplianceError, RETENTIONS, type Retention, type Viewer } from '../core/index.ts';
import { meiliPost } from './meili-query-http.ts';
import { MAX_QUERY_CHARS, MAX_TERMS, meiliQuery, parseQuery, type QueryTerm } from './char-pairs.ts';
import { VERIFY_FIELDS, VERIFY_LIMIT, verifyCandidates, type VerifyHit } from './verify.ts';
import { COUNT_CHECK_LIMIT, checkedPage } from './checked-page.ts';
import { pageTexts } from './page-texts.ts';
import { FACETS, INDEX_ITEMS, INDEX_PAGES, type FacetName, type ItemDoc } from './schema.ts';
import { matchPages, type MatchPage } from './page-match.ts';
import { PageTextCache } from './page-cache.ts';
import { highlight } from './snippet.ts';
import { filterString, type TenantTokens } from './tenant-token.ts';
import type { PageTextStore } from './text-store.ts';

export const SORTS = ['relevance', 'date', 'archivalCode'] as const;
export type SearchSort = (typeof SORTS)[number];

/** The one statement of what a search may ask for (routes check against it, not a copy). */
export const SEARCH_LIMITS = { queryChars: MAX_QUERY_CHARS, maxOffset: 5000, maxLimit: 100, minYear: 1000, maxYear: 9999, facetChars: 100 } as const;

const text = z.string().trim().min(1).max(SEARCH_LIMITS.facetChars);
const searchParamsSchema = z.object({
  q: z.string().max(SEARCH_LIMITS.queryChars).optional(),
  year: z.union([z.coerce.number().int().min(SEARCH_LIMITS.minYear).max(SEARCH_LIMITS.maxYear), z.object({ from: z.number().int().optional(), to: z.number().int().optional() })]).optional(),
  fonds: text.optional(),
  department: text.optional(),
  retention: z.enum(RETENTIONS).optional(),
  sort: z.enum(SORTS).default('relevance'),
  offset: z.coerce.number().int().min(0).max(SEARCH_LIMITS.maxOffset).default(0),
  exact: z.boolean().default(false),
  limit: z.coerce.number().int().min(1).max(SEARCH_LIMITS.maxLimit).default(20),
});

export interface SearchParams {
  q?: string;
  year?: number | { from?: number; to?: number };
  fonds?: string;
  department?: string;
  retention?: Retention;
  /** relevance (default), date (newest first) or archivalCode (档号 ascending). */
  sort?: SearchSort;
  offset?: number;
  limit?: number;
  /**
   * Count a long term's items exactly however many candidates it has (up to VERIFY_LIMIT;
   * checked-page.ts): slower, asked for by the person, not by default.
   */
  exact?: boolean;
}

/**
 * Meilisearch sort per choice. `sort` is the first ranking rule (schema.ts), so these orders are
 * strict; ties and items without the field keep relevance. The tenant token's filter applies as
 * always: sorting only orders what the viewer may see.
 */
export const SORT_RULES: Record<Exclude<SearchSort, 'relevance'>, string[]> = {
  date: ['date:desc', 'year:desc', 'archivalCode:asc'],
  archivalCode: ['archivalCode:asc'],
};

export interface SearchHit {
  itemId: string;
  archivalCode?: string;
  title?: string;
  /** Title as HTML: escaped, terms in <mark>. */
  titleHtml: string;
  docNumber?: string;
  year?: number;
  fonds?: string;
  department?: string;
  retention?: Retention;
  pageCount: number;
  /** Pages on which a term occurs (a term across a page break counts on the page where it starts). */
  pages: number[];
  /** HTML: page text escaped, terms in <mark>. */
  snippet: string;
  snippetPage?: number;
}

/** One hit of a result page, from this office's `items` or a peer's `shared` index alike: catalogue fields, the title highlighted, the pages the terms occur on and the snippet. */
export function searchHit(h: Omit<ItemHit, 'contentHash'>, terms: QueryTerm[], pages: MatchPage[]): SearchHit {
  const s = matchPages(terms, pages);
  return {
    itemId: h.itemId,
    archivalCode: h.archivalCode,
    title: h.title,
    titleHtml: highlight(h.title ?? '', terms),
    docNumber: h.docNumber,
    year: h.year,
    fonds: h.fonds,
    department: h.department,
    retention: h.retention,
    pageCount: h.pageCount,
    pages: s.pages,
    snippet: s.snippet,
    snippetPage: s.snippetPage,
  };
}

export type FacetCounts = Record<FacetName, Record<string, number>>;

export interface SearchResult {
  items: SearchHit[];
  /** Items the viewer may see that match (Meilisearch's estimate under the viewer's token). */
  total: number;
  offset: number;
  limit: number;
  facets: FacetCounts;
  /** The terms searched (each must occur in the item) and those ignored (one character). */
  terms: string[];
  ignored: string[];
  /**
   * Set when a term Meilisearch cannot prove exactly (verify.ts) had more candidates than a
   * search checks in full (COUNT_CHECK_LIMIT, or VERIFY_LIMIT when `exact` was asked): total and
   * facets are then Meilisearch's count of the candidates; the hits shown are checked all the same.
   */
  approximate?: true;
}

export interface FacetSearchParams extends Omit<SearchParams, 'offset' | 'limit' | 'sort'> {
  facetName: Exclude<FacetName, 'year'>;
  facetQuery?: string;
}

export type ItemHit = Pick<ItemDoc, 'itemId' | 'archivalCode' | 'title' | 'docNumber' | 'year' | 'fonds' | 'department' | 'retention' | 'pageCount' | 'contentHash'>;
export type Poster = <T>(path: string, body: unknown) => Promise<T>;

/** Candidates asked for past the result page's end when they are walked (some may not hold the terms). */
const PAGE_MARGIN = 20;

export const RETRIEVE = ['itemId', 'archivalCode', 'title', 'docNumber', 'year', 'fonds', 'department', 'retention', 'pageCount', 'contentHash'];
function badParams(msg: string, en: string): ApplianceError {
  return new ApplianceError('SEARCH_BAD_PARAMS', msg, en, { status: 400 });
}

export function validated(p: SearchParams): z.infer<typeof searchParamsSchema> {
  const r = searchParamsSchema.safeParse(p);
  if (!r.success) {
    const where = r.error.issues.map((i) => i.path.join('.') || '(参数)').join('、');
    throw badParams(`检索参数有误：${where}`, `bad search params: ${r.error.message}`);
  }
  return r.data;
}

/** The person's own narrowing (year, fonds…); the access rule is in the token, not here. */
export function userFilter(p: z.infer<typeof searchParamsSchema>): string[] {
  const f: string[] = [];
  if (typeof p.year === 'number') f.push(`year = ${p.year}`);
  else if (p.year) {
    if (p.year.from !== undefined) f.push(`year >= ${p.year.from}`);
    if (p.year.to !== undefined) f.push(`year <= ${p.year.to}`);
  }
  if (p.fonds) f.push(`fonds = ${filterString(p.fonds)}`);
  if (p.department) f.push(`department = ${filterString(p.department)}`);
  if (p.retention) f.push(`retention = ${filterString(p.retention)}`);
  return f;
}

export function idFilter(ids: string[]): string {
  return `itemId IN [${ids.map(filterString).join(', ')}]`;
}

export function parseTerms(q: string | undefined): { terms: QueryTerm[]; ignored: string[] } {
  const parsed = parseQuery(q ?? '');
  if (parsed.terms.length === 0 && parsed.ignored.length > 0) {
    throw badParams('检索词至少需要两个字（汉字、字母或数字）', 'query terms need at least two letters or digits');
  }
  if (parsed.terms.length > MAX_TERMS) throw badParams(`检索词最多 ${MAX_TERMS} 个`, `at most ${MAX_TERMS} terms`);
  return parsed;
}

export function emptyFacets(): FacetCounts {
  return Object.fromEntries(FACETS.map((f) => [f, {}])) as FacetCounts;
}

/**
 * The query service. Every request to Meilisearch carries the viewer's tenant token, so hits,
 * counts, facets and page texts come only from items the access rule lets the viewer see.
 */
export class QueryService {
  /**
   * Pages of recently shown items, decoded: a result page read again (paging back, the same
   * search by several people) skips the files. Measured in bench/search.ts: API p95 at 8 and
   * 32 clients 1.29-1.37 / 1.47-1.66 of raw Meilisearch without it, 1.22-1.29 / 1.31-1.32 with.
   */
  private readonly cache = new PageTextCache(20_000_000);

  constructor(
    private readonly conn: MeiliConnection,
    private readonly tokens: TenantTokens,
    private readonly texts: PageTextStore,
  ) {}

  /** A poster bound to the viewer's tenant token; undefined when the viewer may see nothing. */
  async client(viewer: Viewer): Promise<Poster | undefined> {
    const t = await this.tokens.tokenFor(viewer);
    if (!t) return undefined;
    return <T>(path: string, body: unknown) => meiliPost<T>(this.conn.host, t.token, path, body);
  }

  async search(viewer: Viewer, params: SearchParams): Promise<SearchResult> {
    const p = validated(params);
    const { terms, ignored } = parseTerms(p.q);
    const result: SearchResult = { items: [], total: 0, offset: p.offset, limit: p.limit, facets: emptyFacets(), terms: terms.map((t) => t.text), ignored };
    const client = await this.client(viewer);
    if (!client) return result;
    const q = meiliQuery(terms);
    const req: MeiliSearchParams = {
      q,
      matchingStrategy: 'all',
      filter: userFilter(p),
      facets: [...FACETS],
      offset: p.offset,
      limit: p.limit,
      attributesToRetrieve: RETRIEVE,
      ...(p.sort !== 'relevance' ? { sort: SORT_RULES[p.sort] } : terms.length === 0 ? { sort: ['year:desc', 'archivalCode:asc'] } : {}),
    };
    const post = <T>(r: MeiliSearchParams) => client<SearchResponse<T>>(`/indexes/${INDEX_ITEMS}/search`, r);
    let res: SearchResponse<ItemHit>;
    if (terms.every((t) => t.exact)) res = await post<ItemHit>(req);
    else {
      // The same query for the candidates (same order, facets over all of them): as many as the
      // count check takes (checked-page.ts), else as far as this result page needs.
      const retrieve = [...new Set([...RETRIEVE, ...VERIFY_FIELDS])];
      const need = p.offset + p.limit;
      const first = await post<ItemHit & VerifyHit>({ ...req, offset: 0, limit: p.exact ? VERIFY_LIMIT : need + PAGE_MARGIN, attributesToRetrieve: retrieve });
      const found = first.estimatedTotalHits ?? first.hits.length;
      const all =
        found <= first.hits.length || found > COUNT_CHECK_LIMIT || p.exact ? first : await post<ItemHit & VerifyHit>({ ...req, offset: 0, limit: COUNT_CHECK_LIMIT, attributesToRetrieve: retrieve });
      // Every candidate in hand: all are checked, and count, facets and hits are exact.
      const ids = all.hits.length >= (all.estimatedTotalHits ?? 0) ? await this.checkCandidates(client, all, terms) : 'approximate';
      if (ids === 'approximate') {
        // Too many to check them all: the hits shown are checked, walking the candidates in order.
        const more = async (offset: number, limit: number) => (await post<ItemHit & VerifyHit>({ ...req, facets: [], offset, limit, attributesToRetrieve: retrieve })).hits;
        const page = await checkedPage(all, more, terms, (hits) => this.pagesOf(client, hits), need);
        if (page.complete)
          res = await this.exactAnswer(
            post,
            req,
            p,
            page.held.map((h) => h.itemId),
            all,
          );
        else {
          result.approximate = true;
          res = { ...all, hits: page.held.slice(p.offset) };
        }
      } else res = await this.exactAnswer(post, req, p, ids, all);
    }
    result.total = res.estimatedTotalHits ?? res.hits.length;
    for (const f of FACETS) result.facets[f] = res.facetDistribution?.[f] ?? {};
    const hits = res.hits;
    const texts = await this.pagesOf(client, hits);
    result.items = hits.map((h) => searchHit(h, terms, texts.get(h.itemId) ?? []));
    return result;
  }

  /** The answer over exactly the candidates that hold every term (`ids`, from `all`, the query's answer from offset 0). */
  private async exactAnswer(
    post: <T>(r: MeiliSearchParams) => Promise<SearchResponse<T>>,
    req: MeiliSearchParams,
    p: z.infer<typeof searchParamsSchema>,
    ids: string[],
    all: SearchResponse<ItemHit>,
  ): Promise<SearchResponse<ItemHit>> {
    if (ids.length === 0) return { ...all, hits: [], estimatedTotalHits: 0, facetDistribution: {} };
    if (ids.length === all.hits.length && all.hits.length >= (all.estimatedTotalHits ?? 0)) return { ...all, hits: all.hits.slice(p.offset, p.offset + p.limit) };
    return post<ItemHit>({ ...req, filter: [...userFilter(p), idFilter(ids)] });
  }

  /**
   * The filter that makes Meilisearch's answer exact when a term is one it cannot prove (char-pairs.ts
   * `exact`): its candidates (under the viewer's token, so only items the viewer may see) are checked
   * against their texts (verify.ts) and the query is asked again for those that hold every term, so
   * hits, total, facets and order all come from Meilisearch over exactly those. 'none': no item
   * holds them; 'approximate': more than VERIFY_LIMIT candidates, left as Meilisearch found them.
   */
  async verifiedFilter(client: Poster, q: string, filter: string[], terms: QueryTerm[]): Promise<string[] | 'none' | 'approximate'> {
    if (terms.every((t) => t.exact)) return filter;
    const all = await client<SearchResponse<VerifyHit>>(`/indexes/${INDEX_ITEMS}/search`, { q, matchingStrategy: 'all', filter, limit: VERIFY_LIMIT, attributesToRetrieve: [...VERIFY_FIELDS] });
    const ids = await this.checkCandidates(client, all, terms);
    if (ids === 'approximate' || ids.length === 0) return ids === 'approximate' ? ids : 'none';
    return [...filter, idFilter(ids)];
  }

  /** The candidates that hold every term not proved by Meilisearch; 'approximate' when there are too many to check. */
  private checkCandidates(client: Poster, all: SearchResponse<VerifyHit>, terms: QueryTerm[]): Promise<string[] | 'approximate'> {
    return verifyCandidates(all, terms, (hits) => this.pagesOf(client, hits));
  }

  /**
   * The page texts of the items on this result page: from the cache or the page-text store when
   * they hold the hit's contentHash, else fetched by filter under the same token (cheap for
   * Meilisearch, no phrase to evaluate again) and cached when whole. Only ever read for items
   * the viewer's own query just returned.
   */
  async pagesOf(client: Poster, hits: Array<Pick<ItemHit, 'itemId' | 'contentHash' | 'pageCount'>>): Promise<Map<string, MatchPage[]>> {
    return pageTexts(client, hits, this.cache, this.texts, { index: INDEX_PAGES });
  }

  /** Facet values (e.g. 全宗, 机构) matching facetQuery among the items the query finds for the viewer. */
  async facetSearch(viewer: Viewer, params: FacetSearchParams): Promise<Array<{ value: string; count: number }>> {
    if (!['fonds', 'department', 'retention'].includes(params.facetName)) throw badParams(`不支持的分面：${params.facetName}`, `unsupported facet ${params.facetName}`);
    const p = validated({ ...params, offset: 0, limit: 1 });
    const { terms } = parseTerms(p.q);
    const fq = z.string().max(100).optional().safeParse(params.facetQuery);
    if (!fq.success) throw badParams('分面检索词过长', 'facet query too long');
    const client = await this.client(viewer);
    if (!client) return [];
    const q = meiliQuery(terms);
    const filter = await this.verifiedFilter(client, q, userFilter(p), terms);
    if (filter === 'none') return [];
    const res = await client<{ facetHits: Array<{ value: string; count: number }> }>(`/indexes/${INDEX_ITEMS}/facet-search`, {
      facetName: params.facetName,
      facetQuery: fq.data,
      q,
      matchingStrategy: 'all',
      filter: Array.isArray(filter) ? filter : userFilter(p),
    });
    return res.facetHits.map((h) => ({ value: h.value, count: h.count }));
  }
}
