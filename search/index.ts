// search/: the Meilisearch side: index schema and settings, documents from items, tenant tokens,
// the query service, reindex and the consistency check. Others import from here only.
export {};
export { createSearchService, type SearchService } from './service.ts';
export type { SearchParams, SearchResult, SearchHit, FacetCounts, FacetSearchParams, SearchSort } from './query.ts';
export { SORTS } from './query.ts';
export type { StoredItem, ReindexReport, ConsistencyReport } from './indexer.ts';
export type { TenantToken } from './tenant-token.ts';
export { accessFilter } from './tenant-token.ts';
export { normalizeText } from './normalize.ts';
