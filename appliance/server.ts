import type { Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type Config, parseHostPort, ensureDataDir, diskHealth, ApplianceError, healthReport, type Logger, acquireRunLock, dataPath } from '../core/index.ts';
import { MeiliSupervisor } from './meili-supervisor.ts';
import { ClamdSupervisor } from './clamd-supervisor.ts';
import { issueConsoleToken } from './console-token.ts';
import { applianceCaPath, isLoopbackHost, loadOrIssueTls, type TlsMaterial } from './tls.ts';
import { readFile } from 'node:fs/promises';
import { createIngestService, ocrDataStatus, type IngestService } from '../ingest/index.ts';
import { createSearchService, SharedIndexWriter } from '../search/index.ts';
import { openSecurity, setupTokenNotice } from '../security/index.ts';
import { backupHealth, scheduleBackups, scheduleIntegrityCheck } from '../custody/index.ts';
import { createAuth, createWebApp } from '../web/index.ts';
import { SharedIndex, startFederation, type FederationService } from '../federation/index.ts';
import { selfcheckHealth, startSelfcheckSchedule, type SelfcheckSchedule } from './selfcheck-run.ts';

export interface RunningAppliance {
  meili: MeiliSupervisor;
  clamd: ClamdSupervisor;
  /** The ingest service (for `archive demo`, which feeds it the samples). */
  ingest: IngestService;
  http: Server;
  /** The address the web server actually listens on (port 0 resolved). */
  httpAddr: string;
  /** Where browsers reach it: https:// outside loopback, http:// on loopback. */
  url: string;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** 演示模式 (`archive demo`): test signatures only, shown in health, log and UI. */
  demo?: boolean;
}

/** Start everything the appliance owns, in order; stop what started if a later step fails. */
export async function startAppliance(cfg: Config, log: Logger, opts: StartOptions = {}): Promise<RunningAppliance> {
  await ensureDataDir(cfg.dataDir);
  const lock = await acquireRunLock(cfg.dataDir, cfg.httpAddr);
  const meili = new MeiliSupervisor(cfg, log);
  const cleanups: Array<() => Promise<void>> = [() => lock.release()];
  try {
    await meili.start();
    cleanups.unshift(() => meili.stop());
    // Without systemd nothing else starts clamd: the appliance runs its own (appliance/clamd-supervisor.ts).
    const clamd = new ClamdSupervisor(cfg, log, { demo: opts.demo });
    await clamd.start();
    cleanups.unshift(() => clamd.stop());
    // Everything below (ingest, health, self-check, integrity) scans through the clamd the
    // supervisor names, read at each use: it may change once (to a clamd that appears on the
    // configured address while the appliance's own waits for signatures).
    const configured = cfg;
    cfg = Object.defineProperty({ ...configured }, 'clamd', { get: () => clamd.address, enumerable: true });
    const sec = await openSecurity(cfg);
    // On the way out (after the web and ingest have stopped): head.json and a seal over the last records.
    cleanups.unshift(() => sec.audit.settle());
    if (!(await sec.audit.ensureReserve(cfg.disk.auditReserveMiB * 1024 ** 2))) log.warn({ mib: cfg.disk.auditReserveMiB }, 'no room for the audit reserve');
    const { host, port } = parseHostPort(cfg.httpAddr);
    // Outside loopback only HTTPS: the operator's certificate or the appliance CA's (tls.ts).
    const tls: TlsMaterial | undefined = isLoopbackHost(host) ? undefined : await loadOrIssueTls(cfg, host);
    const auth = await createAuth({
      configDir: sec.configDir,
      identity: sec.identity,
      audit: sec.audit,
      log,
      secureCookies: Boolean(tls),
      bindSessionToAddress: cfg.tls.bindSessionToAddress,
      stateDir: dataPath(cfg.dataDir, 'run'),
      ceiling: cfg.classificationCeiling,
    });
    // Sessions and login locks live in data/run (0600, atomic writes): a restart keeps both.
    cleanups.unshift(() => auth.close());
    // Folded denial counts are written before the trail is left (the last cleanup but the lock).
    cleanups.unshift(() => auth.flushAudit());
    // No default password: the first administrators are created with this token (POST /api/auth/setup).
    // It is printed once the appliance answers (below), to the console only.
    const setupToken = await auth.issueSetupToken();
    const search = createSearchService(meili.connection, cfg.dataDir);
    await search.init();
    // 联合检索 (only with federation.addr): the mutual-TLS endpoint, the relay, Meilisearch's /network.
    let federation: FederationService | undefined;
    if (cfg.federation.addr) {
      federation = await startFederation({ cfg, conn: meili.connection, audit: sec.audit, log });
      cleanups.unshift(() => federation!.stop());
    }
    const ingest = await createIngestService(cfg, { log, audit: sec.audit, search, knownPosts: async () => new Set((await sec.identity.posts()).filter((p) => !p.disabled).map((p) => p.code)) });
    ingest.start({ inboxSettleMs: cfg.inboxSettleMs });
    cleanups.unshift(() => ingest.stop());
    // 联合检索: the shared index follows the item store and the secadmin's sharing policy (nothing leaves without office.code).
    const sharing = new SharedIndex({ dataDir: cfg.dataDir, writer: new SharedIndexWriter(meili.connection), store: ingest.store, office: cfg.office.code });
    sharing.start();
    cleanups.unshift(() => sharing.stop());
    cleanups.unshift(scheduleIntegrityCheck(cfg, { log, search, store: ingest.store }));
    cleanups.unshift(scheduleBackups(cfg, { log }));
    let selfcheck: SelfcheckSchedule | undefined;
    const consoleToken = await issueConsoleToken(cfg.dataDir);
    cleanups.unshift(() => consoleToken.remove());
    const stopHooks: Array<() => Promise<void>> = [];
    const app = createWebApp({
      onStop: (hook) => stopHooks.push(hook),
      log,
      auth,
      search,
      ingest,
      sharing,
      uploadDir: dataPath(cfg.dataDir, 'run', 'uploads'),
      classificationCeiling: cfg.classificationCeiling,
      config: cfg,
      consoleToken: consoleToken.token,
      federation,
      federationPeers: federation,
      caCert: async () => (cfg.tls.cert ? undefined : readFile(applianceCaPath(cfg.dataDir), 'utf8').catch(() => undefined)),
      health: () =>
        healthReport(
          {
            meilisearch: () => meili.health(),
            clamd: () => clamd.health(),
            disk: () => diskHealth(cfg.dataDir, cfg.disk, sec.audit.reserveInUse),
            ocrData: () => ocrDataStatus(cfg.ocr.lang),
            selfcheck: () => selfcheck?.health() ?? selfcheckHealth(undefined),
            backup: () => backupHealth(cfg),
          },
          { demo: opts.demo },
        ),
    });
    const http = await new Promise<Server>((resolve, reject) => {
      const srv = tls ? createHttpsServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }, app.callback()).listen(port, host) : app.listen(port, host);
      srv.once('listening', () => resolve(srv));
      srv.once('error', (e: NodeJS.ErrnoException) =>
        reject(
          new ApplianceError('HTTP_LISTEN_FAILED', `无法在 ${cfg.httpAddr} 上监听：${e.code === 'EADDRINUSE' ? '端口已被占用' : e.message}`, `cannot listen on ${cfg.httpAddr}: ${e.message}`, {
            cause: e,
          }),
        ),
      );
    });
    const addr = http.address();
    const httpAddr = typeof addr === 'object' && addr ? `${host}:${addr.port}` : cfg.httpAddr;
    const url = `${tls ? 'https' : 'http'}://${httpAddr}/`;
    cleanups.unshift(
      () =>
        new Promise<void>((r) => {
          http.close(() => r());
          http.closeAllConnections();
        }),
    );
    // First of all on stop: tasks started from the web finish cleanly (a backup removes its partial file).
    cleanups.unshift(async () => {
      for (const h of stopHooks) await h();
    });
    await lock.update({ httpAddr, url });
    selfcheck = startSelfcheckSchedule(cfg, { audit: sec.audit, log, httpAddr });
    cleanups.unshift(() => selfcheck!.stop());
    log.info({ httpAddr, url, tls: tls?.source ?? 'off (loopback)', meiliPort: meili.port, dataDir: cfg.dataDir }, 'appliance ready');
    if (setupToken) {
      // Never into a log or the journal: on a terminal it is shown there; otherwise (a service, a
      // pipe) it goes to a 0600 file in the data dir and the log says only where.
      if (process.stderr.isTTY) {
        log.warn({ vacantRoles: await sec.identity.vacantAdminRoles() }, 'first start: setup token printed on the console');
        process.stderr.write(setupTokenNotice(setupToken, url));
      } else {
        const file = await auth.writeSetupTokenFile(setupToken, url);
        log.warn({ vacantRoles: await sec.identity.vacantAdminRoles(), file }, `first start: the one-time setup token is in ${file} (mode 0600); 初始设置令牌已写入该文件`);
      }
    }
    let stopped = false;
    return {
      meili,
      clamd,
      ingest,
      http,
      httpAddr,
      url,
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
