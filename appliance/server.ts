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
import { ocrDataStatus } from '../ingest/index.ts';
import { clamdHealth } from '../security/index.ts';
import { createWebApp } from '../web/index.ts';

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
    const app = createWebApp({
      log,
      health: () =>
        healthReport({
          meilisearch: () => meili.health(),
          clamd: () => clamdHealth(cfg.clamd),
          disk: () => diskHealth(cfg.dataDir),
          ocrData: () => ocrDataStatus(cfg.ocr.lang),
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
    await lock.update({ httpAddr });
    log.info({ httpAddr, meiliPort: meili.port, dataDir: cfg.dataDir }, 'appliance ready');
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
