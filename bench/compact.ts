// bench/compact: what `archive compact` (appliance/meili-compact.ts) gives back and how long it takes.
// Indexes --pages synthetic pages (bench/search-corpus.ts) through the search service in batches of
// about --batch-pages pages (the appliance's ingest sends small batches; each leaves copy-on-write
// pages behind in LMDB), optionally removes --delete-share of the items again (weeding, re-OCR
// churn), stops the engine, then compacts and prints the LMDB files' size before and after, what
// Meilisearch calls used, the time, and whether the same searches give the same answers after.
// Prints figures; asserts nothing.
//   npx tsx bench/compact.ts [--pages 5000] [--batch-pages 200] [--delete-share 0] [--keep DIR]
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../core/config.ts';
import { ensureDataDir } from '../core/data-dir.ts';
import type { Viewer } from '../core/access.ts';
import { MeiliSupervisor, meiliPaths } from '../appliance/meili-supervisor.ts';
import { compactMeili, label } from '../appliance/meili-compact.ts';
import { createSearchService, type SearchService, type StoredItem } from '../search/index.ts';
import { cleanup, tempDir } from '../test/support/appliance.ts';
import { POSTS, makeItem } from './search-corpus.ts';

const argStr = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const PAGES = Number(argStr('pages') ?? 5_000);
const BATCH_PAGES = Number(argStr('batch-pages') ?? 200);
const DELETE_SHARE = Number(argStr('delete-share') ?? 0);
const KEEP = argStr('keep');

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
/** Bytes of the LMDB data files, and the blocks they take on disk. */
function lmdb(dir: string): { bytes: number; disk: number } {
  let bytes = 0;
  let disk = 0;
  const walk = (p: string) => {
    for (const e of readdirSync(p, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(p, e.name));
      else if (e.name === 'data.mdb') {
        const st = statSync(join(p, e.name));
        bytes += st.size;
        disk += st.blocks * 512;
      }
    }
  };
  walk(dir);
  return { bytes, disk };
}

const VIEWER: Viewer = { posts: POSTS, clearance: '内部' };
async function answers(search: SearchService): Promise<string> {
  const out: unknown[] = [];
  for (const q of ['工作', '管理', '2014', '档案 管理', '']) {
    const r = await search.search(VIEWER, { q, limit: 20, sort: q ? undefined : 'archivalCode' });
    out.push([q, r.total, r.items.map((h) => h.itemId), r.facets]);
  }
  return JSON.stringify(out);
}

async function engine<T>(cfg: ReturnType<typeof loadConfig>, fn: (s: SearchService, stats: () => Promise<{ databaseSize: number; usedDatabaseSize: number }>) => Promise<T>): Promise<T> {
  const sup = new MeiliSupervisor(cfg, pino({ level: 'silent' }));
  await sup.start(300_000);
  try {
    const s = createSearchService(sup.connection, cfg.dataDir);
    await s.init();
    const stats = async () =>
      (await (await fetch(`${sup.connection.host}/stats`, { headers: { Authorization: `Bearer ${sup.connection.apiKey}` } })).json()) as { databaseSize: number; usedDatabaseSize: number };
    return await fn(s, stats);
  } finally {
    await sup.stop();
  }
}

const dir = KEEP ?? (await tempDir('archive-bench-compact-'));
const cfg = loadConfig({ env: { ARCHIVE_DATA_DIR: join(dir, 'data'), ARCHIVE_MEILI_PORT: '0' } });
await ensureDataDir(cfg.dataDir);
const dbPath = meiliPaths(cfg.dataDir).dbPath;
try {
  const t0 = performance.now();
  const { items, pages, removed, before, stats0 } = await engine(cfg, async (s, stats) => {
    let pages = 0;
    let item = 0;
    const all: StoredItem[] = [];
    while (pages < PAGES) {
      const batch: StoredItem[] = [];
      let n = 0;
      while (n < BATCH_PAGES && pages + n < PAGES) {
        const it = makeItem(item++);
        batch.push(it);
        n += it.meta.pageCount;
      }
      await s.indexItems(batch);
      all.push(...batch);
      pages += n;
    }
    let removed = 0;
    if (DELETE_SHARE > 0) {
      const step = Math.max(1, Math.round(1 / DELETE_SHARE));
      for (let i = 0; i < all.length; i++) {
        if (DELETE_SHARE >= 1 || i % step !== 0) continue;
        await s.removeItem(all[i]!.meta.itemId);
        removed++;
      }
    }
    return { items: item, pages, removed, before: await answers(s), stats0: await stats() };
  });
  console.log(`indexed ${pages} pages in ${items} items (batches of ~${BATCH_PAGES} pages), removed ${removed} items, in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  const b = lmdb(dbPath);
  console.log(`before: LMDB files ${mb(b.bytes)} (${mb(b.disk)} of disk blocks); Meilisearch: database ${mb(stats0.databaseSize)}, used ${mb(stats0.usedDatabaseSize)}`);

  const t1 = performance.now();
  const r = await compactMeili(cfg, { progress: (l) => console.log(`  | ${l}`) });
  const took = (performance.now() - t1) / 1000;
  const a = lmdb(dbPath);
  const { after, stats1 } = await engine(cfg, async (s, stats) => ({ after: await answers(s), stats1: await stats() }));
  console.log(`after:  LMDB files ${mb(a.bytes)} (${mb(a.disk)} of disk blocks); Meilisearch: database ${mb(stats1.databaseSize)}, used ${mb(stats1.usedDatabaseSize)}`);
  for (const f of r.files) console.log(`  ${label(f).padEnd(28)} ${mb(f.before).padStart(10)} → ${mb(f.after ?? f.before).padStart(10)}`);
  console.log(
    `compaction: ${mb(b.bytes)} → ${mb(a.bytes)} (${((100 * a.bytes) / b.bytes).toFixed(0)}%, ×${(b.bytes / a.bytes).toFixed(2)}) in ${took.toFixed(1)} s ` +
      `(whole command: engine start and snapshot of the original, copy, per-database count, engine start and snapshot of the copy, swap); ` +
      `${(b.bytes / 1e6 / took).toFixed(0)} MB/s of original; same answers after: ${before === after}`,
  );
} finally {
  if (!KEEP) await cleanup(dir);
}
