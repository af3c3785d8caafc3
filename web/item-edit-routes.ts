import type Router from '@koa/router';
import { z } from 'zod';
import { CLASSIFICATIONS, type Classification, ApplianceError, canSee, classificationRank, type ItemMetadata, SHARING_SCOPES } from '../core/index.ts';
import type { SharedIndex } from '../federation/index.ts';
import type { ItemMetadataPatch, ItemStore } from '../ingest/index.ts';
import type { SearchService } from '../search/index.ts';
import { assertMayFile } from '../security/index.ts';
import { currentUser, currentViewer, requirePermission } from './authorize.ts';
import { readJson } from './http-body.ts';
import { type Auth } from './auth.ts';

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
    sharing: z.enum(SHARING_SCOPES).optional(),
  })
  .strict();

/** How long a narrowing edit waits for Meilisearch's confirmation before it is refused. */
export const NARROWING_DEADLINE_MS = 20_000;

/** Does the change take the item away from anyone who could see it (a post removed, 密级 raised)? */
export function isNarrowing(before: Pick<ItemMetadata, 'posts' | 'classification'>, after: Pick<ItemMetadata, 'posts' | 'classification'>): boolean {
  return classificationRank(after.classification) > classificationRank(before.classification) || before.posts.some((p) => !after.posts.includes(p));
}

const notFound = () => new ApplianceError('ITEM_NOT_FOUND', '条目不存在或您无权查阅。', 'no such item (or not visible)', { status: 404 });

/**
 * PATCH /api/items/:id — metadata correction by an archivist. The item must be visible to the
 * editor, the result must stay within the editor's clearance and the appliance's ceiling, and post
 * codes must exist: an edit can never hide an item from everyone or smuggle it above the ceiling.
 * The search index is rewritten from the stored item, and the change is on the audit trail.
 */
export function itemEditRoutes(router: Router, deps: { auth: Auth; search: SearchService; store: ItemStore; ceiling: Classification; narrowingDeadlineMs?: number; sharing?: SharedIndex }): void {
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
    const pages = (await deps.store.readText(id)).map((p) => ({
      page: p.page,
      confidence: Math.round(p.confidence * 10) / 10,
      source: p.source,
      chars: p.text.length,
      review: p.review ?? false,
      weakLines: p.weakLines?.length ?? 0,
    }));
    await deps.auth.record(ctx, { action: 'item.view', target: id, outcome: 'success', details: { for: 'edit' } });
    ctx.body = { ...editableView(meta), createdAt: meta.createdAt, cataloguePending: meta.cataloguePending ?? false, pages };
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
    // No existence oracle: the other item is named only to an editor who may see it; the refusal
    // is recorded with it, so an auditor sees someone probing 档号.
    const codeTaken = async (e: ApplianceError): Promise<never> => {
      const code = String(e.details?.archivalCode ?? patch.archivalCode ?? '');
      const holderId = String(e.details?.itemId ?? '');
      const holder = holderId ? await deps.store.getItem(holderId).catch(() => undefined) : undefined;
      const visible = holder && canSee(viewer, holder);
      await deps.auth.record(ctx, {
        action: 'item.edit',
        target: id,
        outcome: 'denied',
        details: { error: e.code, archivalCode: code, existing: holderId || undefined, existingVisible: Boolean(visible) },
      });
      const named = visible ? `（条目 ${holder.itemId}${holder.title ? `《${holder.title}》` : ''}）` : '';
      throw new ApplianceError('ARCHIVAL_CODE_TAKEN', `档号 ${code} 已被占用${named}，档号必须唯一。`, 'archival code taken', {
        status: 409,
        details: visible ? { archivalCode: code, itemId: holder.itemId } : { archivalCode: code },
      });
    };
    const patch: ItemMetadataPatch = {};
    for (const [k, v] of Object.entries(body)) {
      if (v === undefined) continue;
      // An empty text field in the form means "clear it".
      (patch as Record<string, unknown>)[k] = v === '' ? null : v;
    }
    if (patch.classification) {
      const rank = classificationRank(patch.classification);
      if (rank > classificationRank(deps.ceiling))
        await fail(
          new ApplianceError('CLASSIFICATION_ABOVE_CEILING', `密级“${patch.classification}”高于本机允许的最高密级“${deps.ceiling}”，不能修改为该密级。`, 'classification above ceiling', {
            status: 400,
          }),
        );
      if (rank > classificationRank(viewer.clearance))
        await fail(new ApplianceError('CLASSIFICATION_ABOVE_CLEARANCE', `密级“${patch.classification}”高于您的密级“${viewer.clearance}”。`, 'classification above editor clearance', { status: 400 }));
    }
    if (patch.posts) {
      const registry = await deps.auth.identity.posts();
      const known = new Set(registry.map((p) => p.code));
      const unknown = patch.posts.filter((p) => !known.has(p));
      if (unknown.length) await fail(new ApplianceError('POST_UNKNOWN', `岗位不存在：${unknown.join('、')}。请先由安全保密管理员建立岗位。`, 'unknown posts', { status: 400 }));
      const disabled = patch.posts.filter((p) => !before.posts.includes(p) && registry.some((x) => x.code === p && x.disabled));
      if (disabled.length) await fail(new ApplianceError('POST_DISABLED', `岗位已停用，不能再归入新的条目：${disabled.join('、')}。`, 'disabled posts', { status: 400 }));
      // Filing rights: every post added or taken away must be one the archivist may file into.
      const me = currentUser(ctx).user;
      const moved = [...patch.posts.filter((p) => !before.posts.includes(p)), ...before.posts.filter((p) => !patch.posts!.includes(p))];
      try {
        assertMayFile({ username: me.username, posts: me.posts, filingPosts: me.filingPosts, clearance: me.clearance }, [
          { label: before.archivalCode ?? before.title ?? id, posts: moved, classification: patch.classification ?? before.classification },
        ]);
      } catch (e) {
        await deps.auth.record(ctx, { action: 'item.edit', target: id, outcome: 'denied', details: { error: (e as ApplianceError).code, posts: moved } });
        throw e;
      }
    }
    // 共享范围: only an archivist who may file into every post of the item decides whether it leaves the office.
    if (patch.sharing && patch.sharing !== (before.sharing ?? 'office')) {
      const me = currentUser(ctx).user;
      try {
        assertMayFile({ username: me.username, posts: me.posts, filingPosts: me.filingPosts, clearance: me.clearance }, [
          { label: before.archivalCode ?? before.title ?? id, posts: patch.posts ?? before.posts, classification: patch.classification ?? before.classification },
        ]);
      } catch (e) {
        await deps.auth.record(ctx, { action: 'item.edit', target: id, outcome: 'denied', details: { error: (e as ApplianceError).code, sharing: patch.sharing } });
        throw e;
      }
      if (patch.sharing === 'office') patch.sharing = null;
    }
    let after;
    // Narrowing (a post taken away, 密级 raised) is fail-closed: the index drops the old audience
    // first, confirmed by Meilisearch, and only then is the store written — so the item never shows
    // in their search once the edit is reported done. If Meilisearch cannot confirm in time the edit
    // is refused and the store is left as it was. Widening may lag (the store first, as before).
    let narrowed = false;
    try {
      const write = () =>
        deps.store.updateMetadata(id, patch, {
          beforeWrite: async (next, current) => {
            // Leaving the federation first (scope narrowed, or the change puts it beyond the sharing policy).
            if (deps.sharing) await deps.sharing.beforeWrite(current, next);
            if (!isNarrowing(current, next)) return;
            narrowed = true;
            const pages = await deps.store.readText(id);
            try {
              await deps.search.indexItem(next, pages, { deadlineMs: deps.narrowingDeadlineMs ?? NARROWING_DEADLINE_MS });
            } catch (e) {
              // The update may still land in Meilisearch later (it was sent): put the stored state
              // back behind it, in enqueue order. If that fails too, the index stays narrower than
              // the store — hidden from some who may see it, never shown to one who may not — until
              // `archive reindex`.
              void deps.search.indexItem(current, pages).catch(() => undefined);
              throw new ApplianceError(
                'EDIT_NOT_INDEXED',
                '检索服务暂时无法更新，为防止条目在收窄范围后仍被原有人员检索到，本次修改未保存。请稍后重试。',
                `narrowing edit refused: index not confirmed (${(e as Error).message})`,
                { status: 503, cause: e },
              );
            }
          },
        });
      after = deps.sharing ? await deps.sharing.exclusive(write, { bounded: true }) : await write();
    } catch (e) {
      if (e instanceof ApplianceError && e.code === 'ARCHIVAL_CODE_TAKEN') await codeTaken(e);
      if (e instanceof ApplianceError) await fail(e);
      throw e;
    }
    // Widening or neutral: the store is the truth; if indexing fails the item is still saved and
    // `archive reindex` repairs it.
    let indexed = true;
    if (!narrowed) {
      try {
        await deps.search.indexItem(after, await deps.store.readText(id));
      } catch {
        indexed = false;
      }
    }
    // Widening of 共享范围 follows the store; the reconcile repairs a failure within a minute.
    if (deps.sharing) await deps.sharing.syncItemSoon(id);
    const changed = Object.keys(patch).filter((k) => JSON.stringify((before as unknown as Record<string, unknown>)[k]) !== JSON.stringify((after as unknown as Record<string, unknown>)[k]));
    await deps.auth.record(ctx, { action: 'item.edit', target: id, outcome: 'success', details: { changed, indexed } });
    if (!indexed) {
      throw new ApplianceError('INDEX_STALE', '元数据已保存，但检索索引更新失败；请稍后重试或由系统管理员运行 archive reindex。', 'saved but not re-indexed', { status: 503 });
    }
    ctx.body = editableView(after);
  });
}

/** What the editor is shown of an item, before and after a change: the catalogue fields, posts and 共享范围 (never the files). */
function editableView(meta: ItemMetadata) {
  const { itemId, archivalCode, fonds, year, retention, department, itemNo, title, docNumber, responsible, date, classification, posts, pageCount, updatedAt } = meta;
  return { itemId, archivalCode, fonds, year, retention, department, itemNo, title, docNumber, responsible, date, classification, posts, pageCount, updatedAt, sharing: meta.sharing ?? 'office' };
}
