import type { Server } from 'node:http';
import { loadConfig, type Config } from '../../core/config.ts';
import { createLogger } from '../../core/log.ts';
import { createIngestService } from '../../ingest/index.ts';
import { createSearchService, type SearchService, type StoredItem } from '../../search/index.ts';
import { openSecurity } from '../../security/index.ts';
import { createAuth } from '../../web/auth.ts';
import { createWebApp } from '../../web/index.ts';
import { startMeili, type MeiliHandle } from '../search/support.ts';
import { cleanup, tempDir } from '../support/appliance.ts';

/** The real koa app on loopback over a real Meilisearch holding `items`: what the search tests of web/ stand on. */
export interface SearchApp {
  base: string;
  m: MeiliHandle;
  cfg: Config;
  search: SearchService;
  sec: Awaited<ReturnType<typeof openSecurity>>;
  /** Closes the app, stops Meilisearch and removes the data dir. */
  stop(): Promise<void>;
}

/** `clamd` is set to a socket that does not exist: these tests never ingest. */
export async function startSearchApp(prefix: string, items: StoredItem[]): Promise<SearchApp> {
  const dir = await tempDir(prefix);
  const m = await startMeili({ dir });
  const cfg = loadConfig({ overrides: { dataDir: m.dir, clamd: 'unix:/nonexistent/clamd.sock' } });
  const log = createLogger({ level: 'silent' });
  const search = createSearchService(m.conn, m.dir);
  await search.init();
  await search.indexItems(items);
  const sec = await openSecurity(cfg);
  const auth = await createAuth({ configDir: sec.configDir, identity: sec.identity, audit: sec.audit, log });
  const ingest = await createIngestService(cfg, { log, audit: sec.audit, search });
  const app = createWebApp({ log, auth, search, ingest, config: cfg, health: async () => ({ status: 'ok', time: '', components: {} }) });
  const server = await new Promise<Server>((r) => {
    const s = app.listen(0, '127.0.0.1', () => r(s));
  });
  return {
    base: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    m,
    cfg,
    search,
    sec,
    async stop() {
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
      await m.stop();
      await cleanup(dir);
    },
  };
}
