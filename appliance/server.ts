import type { Server } from 'node:http';
import type { Config } from './config.ts';
import { parseHostPort } from './config.ts';
import { ensureDataDir } from './data-dir.ts';
import { diskHealth } from './disk.ts';
import { ApplianceError } from './errors.ts';
import { healthReport } from './health.ts';
import type { Logger } from './log.ts';
import { MeiliSupervisor } from './meilisearch.ts';
import { acquireRunLock } from './run-lock.ts';
import { createIngestService, ocrDataStatus } from '../ingest/index.ts';
import { createSearchService } from '../search/index.ts';
import { dataPath } from './data-dir.ts';
import { clamdHealth, createAuth, openSecurity, scheduleIntegrityCheck, setupTokenNotice } from '../security/index.ts';
import { createWebApp } from '../web/index.ts';
import { selfcheckHealth, startSelfcheckSchedule, type SelfcheckSchedule } from './selfcheck-run.ts';

export interface RunningAppliance {
  meili: MeiliSupervisor;
  http: Server;
  /** The address the web server actually listens on (port 0 resolved). */
  httpAddr: string;
  stop(): Promise<void>;
}

/** Start everything the appliance owns, in order; stop what started if a later step fails. */
export async function startAppliance(cfg: Config, log: Logger): Promise<RunningAppliance> {
  await ensureDataDir(cfg.dataDir);
  const lock = await acquireRunLock(cfg.dataDir, cfg.httpAddr);
  const meili = new MeiliSupervisor(cfg, log);
  const cleanups: Array<() => Promise<void>> = [() => lock.release()];
  try {
    await meili.start();
    cleanups.unshift(() => meili.stop());
    const sec = await openSecurity(cfg);
    // Sessions and login locks live in data/run (0600, atomic writes): a restart keeps both.
    const auth = await createAuth({ configDir: sec.configDir, identity: sec.identity, audit: sec.audit, log, stateDir: dataPath(cfg.dataDir, 'run'), ceiling: cfg.classificationCeiling });
    cleanups.unshift(() => auth.close());
    // No default password: the first administrators are created with this token (POST /api/auth/setup).
    // It is printed once the appliance answers (below), to the console only.
    const setupToken = await auth.issueSetupToken();
    const search = createSearchService(meili.connection, cfg.dataDir);
    await search.init();
    const ingest = await createIngestService(cfg, { log, audit: sec.audit, search, knownPosts: async () => new Set((await sec.identity.posts()).filter((p) => !p.disabled).map((p) => p.code)) });
    ingest.start({ inboxSettleMs: cfg.inboxSettleMs });
    cleanups.unshift(() => ingest.stop());
    cleanups.unshift(scheduleIntegrityCheck(cfg, { log, search, store: ingest.store }));
    let selfcheck: SelfcheckSchedule | undefined;
    const stopHooks: Array<() => Promise<void>> = [];
    const app = createWebApp({
      onStop: (hook) => stopHooks.push(hook),
      log,
      auth,
      search,
      ingest,
      uploadDir: dataPath(cfg.dataDir, 'run', 'uploads'),
      classificationCeiling: cfg.classificationCeiling,
      config: cfg,
      health: () =>
        healthReport({
          meilisearch: () => meili.health(),
          clamd: () => clamdHealth(cfg.clamd, { maxAgeDays: cfg.signatureMaxAgeDays }),
          disk: () => diskHealth(cfg.dataDir),
          ocrData: () => ocrDataStatus(cfg.ocr.lang),
          selfcheck: () => selfcheck?.health() ?? selfcheckHealth(undefined),
        }),
    });
    const { host, port } = parseHostPort(cfg.httpAddr);
    const http = await new Promise<Server>((resolve, reject) => {
      const srv = app.listen(port, host);
      srv.once('listening', () => resolve(srv));
      srv.once('error', (e: NodeJS.ErrnoException) =>
        reject(new ApplianceError('HTTP_LISTEN_FAILED', `无法在 ${cfg.httpAddr} 上监听：${e.code === 'EADDRINUSE' ? '端口已被占用' : e.message}`, `cannot listen on ${cfg.httpAddr}: ${e.message}`, { cause: e })),
      );
    });
    const addr = http.address();
    const httpAddr = typeof addr === 'object' && addr ? `${host}:${addr.port}` : cfg.httpAddr;
    cleanups.unshift(() => new Promise<void>((r) => { http.close(() => r()); http.closeAllConnections(); }));
    // First of all on stop: tasks started from the web finish cleanly (a backup removes its partial file).
    cleanups.unshift(async () => {
      for (const h of stopHooks) await h();
    });
    await lock.update({ httpAddr });
    selfcheck = startSelfcheckSchedule(cfg, { audit: sec.audit, log, httpAddr });
    cleanups.unshift(() => selfcheck!.stop());
    log.info({ httpAddr, meiliPort: meili.port, dataDir: cfg.dataDir }, 'appliance ready');
    if (setupToken) {
      // Never into a log or the journal: on a terminal it is shown there; otherwise (a service, a
      // pipe) it goes to a 0600 file in the data dir and the log says only where.
      if (process.stderr.isTTY) {
        log.warn({ vacantRoles: await sec.identity.vacantAdminRoles() }, 'first start: setup token printed on the console');
        process.stderr.write(setupTokenNotice(setupToken, `http://${httpAddr}/`));
      } else {
        const file = await auth.writeSetupTokenFile(setupToken, `http://${httpAddr}/`);
        log.warn({ vacantRoles: await sec.identity.vacantAdminRoles(), file }, `first start: the one-time setup token is in ${file} (mode 0600); 初始设置令牌已写入该文件`);
      }
    }
    let stopped = false;
    return {
      meili,
      http,
      httpAddr,
      async stop() {
        if (stopped) return;
        stopped = true;
        for (const c of cleanups) await c().catch((e) => log.error({ err: (e as Error).message }, 'error during shutdown'));
        log.info('appliance stopped');
      },
    };
  } catch (e) {
    for (const c of cleanups) await c().catch(() => undefined);
    throw e;
  }
}
