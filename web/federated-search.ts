import type Koa from 'koa';
import { isApplianceError, type Viewer } from '../core/index.ts';
import { notFederated, type FederationTarget, type SearchParams, type SearchService } from '../search/index.ts';
import type { Auth } from './auth.ts';

/** Who a federated search asks: this office and its joined peers (federation/'s FederationService has this shape). */
export interface FederationView {
  office(): { code: string; name: string };
  /** Meilisearch remote names (= office codes) of the joined peers. */
  activeRemotes(): string[];
  peerStates(): Array<{ code: string; name: string }>;
}

/**
 * GET /api/search?…&federated=1 — 联合检索. Audited at the asking end: user, query, the offices
 * asked and those that did not answer (the answering ends audit the asking office themselves).
 */
export async function federatedSearch(
  ctx: Koa.Context,
  deps: { auth: Auth; search: SearchService; federation?: FederationView },
  viewer: Viewer,
  params: SearchParams,
  details: Record<string, unknown>,
): Promise<void> {
  const self = deps.federation?.office();
  if (!self) {
    await deps.auth.record(ctx, { action: 'item.search', target: 'federated', outcome: 'failure', details: { ...details, federated: true, error: 'FEDERATION_OFF' } });
    throw notFederated();
  }
  const names = new Map(deps.federation!.peerStates().map((p) => [p.code, p.name]));
  const target: FederationTarget = { self, remotes: deps.federation!.activeRemotes().map((code) => ({ code, name: names.get(code) ?? code })) };
  const asked = [self.code, ...target.remotes.map((r) => r.code)];
  let result;
  try {
    result = await deps.search.searchFederated(viewer, params, target);
  } catch (e) {
    await deps.auth.record(ctx, {
      action: 'item.search',
      target: 'federated',
      outcome: 'failure',
      details: { ...details, federated: true, offices: asked, error: isApplianceError(e) ? e.code : 'INTERNAL' },
    });
    throw e;
  }
  await deps.auth.record(ctx, {
    action: 'item.search',
    target: 'federated',
    outcome: 'success',
    details: { ...details, federated: true, offices: asked, failed: result.failed.map((f) => f.code), total: result.total },
  });
  ctx.body = {
    ...result,
    federated: true,
    unanswered: result.failed.length ? `${result.failed.length} 个单位未响应：${result.failed.map((f) => f.name).join('、')}` : null,
  };
}
