import { spawn } from 'node:child_process';
import { readdir, readFile, rename, rm, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { MeiliSupervisor, meiliPaths } from '../../appliance/meili-supervisor.ts';
import { compactPaths } from '../../appliance/meili-compact-recover.ts';
import { compactMeili } from '../../appliance/meili-compact.ts';
import { createSearchService, type SearchService } from '../../search/index.ts';
import { isApplianceError, type Viewer } from '../../core/index.ts';
import { makeItem, POSTS } from '../../bench/search-corpus.ts';
import { startSearchDataDir, type SearchDataDir } from '../support/search-data-dir.ts';
import { runCli, startServe, waitFor } from '../support/appliance.ts';

// `archive compact` against the real Meilisearch: an index with free pages (most items deleted)
// is compacted while stopped; the appliance's searches answer the same afterwards; it is refused
// while the appliance or its engine runs; and a compaction killed at any step leaves the index whole.

const CHILD = join(import.meta.dirname, '../support/compact-crash-child.ts');
const VIEWER: Viewer = { posts: POSTS, clearance: '内部' };
const QUERIES = ['工作', '管理', '2014', '档案', ''];
const ITEMS = 160;

let d: SearchDataDir;
let dbPath: string;

/** Bytes of every LMDB data file of the database. */
async function lmdbBytes(dir = dbPath): Promise<number> {
  let n = 0;
  const walk = async (p: string): Promise<void> => {
    for (const e of await readdir(p, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(join(p, e.name));
      else if (e.name === 'data.mdb') n += (await stat(join(p, e.name))).size;
    }
  };
  await walk(dir);
  return n;
}

/** What staff would see: for each query, the total, the ids in order and the facet counts. */
async function answers(search: SearchService): Promise<unknown> {
  const out: unknown[] = [];
  for (const q of QUERIES) {
    const r = await search.search(VIEWER, { q, limit: 50, sort: q ? undefined : 'archivalCode' });
    out.push({ q, total: r.total, ids: r.items.map((h) => h.itemId), facets: r.facets });
  }
  return out;
}

/** Start the engine on the data dir as the appliance does, read the answers, stop it. */
async function answersNow(): Promise<unknown> {
  const meili = new MeiliSupervisor(d.cfg, pino({ level: 'silent' }));
  await meili.start(120_000);
  try {
    const search = createSearchService(meili.connection, d.cfg.dataDir);
    await search.init();
    return await answers(search);
  } finally {
    await meili.stop();
  }
}

function compactKilledAt(step: string): Promise<{ signal: NodeJS.Signals | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', CHILD, d.cfg.dataDir, step], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout!.on('data', (x) => (out += x));
    p.stderr!.on('data', (x) => (err += x));
    p.on('exit', (_code, signal) => resolve({ signal, out, err }));
  });
}

const exists = async (p: string) => Boolean(await stat(p).catch(() => undefined));
const env = () => ({ ARCHIVE_DATA_DIR: d.cfg.dataDir, ARCHIVE_MEILI_PORT: '0' });

let before: unknown;
let sizeBefore: number;

describe('archive compact', () => {
  beforeAll(async () => {
    d = await startSearchDataDir('archive-compact-');
    dbPath = meiliPaths(d.cfg.dataDir).dbPath;
    // Many small batches, then most items deleted: the files hold many free pages.
    const items = Array.from({ length: ITEMS }, (_, i) => makeItem(i));
    for (let i = 0; i < items.length; i += 10) await d.search.indexItems(items.slice(i, i + 10));
    for (let i = 0; i < ITEMS; i++) if (i % 4 !== 0) await d.search.removeItem(items[i]!.meta.itemId);
    before = await answers(d.search);
    expect(JSON.stringify(before)).toContain('"total"');
  }, 600_000);

  afterAll(async () => {
    await d?.close();
  });

  it('refuses while the engine of a stopped appliance still runs on the database, and changes nothing', async () => {
    const r = await runCli(['compact'], env());
    expect(r.code).toBe(1);
    expect(r.err).toContain('COMPACT_MEILI_RUNNING');
    expect(r.err).toMatch(/仍在使用/);
    expect(await exists(compactPaths(dbPath).tmp)).toBe(false);
    await d.meili.stop();
    sizeBefore = await lmdbBytes();
  }, 120_000);

  it('a compaction killed after copying leaves its copy, which the next start removes; the original answers the same', async () => {
    const k = await compactKilledAt('copied');
    expect(k.signal).toBe('SIGKILL');
    expect(await exists(compactPaths(dbPath).tmp)).toBe(true);
    expect(await lmdbBytes()).toBeGreaterThanOrEqual(sizeBefore);
    expect(await answersNow()).toEqual(before);
    expect(await exists(compactPaths(dbPath).tmp)).toBe(false);
  }, 300_000);

  it('a checked copy not yet swapped in is dropped; the original stays in place', async () => {
    const k = await compactKilledAt('ready');
    expect(k.signal).toBe('SIGKILL');
    expect(await exists(compactPaths(dbPath).ready)).toBe(true);
    expect(await answersNow()).toEqual(before);
    expect(await exists(compactPaths(dbPath).ready)).toBe(false);
    expect(await lmdbBytes()).toBeGreaterThanOrEqual(sizeBefore);
  }, 300_000);

  it('killed between the two swap renames (no database in place): the next start puts the checked copy in', async () => {
    const k = await compactKilledAt('aside');
    expect(k.signal).toBe('SIGKILL');
    expect(await exists(dbPath)).toBe(false);
    expect(await exists(compactPaths(dbPath).old)).toBe(true);
    expect(await answersNow()).toEqual(before);
    expect(await exists(compactPaths(dbPath).old)).toBe(false);
    expect(await exists(compactPaths(dbPath).ready)).toBe(false);
    expect(await lmdbBytes()).toBeLessThan(sizeBefore);
  }, 300_000);

  it('a copy that does not hold what the original holds is never swapped in', async () => {
    // Between copying and checking, the copy's two index files trade places (as a faulty copy would mix them up).
    const err = await compactMeili(d.cfg, {
      afterStep: async (step) => {
        if (step !== 'copied') return;
        const tmp = compactPaths(dbPath).tmp;
        const [a, b] = (await readdir(join(tmp, 'indexes'))).map((u) => join(tmp, 'indexes', u, 'data.mdb'));
        await rename(a!, `${a}.x`);
        await rename(b!, a!);
        await rename(`${a}.x`, b!);
      },
    }).catch((e: unknown) => e);
    expect(isApplianceError(err) && err.code).toBe('COMPACT_VERIFY_FAILED');
    expect((err as Error & { zh: string }).zh).toMatch(/核对未通过.*原索引未改动/);
    expect(await exists(compactPaths(dbPath).tmp)).toBe(false);
    expect(await answersNow()).toEqual(before);
  }, 300_000);

  it('refuses without room for the copy, or with a link in the database, and changes nothing', async () => {
    const size = await lmdbBytes();
    const r = await runCli(['compact'], { ...env(), ARCHIVE_DISK_REFUSE_WORK_GIB: '1000000' });
    expect(r.code).toBe(1);
    expect(r.err).toContain('COMPACT_DISK_SPACE');
    expect(r.err).toMatch(/磁盘空间不足，未做任何改动/);
    await symlink('/etc/passwd', join(dbPath, 'auth', 'evil'));
    const l = await runCli(['compact'], env());
    await rm(join(dbPath, 'auth', 'evil'));
    expect(l.code).toBe(1);
    expect(l.err).toContain('COMPACT_UNEXPECTED_FILE');
    expect(await exists(compactPaths(dbPath).tmp)).toBe(false);
    expect(await lmdbBytes()).toBe(size);
  }, 120_000);

  it('compacts a stopped appliance: smaller files, the same answers, writes still work, one audit record', async () => {
    // Free pages again: index and delete once more.
    const meili = new MeiliSupervisor(d.cfg, pino({ level: 'silent' }));
    await meili.start(120_000);
    const search = createSearchService(meili.connection, d.cfg.dataDir);
    await search.init();
    const extra = Array.from({ length: 30 }, (_, i) => makeItem(ITEMS + i));
    for (let i = 0; i < extra.length; i += 10) await search.indexItems(extra.slice(i, i + 10));
    for (const it of extra) await search.removeItem(it.meta.itemId);
    expect(await answers(search)).toEqual(before);
    await meili.stop();
    const size0 = await lmdbBytes();

    const r = await runCli(['compact'], env());
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/已压缩检索索引：.+ → .+，释放/);
    expect(r.out).toMatch(/索引 items（\d+ 条文档）：/);
    const size1 = await lmdbBytes();
    expect(size1).toBeLessThan(size0);
    expect(await exists(compactPaths(dbPath).tmp)).toBe(false);

    // The appliance's engine reads and writes the compacted files.
    const again = new MeiliSupervisor(d.cfg, pino({ level: 'silent' }));
    await again.start(120_000);
    try {
      const s2 = createSearchService(again.connection, d.cfg.dataDir);
      await s2.init();
      expect(await answers(s2)).toEqual(before);
      const one = makeItem(ITEMS + 100);
      await s2.indexItem(one.meta, one.pages);
      const found = await s2.search(VIEWER, { q: one.meta.archivalCode, limit: 5 });
      expect(found.items.map((h) => h.itemId)).toContain(one.meta.itemId);
      await s2.removeItem(one.meta.itemId);
    } finally {
      await again.stop();
    }

    const audit = (await Promise.all((await readdir(join(d.cfg.dataDir, 'audit'))).filter((f) => f.endsWith('.jsonl')).map((f) => readFile(join(d.cfg.dataDir, 'audit', f), 'utf8')))).join('');
    const recs = audit
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { action: string; outcome: string; details: Record<string, unknown> });
    const ok = recs.filter((x) => x.action === 'search.compact' && x.outcome === 'success');
    expect(ok).toHaveLength(1);
    expect(ok[0]!.details.afterBytes).toBeLessThan(ok[0]!.details.beforeBytes as number);
    expect(recs.some((x) => x.action === 'search.compact' && x.outcome === 'failure' && x.details.error === 'COMPACT_MEILI_RUNNING')).toBe(true);
  }, 600_000);

  it('refuses while the appliance runs on the data dir, with a clear message', async () => {
    const app = await startServe({}, d.cfg.dataDir);
    try {
      await waitFor(
        async () => ((await readFile(join(d.cfg.dataDir, 'run', 'appliance.json'), 'utf8').catch(() => '')).includes('"pid"') ? true : undefined),
        90_000,
        `appliance up (${app.output()})`,
      );
      const r = await runCli(['compact'], env());
      expect(r.code).toBe(1);
      expect(r.err).toContain('COMPACT_APPLIANCE_RUNNING');
      expect(r.err).toMatch(/设备服务正在运行.*停机维护/);
      expect(await exists(compactPaths(dbPath).tmp)).toBe(false);
    } finally {
      await app.stop();
    }
  }, 180_000);
});
