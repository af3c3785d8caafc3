import type Router from '@koa/router';
import { ApplianceError } from '../core/index.ts';
import type { FederationService } from '../federation/index.ts';
import type { Auth } from './auth-types.ts';
import { requirePermission } from './authorize.ts';

/**
 * 系统管理员: the offices this appliance is joined with in 联合检索 and their state (reachable, last
 * answer, documents shared with this office), and removing one (its key is revoked at once).
 * Joining stays at the console: invitations travel on removable media, not through the browser.
 */
export function federationRoutes(router: Router, deps: { auth: Auth; federation?: FederationService }): void {
  router.get('/api/admin/federation', requirePermission('service:manage'), async (ctx) => {
    const f = deps.federation;
    await deps.auth.record(ctx, { action: 'federation.peers.view', target: '-', outcome: 'success', details: { peers: f?.activeRemotes().length ?? 0 } });
    ctx.body = f ? { enabled: true, office: f.office(), endpoint: f.endpointAddr, peers: f.peerStates() } : { enabled: false, peers: [] };
  });

  router.delete('/api/admin/federation/peers/:code', requirePermission('service:manage'), async (ctx) => {
    const code = String(ctx.params.code);
    try {
      if (!deps.federation) throw new ApplianceError('FEDERATION_NOT_CONFIGURED', '本机未启用联合检索。', 'federation is off', { status: 404 });
      await deps.federation.removePeer(code);
    } catch (e) {
      await deps.auth.record(ctx, { action: 'federation.remove', target: code, outcome: 'failure', details: { error: e instanceof ApplianceError ? e.code : 'INTERNAL' } });
      throw e;
    }
    await deps.auth.record(ctx, { action: 'federation.remove', target: code, outcome: 'success', details: { office: code } });
    ctx.body = { ok: true, removed: code };
  });
}
