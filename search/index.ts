// search/: the Meilisearch side: index schema and settings, documents from items, tenant tokens,
// the query service, reindex and the consistency check. Others import from here only.
export {};
