import type Router from '@koa/router';
import { canSee } from '../core/index.ts';
import type { ItemStore } from '../ingest/index.ts';
import { currentViewer, requirePermission } from './authorize.ts';
import { type Auth } from './auth.ts';

/**
 * 识别待核对: items with pages whose OCR the recogniser was unsure of (item.json `reviewPages`,
 * from the weak-line flags in text.json), for the archivist to check against the scan. Only items
 * the archivist may see are listed or counted; the listing is a read of catalogue data, audited
 * with its count like 待著录.
 */
export function reviewRoutes(router: Router, deps: { auth: Auth; store: ItemStore }): void {
  router.get('/api/catalogue/review', requirePermission('item:edit'), async (ctx) => {
    const viewer = currentViewer(ctx);
    const items: Array<{ itemId: string; title?: string; archivalCode?: string; pageCount: number; reviewPages: number[]; createdAt: string }> = [];
    for await (const m of deps.store.listItems()) {
      if (m.reviewPages?.length && canSee(viewer, m))
        items.push({ itemId: m.itemId, title: m.title, archivalCode: m.archivalCode, pageCount: m.pageCount, reviewPages: m.reviewPages, createdAt: m.createdAt });
    }
    items.reverse();
    const pages = items.reduce((n, i) => n + i.reviewPages.length, 0);
    await deps.auth.record(ctx, { action: 'item.list', target: 'catalogue-review', outcome: 'success', details: { count: items.length, pages } });
    ctx.body = { items, pages };
  });
}
