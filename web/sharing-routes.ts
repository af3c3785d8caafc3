import type Router from '@koa/router';
import { z } from 'zod';
import { ApplianceError, canSee, SHARING_SCOPES, SHARING_SCOPE_LABELS, type ItemMetadata } from '../core/index.ts';
import { NOT_SHARED_ZH, sharingPolicyBody, type SharedIndex } from '../federation/index.ts';
import type { ItemStore } from '../ingest/index.ts';
import { assertMayFile } from '../security/index.ts';
import { currentUser, currentViewer, requirePermission } from './authorize.ts';
import { readJson } from './http-body.ts';
import type { Auth } from './auth.ts';

const bulkBody = z
  .object({
    itemIds: z.array(z.string().min(1).max(80)).min(1).max(500),
    sharing: z.enum(SHARING_SCOPES),
  })
  .strict();

const notFound = () => new ApplianceError('ITEM_NOT_FOUND', '条目不存在或您无权查阅。', 'no such item (or not visible)', { status: 404 });

/**
 * 共享范围 and the sharing policy (联合检索, federation/): the secadmin's policy (read by archivists
 * too, so the form can say what will not leave), an item's sharing status for its page, and the
 * archivist's bulk change of scope. Every change is audited; a narrowing is confirmed by the
 * shared index before it is stored (SharedIndex.beforeWrite).
 */
export function sharingRoutes(router: Router, deps: { auth: Auth; store: ItemStore; sharing: SharedIndex }): void {
  router.get('/api/sharing/policy', requirePermission('sharing:policy'), async (ctx) => {
    ctx.body = { policy: await deps.sharing.policy(), office: deps.sharing.office ?? null, shared: await deps.sharing.count().catch(() => null), reconciled: deps.sharing.last ?? null };
  });

  router.put('/api/sharing/policy', requirePermission('sharing:policy'), async (ctx) => {
    const body = await readJson(ctx, sharingPolicyBody);
    const by = currentUser(ctx).user.username;
    const known = new Set((await deps.auth.identity.posts()).map((p) => p.code));
    const unknown = (body.posts ?? []).filter((p) => !known.has(p));
    if (unknown.length) {
      await deps.auth.record(ctx, { action: 'sharing.policy', target: 'policy', outcome: 'failure', details: { error: 'POST_UNKNOWN', posts: unknown } });
      throw new ApplianceError('POST_UNKNOWN', `岗位不存在：${unknown.join('、')}。`, 'unknown posts', { status: 400 });
    }
    try {
      const r = await deps.sharing.setPolicy(body, by);
      await deps.auth.record(ctx, {
        action: 'sharing.policy',
        target: 'policy',
        outcome: 'success',
        details: { classifications: r.policy.classifications, posts: r.policy.posts, withdrawn: r.withdrawn },
      });
      ctx.body = r;
    } catch (e) {
      await deps.auth.record(ctx, { action: 'sharing.policy', target: 'policy', outcome: 'failure', details: { error: (e as ApplianceError).code ?? 'INTERNAL' } });
      throw e;
    }
  });

  // The item page: how far it is shared and, if not, why (本单位, 超出共享策略).
  router.get('/api/items/:id/sharing', requirePermission('item:read'), async (ctx) => {
    const id = String(ctx.params.id ?? '');
    const meta = await deps.store.getItem(id).catch(() => undefined);
    if (!meta || !canSee(currentViewer(ctx), meta)) {
      await deps.auth.record(ctx, { action: 'item.view', target: id.slice(0, 80), outcome: 'denied', details: { path: ctx.path } });
      throw notFound();
    }
    const s = await deps.sharing.status(meta);
    await deps.auth.record(ctx, { action: 'item.view', target: id, outcome: 'success', details: { for: 'sharing' } });
    ctx.body = {
      ...s,
      label: SHARING_SCOPE_LABELS[s.scope],
      effectiveLabel: SHARING_SCOPE_LABELS[s.effective],
      reasonText: s.reason ? NOT_SHARED_ZH[s.reason] : null,
      office: deps.sharing.office ?? null,
    };
  });

  // 批量设置共享范围: all or nothing — every item must be visible to the archivist and in their filing posts.
  router.post('/api/items/sharing', requirePermission('item:edit'), async (ctx) => {
    const body = await readJson(ctx, bulkBody);
    const viewer = currentViewer(ctx);
    const me = currentUser(ctx).user;
    const ids = [...new Set(body.itemIds)];
    const items: ItemMetadata[] = [];
    for (const id of ids) {
      const m = await deps.store.getItem(id).catch(() => undefined);
      if (!m || !canSee(viewer, m)) {
        await deps.auth.record(ctx, { action: 'item.sharing', target: id.slice(0, 80), outcome: 'denied', details: { bulk: ids.length } });
        throw notFound();
      }
      items.push(m);
    }
    try {
      assertMayFile(
        { username: me.username, posts: me.posts, filingPosts: me.filingPosts, clearance: me.clearance },
        items.map((m) => ({ label: m.archivalCode ?? m.title ?? m.itemId, posts: m.posts, classification: m.classification })),
      );
    } catch (e) {
      await deps.auth.record(ctx, { action: 'item.sharing', target: `${ids.length} items`, outcome: 'denied', details: { error: (e as ApplianceError).code, sharing: body.sharing } });
      throw e;
    }
    const done: string[] = [];
    try {
      for (const m of items) {
        await deps.sharing.exclusive(
          () =>
            deps.store.updateMetadata(
              m.itemId,
              { sharing: body.sharing === 'office' ? null : body.sharing },
              { beforeWrite: async (next, current) => void (await deps.sharing.beforeWrite(current, next)) },
            ),
          { bounded: true },
        );
        done.push(m.itemId);
        await deps.sharing.syncItemSoon(m.itemId);
      }
    } catch (e) {
      await deps.auth.record(ctx, {
        action: 'item.sharing',
        target: `${ids.length} items`,
        outcome: 'failure',
        details: { error: (e as ApplianceError).code ?? 'INTERNAL', sharing: body.sharing, done },
      });
      if (e instanceof ApplianceError && done.length) {
        throw new ApplianceError(e.code, `${e.zh}（已完成 ${done.length} 件，其余未改）`, e.message, { status: e.status, details: { done } });
      }
      throw e;
    }
    await deps.auth.record(ctx, { action: 'item.sharing', target: `${ids.length} items`, outcome: 'success', details: { sharing: body.sharing, items: done } });
    // Without an office code nothing leaves the appliance: the page says so beside the success.
    ctx.body = { sharing: body.sharing, items: done, office: deps.sharing.office ?? null };
  });
}
