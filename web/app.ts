import Koa from 'koa';
import Router from '@koa/router';
import { randomUUID } from 'node:crypto';
import { isApplianceError, type HealthReport, type Logger, type Classification, type Config } from '../core/index.ts';
import type { IngestService } from '../ingest/index.ts';
import type { SearchService } from '../search/index.ts';
import type { Auth } from './auth.ts';
import { ingestRoutes } from './ingest-routes.ts';
import { itemRoutes } from './item-routes.ts';
import { itemEditRoutes } from './item-edit-routes.ts';
import { reviewRoutes } from './review-routes.ts';
import { staticRoutes } from './static-routes.ts';
import { adminOpsRoutes } from './admin-ops-routes.ts';
import { backupRoutes } from './backup-routes.ts';
import { backupRecipientRoutes } from './backup-recipient-routes.ts';
import { reportRoutes } from './report-routes.ts';
import { departmentNamesCache } from '../security/index.ts';
import { healthRoutes } from './health-routes.ts';
import { auditSealRoutes } from './audit-seal-routes.ts';
import { tlsRoutes } from './tls-routes.ts';
import type { SharedIndex } from '../federation/index.ts';
import { sharingRoutes } from './sharing-routes.ts';
import type { FederationView } from './federated-search.ts';
import type { FederationService } from '../federation/index.ts';
import { federationRoutes } from './federation-routes.ts';

export interface WebDeps {
  log: Logger;
  health: () => Promise<HealthReport>;
  /** The console's secret for the full health report (appliance/console-token.ts); without it, ok/degraded/down only. */
  consoleToken?: string;
  /** Sessions, the deny-by-default route guard, /api/auth/* and /api/admin/* (security/). */
  auth: Auth;
  /** Search and items (absent in tests that exercise only the auth layer). */
  search?: SearchService;
  ingest?: IngestService;
  /** Where uploads are received before they become a job. */
  uploadDir?: string;
  /** Highest classification an edit may set (the appliance's ceiling); 内部 when not given. */
  classificationCeiling?: Classification;
  /** The appliance's configuration: enables backups, integrity and signature pages (web/admin-ops-routes.ts). */
  config?: Config;
  /** Test seams: how long a narrowing edit waits for Meilisearch, how often a job stream checks its session. */
  narrowingDeadlineMs?: number;
  sessionCheckMs?: number;
  /** Registers work to finish when the appliance stops, before its parts go (a running backup ends cleanly). */
  onStop?: (hook: () => Promise<void>) => void;
  /** The appliance CA's certificate (PEM) for GET /ca.crt, when its own CA issued the HTTPS certificate. */
  caCert?: () => Promise<string | undefined>;
  /** 联合检索: the shared index (what this office shares) and who a federated search asks. */
  sharing?: SharedIndex;
  federation?: FederationView;
  /** 联合检索's transport (peers and their state, removal) for the 系统管理员's page. */
  federationPeers?: FederationService;
}

/** Headers every answer carries: no framing, no sniffing, no inline script, nothing from outside. */
async function securityHeaders(ctx: Koa.Context, next: Koa.Next): Promise<void> {
  ctx.set(
    'Content-Security-Policy',
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  );
  ctx.set('X-Frame-Options', 'DENY');
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.set('Cross-Origin-Opener-Policy', 'same-origin');
  ctx.set('Cross-Origin-Resource-Policy', 'same-origin');
  ctx.set('Cache-Control', 'no-store');
  // Under TLS, browsers are told to come back only over HTTPS (a year; the appliance never speaks
  // plain HTTP outside loopback).
  if (ctx.secure) ctx.set('Strict-Transport-Security', 'max-age=31536000');
  await next();
}

export function createWebApp(deps: WebDeps): Koa {
  const app = new Koa();
  app.proxy = false;
  // Koa's default error listener prints multi-line stack traces to stderr; the log is JSON lines
  // only. A client that leaves during a streamed answer (the job events, a download) is no error.
  app.on('error', (err: NodeJS.ErrnoException, ctx?: Koa.Context) => {
    const gone = err.code === 'ERR_STREAM_PREMATURE_CLOSE' || err.code === 'ECONNRESET' || err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED';
    if (gone) deps.log.debug({ path: ctx?.path, code: err.code }, 'client left during a streamed answer');
    else deps.log.error({ path: ctx?.path, err: err.message, code: err.code, stack: err.stack }, 'response stream failed');
  });
  const router = new Router();

  app.use(async (ctx, next) => {
    const started = Date.now();
    const requestId = randomUUID();
    // The access line is written (synchronously, to the journal) once the answer has gone out, not
    // on its way, which took measurable time off every response (with a pipe as stdout). 'close'
    // comes for every response: sent in full (final status; `ms` counts until the last byte was
    // handed to the socket) or cut off by the client (marked aborted).
    const ip = ctx.ip; // read now: a socket the client has closed no longer knows its peer
    ctx.res.once('close', () => {
      deps.log.info({ requestId, method: ctx.method, path: ctx.path, status: ctx.status, ms: Date.now() - started, ip, ...(ctx.res.writableFinished ? {} : { aborted: true }) }, 'http');
    });
    try {
      await next();
    } catch (err) {
      // A person gets the stable code and a message they can act on; never a stack trace.
      if (isApplianceError(err)) {
        ctx.status = err.status;
        ctx.body = { error: err.toJSON() };
      } else {
        deps.log.error({ requestId, err: (err as Error).message, stack: (err as Error).stack }, 'request failed');
        ctx.status = 500;
        ctx.body = { error: { code: 'INTERNAL', message: `内部错误，请联系系统管理员（请求号 ${requestId}）。`, requestId } };
      }
    }
  });
  app.use(securityHeaders);

  healthRoutes(router, { auth: deps.auth, health: deps.health, consoleToken: deps.consoleToken });

  deps.auth.routes(router);
  auditSealRoutes(router, { auth: deps.auth });
  const cfg = deps.config;
  if (deps.search && deps.ingest)
    itemRoutes(router, { auth: deps.auth, search: deps.search, store: deps.ingest.store, departmentNames: cfg ? departmentNamesCache(cfg.dataDir) : undefined, federation: deps.federation });
  if (deps.search && deps.ingest)
    itemEditRoutes(router, {
      auth: deps.auth,
      search: deps.search,
      store: deps.ingest.store,
      ceiling: deps.classificationCeiling ?? '内部',
      narrowingDeadlineMs: deps.narrowingDeadlineMs,
      sharing: deps.sharing,
    });
  if (deps.sharing && deps.ingest) sharingRoutes(router, { auth: deps.auth, store: deps.ingest.store, sharing: deps.sharing });
  federationRoutes(router, { auth: deps.auth, federation: deps.federationPeers });
  if (deps.ingest) reviewRoutes(router, { auth: deps.auth, store: deps.ingest.store });
  staticRoutes(router);
  if (deps.caCert) tlsRoutes(router, { caCert: deps.caCert });
  if (deps.config) {
    adminOpsRoutes(router, { auth: deps.auth, cfg: deps.config, store: deps.ingest?.store, search: deps.search });
    backupRoutes(router, { auth: deps.auth, cfg: deps.config, onStop: deps.onStop });
    backupRecipientRoutes(router, { cfg: deps.config });
    reportRoutes(router, { auth: deps.auth, cfg: deps.config, store: deps.ingest?.store });
  }
  if (deps.ingest && deps.uploadDir) ingestRoutes(router, { auth: deps.auth, ingest: deps.ingest, uploadDir: deps.uploadDir, sessionCheckMs: deps.sessionCheckMs });
  // Every route on `router` must declare publicRoute/requireSession/requirePermission, or the guard refuses it.
  app.use(deps.auth.guard(router));
  app.use(router.routes());
  app.use(router.allowedMethods());
  app.use(async (ctx) => {
    ctx.status = 404;
    ctx.body = { error: { code: 'NOT_FOUND', message: '未找到请求的内容。' } };
  });
  return app;
}
