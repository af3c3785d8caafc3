import type { SearchResponse } from 'meilisearch';
import type { MatchPage } from './page-match.ts';
import type { PageTextCache } from './page-cache.ts';
import type { PageTextStore } from './text-store.ts';
import { filterString } from './tenant-token.ts';

/**
 * Page texts fetched from Meilisearch per call (items whose page-text file is missing or stale). A
 * call for items of thousands of pages gets the first ones fetched only.
 */
export const MAX_PAGES_FETCHED = 2000;

/** What pageTexts needs of a hit: its id, the contentHash its text file must name, its page count. */
export interface TextsOf {
  itemId: string;
  contentHash: string;
  pageCount: number;
}

/** Where the page documents are when no file holds them: `pages` (local search) or `shared` with `kind = "page"` (a peer's search). */
export interface PageSource {
  index: string;
  filter?: string;
}

/**
 * The page texts of these hits: from the cache or the page-text store when they hold the hit's
 * contentHash, else fetched by filter from `from` with the asker's own poster (its token; cheap for
 * Meilisearch, no phrase to evaluate again) and cached when whole. Only ever called for items the
 * asker's own query just returned.
 */
export async function pageTexts(
  post: <T>(path: string, body: unknown) => Promise<T>,
  hits: TextsOf[],
  cache: PageTextCache,
  texts: PageTextStore,
  from: PageSource,
): Promise<Map<string, MatchPage[]>> {
  const out = new Map<string, MatchPage[]>();
  const missing: TextsOf[] = [];
  for (const h of hits) {
    let pages = cache.get(h.itemId, h.contentHash);
    if (!pages) {
      pages = texts.read(h.itemId, h.contentHash);
      if (pages) cache.set(h.itemId, h.contentHash, pages);
    }
    if (pages) out.set(h.itemId, pages);
    else missing.push(h);
  }
  if (missing.length === 0) return out;
  const limit = Math.min(
    MAX_PAGES_FETCHED,
    missing.reduce((n, h) => n + h.pageCount, 0),
  );
  const ids = `itemId IN [${missing.map((h) => filterString(h.itemId)).join(', ')}]`;
  const res = await post<SearchResponse<{ itemId: string; page: number; text: string }>>(`/indexes/${from.index}/search`, {
    filter: from.filter ? [from.filter, ids] : ids,
    sort: ['page:asc'],
    limit,
    attributesToRetrieve: ['itemId', 'page', 'text'],
  });
  for (const p of res.hits) {
    let list = out.get(p.itemId);
    if (!list) out.set(p.itemId, (list = []));
    list.push({ page: p.page, text: p.text });
  }
  for (const h of missing) {
    const list = out.get(h.itemId);
    if (list && list.length === h.pageCount) cache.set(h.itemId, h.contentHash, list);
  }
  return out;
}
