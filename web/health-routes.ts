import type Router from '@koa/router';
import { timingSafeEqual } from 'node:crypto';
import { ApplianceError, type HealthReport } from '../core/index.ts';
import { type Permission } from '../security/index.ts';
import { currentUser, publicRoute, requireSession } from './authorize.ts';
import { type Auth } from './auth.ts';

/** Header the console (`archive status`) sends with the token the server wrote to run/console-token (0600). */
export const CONSOLE_TOKEN_HEADER = 'x-archive-console';

/** Who sees the components, their pids, ports, versions, disk bytes and self-check findings. */
const DETAIL_PERMISSIONS: readonly Permission[] = ['service:manage', 'integrity:check'];

/** What anyone may know: is it up. A 演示模式 appliance says so (its signatures are not real). */
export interface PublicHealth {
  status: HealthReport['status'];
  time: string;
  demo?: true;
}

export function publicHealth(r: HealthReport): PublicHealth {
  return { status: r.status, time: r.time, ...(r.demo ? { demo: true as const } : {}) };
}

function sameSecret(a: string, b: string | undefined): boolean {
  if (!a || !b) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * GET /api/health answers everyone with ok / degraded / down only: Meilisearch's pid and port,
 * ClamAV's version, disk bytes, install paths and the self-check's gateway addresses are a map
 * for an intruder. The details go to the console (the token only a reader of the data dir has)
 * and to the system and security administrators at GET /api/health/details.
 */
export function healthRoutes(router: Router, deps: { auth: Auth; health: () => Promise<HealthReport>; consoleToken?: string }): void {
  router.get('/api/health', publicRoute(), async (ctx) => {
    const report = await deps.health();
    ctx.status = report.status === 'down' ? 503 : 200;
    ctx.body = sameSecret(ctx.get(CONSOLE_TOKEN_HEADER), deps.consoleToken) ? report : publicHealth(report);
  });

  router.get('/api/health/details', requireSession(), async (ctx) => {
    const me = currentUser(ctx);
    if (!DETAIL_PERMISSIONS.some((p) => me.permissions.has(p))) {
      await deps.auth.record(ctx, { action: 'authz.denied', target: 'GET /api/health/details', outcome: 'denied', details: { permission: DETAIL_PERMISSIONS.join('|') } });
      throw new ApplianceError('FORBIDDEN', '服务状态详情仅供系统管理员和安全保密管理员查看。', 'health details are for sysadmin and secadmin', { status: 403 });
    }
    const report = await deps.health();
    ctx.status = report.status === 'down' ? 503 : 200;
    ctx.body = report;
  });
}
