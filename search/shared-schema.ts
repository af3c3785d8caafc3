import type { Settings } from 'meilisearch';
import type { ItemMetadata, PageText } from '../core/index.ts';
import { normalizeText } from './char-pairs.ts';
import { ITEMS_SETTINGS, buildDocs, pageDocId, type ItemDoc } from './schema.ts';

/**
 * The shared index of 联合检索 (../shared/DESIGN.md, federation/): what this office lets other
 * offices search, and nothing else. Peers reach it only (their key names this index alone), so it
 * holds both what a query matches and what a hit shows:
 * - one `kind: 'item'` document per shared item, with the very searchable design of `items`
 *   (catalogue tokens in `meta`, the page text as character pairs in g00..g15), so the query the
 *   asking office builds for its own `items` index ranks alike here and Meilisearch can merge the
 *   two; plus the catalogue fields a remote hit shows;
 * - one `kind: 'page'` document per page (id `${itemId}-p${page}`), not searchable, holding the page
 *   text: the asking office fetches the pages of the items on its result page by filter, to list
 *   the matching pages and cut the snippet exactly as for a local hit (search/page-match.ts).
 * No posts (internal to the office); the classification rank stays so the asking office can hold
 * remote hits to its user's clearance; `scope` is what a peer's key
 * filters on: the parent sees `scope IN ["parent","all"]`, any other office `scope = "all"`.
 * An item of scope 本单位 (office), or beyond the secadmin's sharing policy, is never written here.
 */
export const INDEX_SHARED = 'shared';

/** Scopes that leave the office: the only values `scope` ever holds in the shared index. */
export type SharedScope = 'parent' | 'all';

interface SharedCommon {
  id: string;
  kind: 'item' | 'page';
  itemId: string;
  /** The sharing office's code (office.code). */
  office: string;
  scope: SharedScope;
  /** 密级 rank: the asking office holds a remote hit to its user's clearance (tenant token rule). */
  classificationRank: number;
}

export interface SharedItemDoc extends SharedCommon, Pick<ItemDoc, 'archivalCode' | 'title' | 'docNumber' | 'responsible' | 'date' | 'year' | 'fonds' | 'department' | 'retention' | 'pageCount'> {
  kind: 'item';
  /** 密级 as a label (公开/内部…): shown, never used for access on the asking side. */
  classification: ItemMetadata['classification'];
  /** Over what the document holds: the sync compares it to know the document is current. */
  contentHash: string;
  meta: string[];
  truncatedPages: number;
  [gram: `g${number}`]: string;
}

export interface SharedPageDoc extends SharedCommon {
  kind: 'page';
  page: number;
  text: string;
}

export type SharedDoc = SharedItemDoc | SharedPageDoc;

export const SHARED_FILTERABLE = ['kind', 'scope', 'office', 'classificationRank', 'itemId', 'page', 'year', 'fonds', 'department', 'retention'];

export const SHARED_SETTINGS: Settings = {
  ...ITEMS_SETTINGS,
  filterableAttributes: SHARED_FILTERABLE,
  sortableAttributes: ['year', 'archivalCode', 'date', 'page'],
};

/** The shared documents of one item (the caller decides that it is shared, and how widely). */
export function buildSharedDocs(meta: ItemMetadata, pages: PageText[], office: string, scope: SharedScope): { item: SharedItemDoc; pages: SharedPageDoc[] } {
  const built = buildDocs(meta, pages);
  const { posts: _posts, id: _id, ...rest } = built.item;
  const item: SharedItemDoc = {
    ...rest,
    id: meta.itemId,
    kind: 'item',
    office,
    scope,
    classification: meta.classification,
    // The scope and office are part of what the document says: a change of either rewrites it.
    contentHash: `${built.item.contentHash}:${office}:${scope}`,
  };
  const pageDocs: SharedPageDoc[] = [...pages]
    .sort((a, b) => a.page - b.page)
    .map((p) => ({
      id: pageDocId(meta.itemId, p.page),
      kind: 'page',
      itemId: meta.itemId,
      office,
      scope,
      classificationRank: built.item.classificationRank,
      page: p.page,
      text: normalizeText(p.text),
    }));
  return { item, pages: pageDocs };
}
