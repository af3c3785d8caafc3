import { dataPath, type MeiliConnection, type ItemMetadata, type PageText, type Viewer } from '../core/index.ts';
import { Indexer, type ConsistencyReport, type ReindexReport, type StoredItem } from './indexer.ts';
import { QueryService, type FacetSearchParams, type SearchParams, type SearchResult } from './query.ts';
import { INDEX_ITEMS, INDEX_PAGES } from './schema.ts';
import { FederatedQuery, type FederatedResult, type FederationTarget } from './federated-query.ts';
import { INDEX_SHARED } from './shared-schema.ts';
import { ensureSearchKey, type SearchKey } from './tenant-signing-key.ts';
import { TenantTokens, type TenantToken } from './tenant-token.ts';
import { PageTextStore } from './text-store.ts';

export interface SearchService {
  /** Create the indexes, apply settings and make sure the search key exists (call once at start). */
  init(): Promise<void>;
  /** Add or replace one item and wait until searchable; `deadlineMs` bounds the wait (SEARCH_UNAVAILABLE after). */
  indexItem(meta: ItemMetadata, pages: PageText[], opts?: { deadlineMs?: number }): Promise<void>;
  indexItems(items: StoredItem[]): Promise<{ pages: number; truncated: string[] }>;
  removeItem(itemId: string): Promise<void>;
  reindex(source: AsyncIterable<StoredItem>): Promise<ReindexReport>;
  consistency(source: AsyncIterable<StoredItem>): Promise<ConsistencyReport>;
  search(viewer: Viewer, params: SearchParams): Promise<SearchResult>;
  /** 联合检索: this office under the viewer's access rule plus every peer's shared index, merged by Meilisearch. */
  searchFederated(viewer: Viewer, params: SearchParams, target: FederationTarget): Promise<FederatedResult>;
  facetSearch(viewer: Viewer, params: FacetSearchParams): Promise<Array<{ value: string; count: number }>>;
  /** A tenant token for a session (until its end); undefined when the viewer holds no post. */
  sessionToken(viewer: Viewer, expiresAt: Date): Promise<TenantToken | undefined>;
}

/**
 * The search side of the appliance, bound to a running Meilisearch and the data dir (for its key
 * and the page-text store, texts/).
 */
export function createSearchService(conn: MeiliConnection, dataDir: string): SearchService {
  const indexes = [INDEX_ITEMS, INDEX_PAGES];
  let key: Promise<SearchKey> | undefined;
  const getKey = () => {
    // The key may also search `shared`: only federated tokens name it (federated-query.ts).
    key ??= ensureSearchKey(conn, dataDir, [...indexes, INDEX_SHARED]).catch((e) => {
      key = undefined;
      throw e;
    });
    return key;
  };
  const tokens = new TenantTokens(getKey, indexes);
  const texts = new PageTextStore(dataPath(dataDir, 'texts'));
  const indexer = new Indexer(conn, texts);
  const query = new QueryService(conn, tokens, texts);
  const federated = new FederatedQuery(conn, getKey, query);
  return {
    init: async () => {
      await indexer.ensureIndexes();
      await getKey();
    },
    indexItem: (meta, pages, opts) => indexer.indexItem(meta, pages, opts),
    indexItems: (items) => indexer.indexItems(items),
    removeItem: (id) => indexer.removeItem(id),
    reindex: (source) => indexer.reindex(source),
    consistency: (source) => indexer.consistency(source),
    search: (viewer, params) => query.search(viewer, params),
    searchFederated: (viewer, params, target) => federated.search(viewer, params, target),
    facetSearch: (viewer, params) => query.facetSearch(viewer, params),
    sessionToken: (viewer, expiresAt) => tokens.tokenFor(viewer, expiresAt),
  };
}
