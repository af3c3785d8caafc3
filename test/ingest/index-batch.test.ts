import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeiliSupervisor, freeLoopbackPort } from '../../appliance/meili-supervisor.ts';
import { dataPath, type Config } from '../../core/index.ts';
import { ItemStore, JobStore, type Job } from '../../ingest/index.ts';
import { IngestRunner } from '../../ingest/runner.ts';
import { ingestDeps } from '../../ingest/service.ts';
import type { SearchService } from '../../search/index.ts';
import { AuditLog } from '../../security/index.ts';
import { waitFor } from '../support/appliance.ts';
import { startSearchDataDir, type SearchDataDir } from '../support/search-data-dir.ts';
import { stageItem } from '../support/staged-item.ts';

const log = pino({ level: 'silent' });

describe('ingest: stored items indexed in one batch (real Meilisearch, item store)', () => {
  let dir: string;
  let cfg: Config;
  let meili: MeiliSupervisor;
  let search: SearchService;
  let env: SearchDataDir;
  beforeAll(async () => {
    // A fixed port: Meilisearch is stopped and started again under the same address.
    env = await startSearchDataDir('archive-index-batch-down-', { ARCHIVE_MEILI_PORT: String(await freeLoopbackPort()) });
    ({ dir, cfg, meili, search } = env);
  });
  afterAll(async () => {
    await env?.close();
  });

  it('waits while Meilisearch is down with nothing recorded done; once it is back, the stored items go in one update and are archived', async () => {
    const store = await ItemStore.open(cfg.dataDir);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const staged = await stageItem(join(dir, 'staging'), { pages: 2, meta: { title: `批量件${i}` } });
      await store.putItem(staged);
      ids.push(staged.meta.itemId);
    }
    const jobs = new JobStore(cfg.dataDir);
    const id = '0000000bb-0b0b0b0b';
    const stage = await jobs.stage(id);
    const now = new Date().toISOString();
    await stage.commit({
      id,
      createdAt: now,
      updatedAt: now,
      via: 'cli',
      actor: { name: 'console', role: 'console', source: 'console' },
      options: { posts: ['BGS-KY'], classification: '内部' },
      state: 'running',
      // As a crash left them: stored, the journal says so, not yet indexed.
      items: ids.map((itemId, k) => ({ n: k + 1, label: `${k}.tif`, itemId, sources: [], metadata: {}, stage: 'stored' as const, outcome: 'pending' as const, pageCount: 2, pagesDone: 2 })),
      problems: [],
    });
    const audited: string[] = [];
    const audit = new AuditLog(dataPath(cfg.dataDir, 'audit'));
    const deps = ingestDeps(cfg, { log, audit, search }, store, () => Promise.reject(new Error('no OCR in this test')));
    const runner = new IngestRunner(jobs, { ...deps, audit: async (e) => (audited.push(`${e.action} ${e.target}`), deps.audit(e)) }, { pageConcurrency: 1, retryMs: 300 });

    await meili.stop();
    runner.start();
    try {
      const waiting: Job = await waitFor(async () => ((j) => (j.state === 'waiting' ? j : undefined))(await jobs.load(id)), 60_000, 'job waiting for Meilisearch');
      expect(waiting.waitingReason).toContain('检索服务暂不可用');
      expect(waiting.items.map((i) => [i.stage, i.outcome])).toEqual(ids.map(() => ['stored', 'pending']));
      expect(audited.filter((a) => a.startsWith('ingest.item'))).toEqual([]);

      await meili.start();
      const done: Job = await waitFor(async () => ((j) => (j.state === 'done' ? j : undefined))(await jobs.load(id)), 120_000, 'job done once Meilisearch is back');
      expect(done.items.map((i) => [i.stage, i.outcome])).toEqual(ids.map(() => ['done', 'archived']));
      expect(audited.filter((a) => a.startsWith('ingest.item')).sort()).toEqual(ids.map((i) => `ingest.item ${i}`).sort());
    } finally {
      await runner.stop();
    }
    // One update for the three items (and one for their six pages), not one per item.
    const res = await fetch(`${meili.connection.host}/tasks?types=documentAdditionOrUpdate&statuses=succeeded&limit=100`, { headers: { authorization: `Bearer ${meili.connection.apiKey}` } });
    const tasks = ((await res.json()) as { results: Array<{ indexUid: string; details: { receivedDocuments: number } }> }).results;
    expect(tasks.map((t) => [t.indexUid, t.details.receivedDocuments]).sort()).toEqual([
      ['items', 3],
      ['pages', 6],
    ]);
    const found = await search.search({ posts: ['BGS-KY'], clearance: '内部' }, { q: '批量件1' });
    expect(found.items.map((h) => h.itemId)).toEqual([ids[1]]);
  }, 300_000);
});
