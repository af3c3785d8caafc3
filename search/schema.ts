import { createHash } from 'node:crypto';
import type { Settings } from 'meilisearch';
import { ApplianceError, type ItemMetadata, type PageText, type Retention, classificationRank } from '../core/index.ts';
import { bigramTokens, gramChars, normalizeText } from './char-pairs.ts';

/**
 * Two indexes:
 * - `items`: one document per item (件). It carries the catalogue data and the bigram tokens of
 *   every page, so a query of several words is an AND over the pages of the item (a per-page
 *   index loses words that stand on different pages), and hits, counts and facet counts are
 *   items. Pages are joined by " . " (a hard separator: no phrase runs across it), each followed
 *   by the first characters of the next page (a string across a page break).
 * - `pages`: one document per page (id `${itemId}-p${page}`) with the page text as shown.
 * The query service finds the matching pages and the snippet in the page texts (page-match.ts),
 * read from the page-text store (text-store.ts), or from `pages` by filter under the same token
 * when an item's file is missing or stale. Measured in
 *   bench/search.ts: a per-page bigram index queried for the matching pages made a search 3-5x
 *   the item query alone, and `_matchesPosition` ~30 ms per query; `_matchesPosition` on array
 *   attributes also reports one element only.
 * Both carry posts and classificationRank: the tenant token's rule applies to both.
 */
export const INDEX_ITEMS = 'items';
export const INDEX_PAGES = 'pages';

/**
 * Meilisearch keeps at most 65,535 word positions per attribute (words past it are dropped
 * silently), so page tokens are spread over several attributes.
 */
export const GRAM_ATTRS = Array.from({ length: 16 }, (_, i) => `g${String(i).padStart(2, '0')}`);
export const POSITIONS_PER_ATTR = 60_000;
/** Characters of the next page appended to each page's tokens: strings across a page break. */
export const PAGE_OVERLAP = 24;
/** Between pages in a g-attribute: '.' is a hard separator, so no phrase matches across it. */
export const PAGE_SEPARATOR = ' . ';

export const FACETS = ['year', 'fonds', 'department', 'retention'] as const;
export type FacetName = (typeof FACETS)[number];

export interface ItemDoc {
  id: string;
  itemId: string;
  archivalCode?: string;
  title?: string;
  docNumber?: string;
  responsible?: string;
  date?: string;
  year?: number;
  fonds?: string;
  department?: string;
  retention?: Retention;
  classificationRank: number;
  posts: string[];
  pageCount: number;
  /** SHA-256 over the catalogue data and page texts: the consistency check compares it. */
  contentHash: string;
  /** Bigram tokens of the catalogue strings (题名, 文号, 档号, 责任者), one element each. */
  meta: string[];
  /** Pages that did not fit (an item of more than ~1,000 dense pages). */
  truncatedPages: number;
  [gram: `g${number}`]: string;
}

export interface PageDoc {
  id: string;
  itemId: string;
  page: number;
  pageCount: number;
  archivalCode?: string;
  title?: string;
  year?: number;
  fonds?: string;
  department?: string;
  retention?: Retention;
  classificationRank: number;
  posts: string[];
  text: string;
}

const FILTERABLE = ['itemId', 'posts', 'classificationRank', 'year', 'fonds', 'department', 'retention'];

export const ITEMS_SETTINGS: Settings = {
  searchableAttributes: ['meta', ...GRAM_ATTRS],
  filterableAttributes: FILTERABLE,
  sortableAttributes: ['year', 'archivalCode', 'date'],
  // A hit in 题名/文号/档号 before one in the body; then newer years first. `sort` comes first so a
  // chosen order (日期, 档号) is strict; without a sort in the query it orders nothing, and every
  // query matches all its words anyway (matchingStrategy 'all').
  rankingRules: ['sort', 'words', 'attribute', 'proximity', 'exactness', 'year:desc'],
  // Every searchable attribute holds encoded tokens matched exactly: a typo or prefix there would
  // be a different string, i.e. a false hit.
  typoTolerance: { enabled: false },
  prefixSearch: 'disabled',
  distinctAttribute: null,
  localizedAttributes: [{ attributePatterns: ['title', 'department', 'fonds', 'responsible'], locales: ['cmn'] }],
  faceting: { maxValuesPerFacet: 200 },
  pagination: { maxTotalHits: 5000 },
  facetSearch: true,
};

export const PAGES_SETTINGS: Settings = {
  // Looked up by filter; text is matched through the items index (see above).
  searchableAttributes: ['title'],
  filterableAttributes: [...FILTERABLE, 'id', 'page'],
  sortableAttributes: ['page', 'year'],
  rankingRules: ['sort', 'words', 'exactness'],
  typoTolerance: { enabled: false },
  prefixSearch: 'disabled',
  // One page per item when a caller wants it (`distinct: 'itemId'` at query time).
  distinctAttribute: null,
  localizedAttributes: [{ attributePatterns: ['title', 'text', 'department', 'fonds'], locales: ['cmn'] }],
  pagination: { maxTotalHits: 5000 },
  facetSearch: false,
};

const ID_RE = /^[A-Za-z0-9_-]{1,200}$/;

export function checkItemId(itemId: string): void {
  if (!ID_RE.test(itemId)) {
    throw new ApplianceError('SEARCH_BAD_ITEM_ID', `件标识无效（只允许字母、数字、- 和 _，最长 200）：${itemId}`, `invalid item id for the index: ${itemId}`, { status: 400 });
  }
}

export function pageDocId(itemId: string, page: number): string {
  return `${itemId}-p${page}`;
}

/** What the index holds of the item: hashed to find stale documents. */
export function contentHash(meta: ItemMetadata, pages: PageText[]): string {
  const h = createHash('sha256');
  const m = {
    itemId: meta.itemId,
    archivalCode: meta.archivalCode,
    title: meta.title,
    docNumber: meta.docNumber,
    responsible: meta.responsible,
    date: meta.date,
    year: meta.year,
    fonds: meta.fonds,
    department: meta.department,
    retention: meta.retention,
    classification: meta.classification,
    posts: [...meta.posts].sort(),
    pageCount: meta.pageCount,
  };
  h.update(JSON.stringify(m));
  for (const p of [...pages].sort((a, b) => a.page - b.page)) h.update(`\0${p.page}\0${p.text}`);
  return h.digest('hex');
}

function checkPages(meta: ItemMetadata, pages: PageText[]): PageText[] {
  const sorted = [...pages].sort((a, b) => a.page - b.page);
  sorted.forEach((p, i) => {
    if (p.page !== i + 1) {
      throw new ApplianceError('SEARCH_BAD_PAGES', `件 ${meta.itemId} 的页码不连续（第 ${i + 1} 页缺失或重复）`, `item ${meta.itemId}: pages not numbered 1..n`, { status: 400 });
    }
  });
  if (sorted.length !== meta.pageCount) {
    throw new ApplianceError(
      'SEARCH_BAD_PAGES',
      `件 ${meta.itemId} 的页数（${meta.pageCount}）与页面文本数（${sorted.length}）不符`,
      `item ${meta.itemId}: pageCount ${meta.pageCount} but ${sorted.length} pages`,
      { status: 400 },
    );
  }
  if (meta.posts.length === 0) {
    throw new ApplianceError('SEARCH_NO_POSTS', `件 ${meta.itemId} 未指定岗位，无人可见，不予编入索引`, `item ${meta.itemId} has no posts`, { status: 400 });
  }
  return sorted;
}

function shared(meta: ItemMetadata) {
  return {
    itemId: meta.itemId,
    archivalCode: meta.archivalCode,
    title: meta.title,
    year: meta.year,
    fonds: meta.fonds,
    department: meta.department,
    retention: meta.retention,
    classificationRank: classificationRank(meta.classification),
    posts: [...meta.posts],
  };
}

/** The documents of one item: one for the items index, one per page for the pages index. */
export function buildDocs(meta: ItemMetadata, pagesIn: PageText[]): { item: ItemDoc; pages: PageDoc[] } {
  checkItemId(meta.itemId);
  const pages = checkPages(meta, pagesIn);
  const texts = pages.map((p) => normalizeText(p.text));
  const chars = texts.map(gramChars);
  const item: ItemDoc = {
    id: meta.itemId,
    ...shared(meta),
    docNumber: meta.docNumber,
    responsible: meta.responsible,
    date: meta.date,
    pageCount: meta.pageCount,
    contentHash: contentHash(meta, pages),
    meta: [meta.title, meta.docNumber, meta.archivalCode, meta.responsible]
      .filter((s): s is string => Boolean(s))
      .map((s) => bigramTokens(gramChars(s)).join(' '))
      .filter(Boolean),
    truncatedPages: 0,
  };
  let attr = -1;
  let used = POSITIONS_PER_ATTR;
  const parts: string[][] = [];
  for (let i = 0; i < chars.length; i++) {
    const next = chars[i + 1] ?? [];
    const tokens = bigramTokens([...chars[i], ...next.slice(0, PAGE_OVERLAP)]);
    // +8: the gap Meilisearch leaves at a hard separator.
    if (used + tokens.length + 8 > POSITIONS_PER_ATTR) {
      if (attr + 1 >= GRAM_ATTRS.length) {
        item.truncatedPages = chars.length - i;
        break;
      }
      attr++;
      used = 0;
      parts.push([]);
    }
    parts[attr].push(tokens.join(' '));
    used += tokens.length + 8;
  }
  parts.forEach((p, k) => {
    item[GRAM_ATTRS[k] as `g${number}`] = p.join(PAGE_SEPARATOR);
  });
  const pageDocs: PageDoc[] = pages.map((p, i) => ({
    id: pageDocId(meta.itemId, p.page),
    ...shared(meta),
    page: p.page,
    pageCount: meta.pageCount,
    text: texts[i],
  }));
  return { item, pages: pageDocs };
}
