import type Router from '@koa/router';
import { z } from 'zod';
import { CLASSIFICATIONS, type Classification } from '../appliance/config.ts';
import { ApplianceError } from '../appliance/errors.ts';
import type { ItemMetadataPatch, ItemStore } from '../ingest/index.ts';
import type { SearchService } from '../search/index.ts';
import { canSee, classificationRank, currentViewer, readJson, requirePermission, type Auth } from '../security/index.ts';

const optionalText = (max: number) => z.union([z.string().trim().max(max), z.null()]).optional();

/** The catalogue fields an archivist may correct; anything else in the body is refused. */
const patchBody = z
  .object({
    archivalCode: optionalText(64),
    title: optionalText(500),
    docNumber: optionalText(100),
    responsible: optionalText(200),
    date: optionalText(10),
    classification: z.enum(CLASSIFICATIONS).optional(),
    posts: z.array(z.string().trim().min(1).max(32)).min(1).max(50).optional(),
  })
  .strict();

const notFound = () => new ApplianceError('ITEM_NOT_FOUND', '条目不存在或您无权查阅。', 'no such item (or not visible)', { status: 404 });

/**
 * PATCH /api/items/:id — metadata correction by an archivist. The item must be visible to the
 * editor, the result must stay within the editor's clearance and the appliance's ceiling, and post
 * codes must exist: an edit can never hide an item from everyone or smuggle it above the ceiling.
 * The search index is rewritten from the stored item, and the change is on the audit trail.
 */
export function itemEditRoutes(router: Router, deps: { auth: Auth; search: SearchService; store: ItemStore; ceiling: Classification }): void {
  // 待著录: items that came without catalogue data (their 题名 is only a file name), those the
  // archivist may see, newest first. Listing catalogue data is a read: audited with the count.
  router.get('/api/catalogue/pending', requirePermission('item:edit'), async (ctx) => {
    const viewer = currentViewer(ctx);
    const items: Array<{ itemId: string; title?: string; archivalCode?: string; pageCount: number; createdAt: string }> = [];
    for await (const m of deps.store.listItems()) {
      if (m.cataloguePending && canSee(viewer, m)) items.push({ itemId: m.itemId, title: m.title, archivalCode: m.archivalCode, pageCount: m.pageCount, createdAt: m.createdAt });
    }
    items.reverse();
    await deps.auth.record(ctx, { action: 'item.list', target: 'catalogue-pending', outcome: 'success', details: { count: items.length } });
    ctx.body = { items };
  });

  // The editor's view: every editable field (posts included) and each page's OCR confidence, so
  // pages that need a human look can be flagged.
  router.get('/api/items/:id/catalogue', requirePermission('item:edit'), async (ctx) => {
    const id = String(ctx.params.id ?? '');
    const meta = await deps.store.getItem(id).catch(() => undefined);
    if (!meta || !canSee(currentViewer(ctx), meta)) {
      await deps.auth.record(ctx, { action: 'item.view', target: id.slice(0, 80), outcome: 'denied', details: { path: ctx.path } });
      throw notFound();
    }
    const pages = (await deps.store.readText(id)).map((p) => ({ page: p.page, confidence: Math.round(p.confidence * 10) / 10, source: p.source, chars: p.text.length }));
    await deps.auth.record(ctx, { action: 'item.view', target: id, outcome: 'success', details: { for: 'edit' } });
    const { itemId, archivalCode, fonds, year, retention, department, itemNo, title, docNumber, responsible, date, classification, posts, pageCount, createdAt, updatedAt, cataloguePending } = meta;
    ctx.body = { itemId, archivalCode, fonds, year, retention, department, itemNo, title, docNumber, responsible, date, classification, posts, pageCount, createdAt, updatedAt, cataloguePending: cataloguePending ?? false, pages };
  });

  router.patch('/api/items/:id', requirePermission('item:edit'), async (ctx) => {
    const id = String(ctx.params.id ?? '');
    const viewer = currentViewer(ctx);
    const before = await deps.store.getItem(id).catch(() => undefined);
    if (!before || !canSee(viewer, before)) {
      await deps.auth.record(ctx, { action: 'item.edit', target: id.slice(0, 80), outcome: 'denied', details: {} });
      throw notFound();
    }
    const body = await readJson(ctx, patchBody);
    const fail = async (e: ApplianceError): Promise<never> => {
      await deps.auth.record(ctx, { action: 'item.edit', target: id, outcome: 'failure', details: { error: e.code } });
      throw e;
    };
    const patch: ItemMetadataPatch = {};
    for (const [k, v] of Object.entries(body)) {
      if (v === undefined) continue;
      // An empty text field in the form means "clear it".
      (patch as Record<string, unknown>)[k] = v === '' ? null : v;
    }
    if (patch.classification) {
      const rank = classificationRank(patch.classification);
      if (rank > classificationRank(deps.ceiling)) await fail(new ApplianceError('CLASSIFICATION_ABOVE_CEILING', `密级“${patch.classification}”高于本机允许的最高密级“${deps.ceiling}”，不能修改为该密级。`, 'classification above ceiling', { status: 400 }));
      if (rank > classificationRank(viewer.clearance)) await fail(new ApplianceError('CLASSIFICATION_ABOVE_CLEARANCE', `密级“${patch.classification}”高于您的密级“${viewer.clearance}”。`, 'classification above editor clearance', { status: 400 }));
    }
    if (patch.posts) {
      const known = new Set((await deps.auth.identity.posts()).map((p) => p.code));
      const unknown = patch.posts.filter((p) => !known.has(p));
      if (unknown.length) await fail(new ApplianceError('POST_UNKNOWN', `岗位不存在：${unknown.join('、')}。请先由安全保密管理员建立岗位。`, 'unknown posts', { status: 400 }));
    }
    let after;
    try {
      after = await deps.store.updateMetadata(id, patch);
    } catch (e) {
      if (e instanceof ApplianceError) await fail(e);
      throw e;
    }
    // The store is the truth; if indexing fails the item is still saved and `archive reindex` repairs it.
    let indexed = true;
    try {
      await deps.search.indexItem(after, await deps.store.readText(id));
    } catch {
      indexed = false;
    }
    const changed = Object.keys(patch).filter((k) => JSON.stringify((before as unknown as Record<string, unknown>)[k]) !== JSON.stringify((after as unknown as Record<string, unknown>)[k]));
    await deps.auth.record(ctx, { action: 'item.edit', target: id, outcome: 'success', details: { changed, indexed } });
    if (!indexed) {
      throw new ApplianceError('INDEX_STALE', '元数据已保存，但检索索引更新失败；请稍后重试或由系统管理员运行 archive reindex。', 'saved but not re-indexed', { status: 503 });
    }
    const { itemId, archivalCode, fonds, year, retention, department, itemNo, title, docNumber, responsible, date, classification, posts, pageCount, updatedAt } = after;
    ctx.body = { itemId, archivalCode, fonds, year, retention, department, itemNo, title, docNumber, responsible, date, classification, posts, pageCount, updatedAt };
  });
}
