import type Router from '@koa/router';
import type Koa from 'koa';
import { createReadStream } from 'node:fs';
import { ApplianceError, isApplianceError, canSee, RETENTIONS, type ItemMetadata, type Retention } from '../core/index.ts';
import { type ItemStore } from '../ingest/index.ts';
import { SEARCH_LIMITS, SORTS, type SearchService, type SearchSort } from '../search/index.ts';
import { currentViewer, requirePermission } from './authorize.ts';
import { type Auth } from './auth.ts';
import { federatedSearch, type FederationView } from './federated-search.ts';

/** One answer for "does not exist" and "not yours": a refusal must not reveal that an item exists. */
const notFound = () => new ApplianceError('ITEM_NOT_FOUND', '条目不存在或您无权查阅。', 'no such item (or not visible)', { status: 404 });

function intParam(v: unknown, name: string, min: number, max: number): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new ApplianceError('BAD_PARAM', `参数 ${name} 须为 ${min} 到 ${max} 之间的整数。`, `bad ${name}`, { status: 400 });
  return n;
}

function sortParam(v: unknown): SearchSort {
  if (v === undefined || v === '') return 'relevance';
  if (typeof v === 'string' && (SORTS as readonly string[]).includes(v)) return v as SearchSort;
  throw new ApplianceError('BAD_PARAM', `排序方式须为 ${SORTS.join('、')} 之一（相关度、日期、档号）。`, 'bad sort', { status: 400 });
}

function strParam(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() ? v.trim().slice(0, SEARCH_LIMITS.facetChars) : undefined;
}

/** The catalogue data a reader sees (no file hashes or internal fields). */
function publicMeta(m: ItemMetadata) {
  const { itemId, archivalCode, fonds, year, retention, department, itemNo, title, docNumber, responsible, date, classification, pageCount } = m;
  return { itemId, archivalCode, fonds, year, retention, department, itemNo, title, docNumber, responsible, date, classification, pageCount };
}

/**
 * Search and item routes. Every item route checks the access rule on the stored item itself
 * (search is already filtered inside Meilisearch by the session's tenant token), and every
 * search, view, page view and download leaves an audit record.
 */
export function itemRoutes(router: Router, deps: { auth: Auth; search: SearchService; store: ItemStore; departmentNames?: () => Promise<Record<string, string>>; federation?: FederationView }): void {
  const visibleItem = async (ctx: Koa.Context): Promise<ItemMetadata> => {
    const id = String(ctx.params.id ?? '');
    const meta = await deps.store.getItem(id).catch(() => undefined);
    if (!meta || !canSee(currentViewer(ctx), meta)) {
      await deps.auth.record(ctx, { action: 'item.view', target: id.slice(0, 80), outcome: 'denied', details: { path: ctx.path } });
      throw notFound();
    }
    return meta;
  };

  router.get('/api/search', requirePermission('item:search'), async (ctx) => {
    const q = ctx.query;
    const retention = strParam(q.retention);
    if (retention && !(RETENTIONS as readonly string[]).includes(retention)) throw new ApplianceError('BAD_PARAM', `保管期限须为 ${RETENTIONS.join('、')} 之一。`, 'bad retention', { status: 400 });
    const params = {
      q: typeof q.q === 'string' ? q.q.slice(0, SEARCH_LIMITS.queryChars) : '',
      year: intParam(q.year, 'year', SEARCH_LIMITS.minYear, SEARCH_LIMITS.maxYear),
      fonds: strParam(q.fonds),
      department: strParam(q.department),
      retention: retention as Retention | undefined,
      sort: sortParam(q.sort),
      offset: intParam(q.offset, 'offset', 0, SEARCH_LIMITS.maxOffset),
      limit: intParam(q.limit, 'limit', 1, SEARCH_LIMITS.maxLimit),
      exact: q.exact === '1',
    };
    const details = {
      q: params.q,
      year: params.year,
      fonds: params.fonds,
      department: params.department,
      retention: params.retention,
      offset: params.offset,
      ...(params.sort !== 'relevance' ? { sort: params.sort } : {}),
      ...(params.exact ? { exact: true } : {}),
    };
    if (q.federated === '1') return federatedSearch(ctx, deps, currentViewer(ctx), params, details);
    let result;
    try {
      result = await deps.search.search(currentViewer(ctx), params);
    } catch (e) {
      // A refused query (400) or an unavailable index is recorded too: someone tried.
      await deps.auth.record(ctx, { action: 'item.search', target: '-', outcome: 'failure', details: { ...details, error: isApplianceError(e) ? e.code : 'INTERNAL' } });
      throw e;
    }
    // The answer waits for its record (fail closed). Writing the record beside the Meilisearch
    // query instead was measured on bench/search.ts's index (A/B in one run): no better at 8-32
    // clients, worse at 1 (its flush probably stalls the index's own reads), and the record
    // could not say how many were found.
    await deps.auth.record(ctx, { action: 'item.search', target: '-', outcome: 'success', details: { ...details, total: result.total } });
    // 机构 names (the secadmin's table) for the codes in this answer only; a code without one stays a code.
    const table = deps.departmentNames ? await deps.departmentNames().catch(() => ({}) as Record<string, string>) : {};
    const codes = new Set([...Object.keys(result.facets.department ?? {}), ...result.items.map((i) => i.department).filter((d): d is string => Boolean(d))]);
    ctx.body = {
      ...result,
      departmentNames: Object.fromEntries([...codes].filter((c) => Object.hasOwn(table, c)).map((c) => [c, table[c]])),
      // Whether 联合检索 can be chosen here (an office code is set): the page hides the choice otherwise.
      federation: Boolean(deps.federation?.office()),
    };
  });

  router.get('/api/items/:id', requirePermission('item:read'), async (ctx) => {
    const meta = await visibleItem(ctx);
    await deps.auth.record(ctx, { action: 'item.view', target: meta.itemId, outcome: 'success' });
    ctx.body = publicMeta(meta);
  });

  router.get('/api/items/:id/text', requirePermission('item:read'), async (ctx) => {
    const meta = await visibleItem(ctx);
    const text = await deps.store.readText(meta.itemId);
    // The whole OCR text is item content: read on the record like a page view.
    await deps.auth.record(ctx, { action: 'item.text.view', target: meta.itemId, outcome: 'success', details: { pages: text.length } });
    ctx.body = text;
  });

  router.get('/api/items/:id/pages/:n', requirePermission('item:read'), async (ctx) => {
    const meta = await visibleItem(ctx);
    const n = intParam(ctx.params.n, 'n', 1, meta.pageCount);
    if (n === undefined) throw notFound();
    const page = await deps.store.pageFile(meta.itemId, n);
    await deps.auth.record(ctx, { action: 'item.page.view', target: meta.itemId, outcome: 'success', details: { page: n } });
    ctx.set('Cache-Control', 'private, no-store');
    ctx.type = page.contentType;
    ctx.body = createReadStream(page.path);
  });

  router.get('/api/items/:id/document.pdf', requirePermission('item:read'), async (ctx) => {
    const meta = await visibleItem(ctx);
    await deps.auth.record(ctx, { action: 'item.download', target: meta.itemId, outcome: 'success' });
    const name = `${meta.archivalCode ?? meta.itemId}.pdf`;
    ctx.type = 'application/pdf';
    ctx.set('Content-Disposition', `attachment; filename="${meta.itemId}.pdf"; filename*=UTF-8''${encodeURIComponent(name)}`);
    ctx.body = createReadStream(deps.store.documentPath(meta.itemId));
  });
}
