import type { MeiliConnection } from '../appliance/meilisearch.ts';
import type { ItemMetadata, PageText } from '../ingest/item.ts';
import type { Viewer } from '../security/access.ts';
import { Indexer, type ConsistencyReport, type ReindexReport, type StoredItem } from './indexer.ts';
import { QueryService, type FacetSearchParams, type SearchParams, type SearchResult } from './query.ts';
import { INDEX_ITEMS, INDEX_PAGES } from './schema.ts';
import { ensureSearchKey, type SearchKey } from './search-key.ts';
import { TenantTokens, type TenantToken } from './tenant-token.ts';

export interface SearchService {
  /** Create the indexes, apply settings and make sure the search key exists (call once at start). */
  init(): Promise<void>;
  indexItem(meta: ItemMetadata, pages: PageText[]): Promise<void>;
  indexItems(items: StoredItem[]): Promise<{ pages: number; truncated: string[] }>;
  removeItem(itemId: string): Promise<void>;
  reindex(source: AsyncIterable<StoredItem>): Promise<ReindexReport>;
  consistency(source: AsyncIterable<StoredItem>): Promise<ConsistencyReport>;
  search(viewer: Viewer, params: SearchParams): Promise<SearchResult>;
  facetSearch(viewer: Viewer, params: FacetSearchParams): Promise<Array<{ value: string; count: number }>>;
  /** A tenant token for a session (until its end); undefined when the viewer holds no post. */
  sessionToken(viewer: Viewer, expiresAt: Date): Promise<TenantToken | undefined>;
}

/**
 * The search side of the appliance, bound to a running Meilisearch and the data dir (for its key).
 * inlineTextChars: items whose page texts total at most this many characters carry them in their
 * item document (default INLINE_TEXT_CHARS; 0 keeps every item on the pages-index path).
 * pageCacheChars bounds the cache of page texts of recently shown items (default 20 M characters;
 * 0 turns it off).
 */
export function createSearchService(conn: MeiliConnection, dataDir: string, opts: { inlineTextChars?: number; pageCacheChars?: number } = {}): SearchService {
  const indexes = [INDEX_ITEMS, INDEX_PAGES];
  let key: Promise<SearchKey> | undefined;
  const getKey = () => {
    key ??= ensureSearchKey(conn, dataDir, indexes).catch((e) => {
      key = undefined;
      throw e;
    });
    return key;
  };
  const tokens = new TenantTokens(getKey, indexes);
  const indexer = new Indexer(conn, { inlineTextChars: opts.inlineTextChars });
  const query = new QueryService(conn, tokens, { pageCacheChars: opts.pageCacheChars });
  return {
    init: async () => {
      await indexer.ensureIndexes();
      await getKey();
    },
    indexItem: (meta, pages) => indexer.indexItem(meta, pages),
    indexItems: (items) => indexer.indexItems(items),
    removeItem: (id) => indexer.removeItem(id),
    reindex: (source) => indexer.reindex(source),
    consistency: (source) => indexer.consistency(source),
    search: (viewer, params) => query.search(viewer, params),
    facetSearch: (viewer, params) => query.facetSearch(viewer, params),
    sessionToken: (viewer, expiresAt) => tokens.tokenFor(viewer, expiresAt),
  };
}
