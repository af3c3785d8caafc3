// search/: the Meilisearch side: index schema and settings, documents from items, tenant tokens,
// the query service, reindex and the consistency check. Others import from here only.
export { createSearchService, type SearchService } from './service.ts';
export type { SearchSort, SearchParams } from './query.ts';
export { SORTS } from './query.ts';
export type { StoredItem, ConsistencyReport } from './indexer.ts';

export { SEARCH_LIMITS } from './query.ts';
export { INDEX_SHARED, SHARED_SETTINGS, buildSharedDocs, type SharedScope, type SharedDoc, type SharedItemDoc, type SharedPageDoc } from './shared-schema.ts';
export { SharedIndexWriter, type SharedEntry } from './shared-writer.ts';
export { notFederated, type FederatedHit, type FederatedResult, type FederationTarget, type Office } from './federated-query.ts';
export { APPROXIMATE_FACET, createSharedVerifier, type SharedCheck, type SharedVerifier } from './shared-verify.ts';
