import { spawn } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MeiliSupervisor } from '../../appliance/meili-supervisor.ts';
import { dataPath, type Config } from '../../core/index.ts';
import { createIngestService, ItemStore, type Job } from '../../ingest/index.ts';
import type { SearchService } from '../../search/index.ts';
import { AuditLog, verifyAudit } from '../../security/index.ts';
import { ROOT, SHARED, waitFor } from '../support/appliance.ts';
import { startSearchDataDir, type SearchDataDir } from '../support/search-data-dir.ts';
import { startTestClamd, type TestClamd } from '../support/clamd.ts';

const log = pino({ level: 'silent' });

/**
 * Index updates are batched (ingest/runner.ts, INDEX_BATCH). The order that keeps this safe: an item
 * joins a batch only once it is stored and the journal says so; it is recorded done only after its
 * batch is confirmed searchable. Here the real runner is killed at both ends of one batch.
 */
describe('ingest: a batch of index updates and kill -9 (real clamd, OCR, Meilisearch, item store)', () => {
  let dir: string;
  let clamd: TestClamd;
  let cfg: Config;
  let meili: MeiliSupervisor;
  let search: SearchService;
  let env: SearchDataDir;
  beforeAll(async () => {
    clamd = await startTestClamd();
    env = await startSearchDataDir('archive-index-batch-', { ARCHIVE_CLAMD: clamd.address });
    ({ dir, cfg, meili, search } = env);
  });
  afterAll(async () => {
    await env?.close();
    await clamd?.stop();
  });

  /** Item ids in the items index, and how many page documents each has. */
  async function indexed(): Promise<{ items: string[]; pages: Record<string, number> }> {
    const get = async (uid: string) => {
      const res = await fetch(`${meili.connection.host}/indexes/${uid}/documents?limit=1000&fields=id,itemId`, { headers: { authorization: `Bearer ${meili.connection.apiKey}` } });
      expect(res.status).toBe(200);
      return ((await res.json()) as { results: Array<{ id: string; itemId: string }> }).results;
    };
    const pages: Record<string, number> = {};
    for (const p of await get('pages')) pages[p.itemId] = (pages[p.itemId] ?? 0) + 1;
    return { items: (await get('items')).map((d) => d.id).sort(), pages };
  }

  async function auditRecords(): Promise<Array<{ action: string; outcome: string; target: string }>> {
    const trail = (await readdir(dataPath(cfg.dataDir, 'audit'))).filter((f) => f.endsWith('.jsonl')).sort();
    const text = (await Promise.all(trail.map((f) => readFile(join(dataPath(cfg.dataDir, 'audit'), f), 'utf8')))).join('');
    return text
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { action: string; outcome: string; target: string });
  }

  /** Run the runner in a child until it reaches the batch (`mode`), check what holds there, kill it. */
  async function runUntil(mode: 'before' | 'after', check: (batch: string[]) => Promise<void>): Promise<void> {
    const marker = join(dir, `reached-${mode}`);
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'test/support/ingest-index-crash.ts'), cfg.dataDir, meili.connection.host, meili.connection.apiKey, clamd.address, mode, marker],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const closed = new Promise((r) => child.once('close', r));
    try {
      const batch = await waitFor(
        async () => {
          if (child.exitCode !== null) throw new Error(`runner exited ${child.exitCode}: ${err}`);
          return (await stat(marker).catch(() => undefined)) ? (JSON.parse(await readFile(marker, 'utf8')) as string[]) : undefined;
        },
        600_000,
        `the runner at the batch (${mode})`,
      );
      await check(batch.sort());
    } finally {
      child.kill('SIGKILL');
      await closed;
    }
  }

  it('killed with a batch formed, then again with it indexed but not journalled: each item archived, indexed and audited once; nothing findable unstored', async () => {
    const batchDir = join(dir, 'batch');
    await mkdir(batchDir);
    const files = [
      ['S0008/page-001.jpg', 'a.jpg'],
      ['S0008/page-002.jpg', 'b.jpg'],
      ['S0003/page-001.jpg', 'c.jpg'],
    ];
    for (const [from, to] of files) await copyFile(join(SHARED, 'samples/items', from), join(batchDir, to));
    const audit = new AuditLog(dataPath(cfg.dataDir, 'audit'));
    const svc = await createIngestService(cfg, { log, audit, search });
    const job = await svc.submit(
      files.map(([, to]) => join(batchDir, to)),
      { posts: ['BGS'], actor: { name: 'tester', role: 'archivist', source: 'test' }, via: 'cli' },
    );
    await svc.stop();
    const ids = job.items.map((i) => i.itemId).sort();
    expect(ids).toHaveLength(3);
    const stages = async () => (await svc.jobs.load(job.id)).items.map((i) => [i.stage, i.outcome]);
    const storedWhole = async (batch: string[]) => {
      const store = await ItemStore.open(cfg.dataDir);
      for (const id of batch) expect(await store.verifyItem(id), id).toMatchObject({ status: 'ok' });
    };

    // 1. Every item read and stored, the batch formed, the index not yet asked.
    let ocrDone: Job | undefined;
    await runUntil('before', async (batch) => {
      expect(batch).toEqual(ids);
      expect(await stages()).toEqual(ids.map(() => ['stored', 'pending']));
      await storedWhole(batch);
      expect((await indexed()).items).toEqual([]);
      ocrDone = await svc.jobs.load(job.id);
    });

    // 2. Resumed: the same batch again (no page read twice), now confirmed by the index; the journal
    //    still says 'stored' and nothing is audited as archived yet. Searchable means stored.
    await runUntil('after', async (batch) => {
      expect(batch).toEqual(ids);
      const now = await indexed();
      expect(now.items).toEqual(ids);
      await storedWhole(now.items);
      expect(await stages()).toEqual(ids.map(() => ['stored', 'pending']));
      expect((await auditRecords()).filter((r) => r.action === 'ingest.item')).toEqual([]);
    });
    const afterKills = await svc.jobs.load(job.id);
    expect(afterKills.items.map((i) => i.timings?.ocr)).toEqual(ocrDone!.items.map((i) => i.timings?.ocr));

    // 3. Resumed to the end in this process (a fresh service: the store and audit trail as on disk now).
    const resumed = await createIngestService(cfg, { log, audit: new AuditLog(dataPath(cfg.dataDir, 'audit')), search });
    await resumed.drain();
    await resumed.stop();
    const done = await resumed.jobs.load(job.id);
    expect(done.state).toBe('done');
    expect(done.items.map((i) => [i.stage, i.outcome])).toEqual(ids.map(() => ['done', 'archived']));
    const end = await indexed();
    expect(end.items).toEqual(ids);
    expect(end.pages).toEqual(Object.fromEntries(ids.map((id) => [id, 1])));
    const store = await ItemStore.open(cfg.dataDir);
    expect(store.count).toBe(3);
    await storedWhole(ids);
    const records = await auditRecords();
    expect(
      records
        .filter((r) => r.action === 'ingest.item' && r.outcome === 'success')
        .map((r) => r.target)
        .sort(),
    ).toEqual(ids);
    expect((await verifyAudit(dataPath(cfg.dataDir, 'audit'))).ok).toBe(true);
    // The index holds exactly what the store holds.
    const consistency = await search.consistency(
      (async function* () {
        for (const id of ids) yield await store.loadStored(id);
      })(),
    );
    expect(consistency).toMatchObject({ ok: true, missing: [], stale: [], orphaned: [] });
  }, 1_200_000);
});
