import { join } from 'node:path';
import { pino } from 'pino';
import { MeiliSupervisor } from '../../appliance/meili-supervisor.ts';
import { ensureDataDir, loadConfig, type Config } from '../../core/index.ts';
import { createSearchService, type SearchService } from '../../search/index.ts';
import { cleanup, tempDir } from './appliance.ts';

export interface SearchDataDir {
  /** The temp folder; the data dir is `data/` in it, the rest is the test's own. */
  dir: string;
  cfg: Config;
  meili: MeiliSupervisor;
  search: SearchService;
  /** Stop Meilisearch and remove the temp folder. */
  close(): Promise<void>;
}

/**
 * A temp data dir with the real Meilisearch started on it and the search service's indexes made:
 * what a test of ingest that indexes (index batches, re-OCR) stands on. `env` adds to or overrides
 * the configuration (ARCHIVE_MEILI_PORT, a free one by default; ARCHIVE_CLAMD).
 */
export async function startSearchDataDir(prefix: string, env: Record<string, string> = {}): Promise<SearchDataDir> {
  const dir = await tempDir(prefix);
  const cfg = loadConfig({ env: { ARCHIVE_DATA_DIR: join(dir, 'data'), ARCHIVE_MEILI_PORT: '0', ...env } });
  await ensureDataDir(cfg.dataDir);
  const meili = new MeiliSupervisor(cfg, pino({ level: 'silent' }));
  try {
    await meili.start();
    const search = createSearchService(meili.connection, cfg.dataDir);
    await search.init();
    return {
      dir,
      cfg,
      meili,
      search,
      async close() {
        await meili.stop();
        await cleanup(dir);
      },
    };
  } catch (e) {
    await meili.stop().catch(() => undefined);
    await cleanup(dir);
    throw e;
  }
}
