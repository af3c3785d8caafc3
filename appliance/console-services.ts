import { readFile } from 'node:fs/promises';
import { pino } from 'pino';
import { type Config, dataPath, ensureDataDir, type MeiliConnection, acquireRunLock, runningAppliance } from '../core/index.ts';
import { MeiliSupervisor, meiliPaths } from './meili-supervisor.ts';
import { meiliMasterKey } from './meili-master-key.ts';
import { ItemStore } from '../ingest/index.ts';
import { createSearchService, type StoredItem } from '../search/index.ts';

export interface ConsoleServices {
  conn: MeiliConnection;
  /** True when `archive serve` runs and this command uses its services. */
  shared: boolean;
  release(): Promise<void>;
}

/**
 * Meilisearch for a console command. With `archive serve` running, its Meilisearch (the address
 * is on the child's command line, which the appliance wrote). Otherwise the command holds the
 * appliance's run lock and starts a private Meilisearch on the same database for its duration, so
 * a `serve` started meanwhile refuses instead of fighting over the database.
 */
export async function consoleServices(cfg: Config): Promise<ConsoleServices> {
  await ensureDataDir(cfg.dataDir);
  if (await runningAppliance(cfg.dataDir)) {
    const pid = Number((await readFile(dataPath(cfg.dataDir, 'run', 'meilisearch.pid'), 'utf8').catch(() => '0')).trim());
    const args = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    const addr = args[args.indexOf('--http-addr') + 1];
    if (args.includes(meiliPaths(cfg.dataDir).dbPath) && addr?.startsWith('127.0.0.1:')) {
      return { conn: { host: `http://${addr}`, apiKey: await meiliMasterKey(cfg.dataDir), pid: () => pid }, shared: true, release: async () => {} };
    }
  }
  const lock = await acquireRunLock(cfg.dataDir, 'console');
  const sup = new MeiliSupervisor({ ...cfg, meili: { ...cfg.meili, port: 0 } }, pino({ level: 'silent' }));
  try {
    await sup.start();
  } catch (e) {
    await lock.release();
    throw e;
  }
  return {
    conn: sup.connection,
    shared: false,
    async release() {
      await sup.stop();
      await lock.release();
    },
  };
}

/** Rebuild the search index of a data dir (a restored one, say) from its item store. */
export async function reindexDataDir(cfg: Config): Promise<{ items: number; pages: number }> {
  const services = await consoleServices(cfg);
  try {
    const search = createSearchService(services.conn, cfg.dataDir);
    await search.init();
    const store = await ItemStore.open(cfg.dataDir);
    const r = await search.reindex(storedItems(store));
    return { items: r.items, pages: r.pages };
  } finally {
    await services.release();
  }
}

export async function* storedItems(store: ItemStore): AsyncGenerator<StoredItem> {
  for (const id of store.ids()) yield await store.loadStored(id);
}
