import { writeFileSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeiliSupervisor } from '../../appliance/meili-supervisor.ts';
import { dataPath, ensureDataDir, loadConfig, pathExists, type Config } from '../../core/index.ts';
import { ItemStore, JobStore, type Job } from '../../ingest/index.ts';
import { submitJob } from '../../ingest/intake.ts';
import { createOcrPool, type OcrPool } from '../../ingest/ocr/pool.ts';
import { IngestRunner } from '../../ingest/runner.ts';
import type { IngestDeps } from '../../ingest/runner-deps.ts';
import { ingestDeps } from '../../ingest/service.ts';
import { createSearchService, type SearchService } from '../../search/index.ts';
import { AuditLog, verifyAudit } from '../../security/index.ts';
import { SHARED, cleanup, tempDir, waitFor } from '../support/appliance.ts';
import { eicarBytes, startTestClamd, type TestClamd } from '../support/clamd.ts';

const log = pino({ level: 'silent' });
const PAGES = ['S0008/page-001.jpg', 'S0003/page-001.jpg', 'S0008/page-002.jpg', 'S0003/page-002.jpg'].map((p) => join(SHARED, 'samples/items', p));

/**
 * The virus gate runs ahead of OCR (ingest/scan-ahead.ts): item n+1 is scanned while item n is read.
 * Fail closed must hold as when every item was scanned first: nothing is parsed (page count, OCR)
 * before its own scan came back clean, and the bytes parsed are the bytes scanned. Real clamd, OCR,
 * Meilisearch and item store; the runner's parsers are watched (never replaced) to see what they opened.
 */
describe('ingest: the virus gate ahead of OCR (real clamd, OCR, Meilisearch, item store)', () => {
  let dir: string;
  let clamd: TestClamd;
  let meili: MeiliSupervisor;
  let search: SearchService;
  let pool: Promise<OcrPool> | undefined;
  beforeAll(async () => {
    dir = await tempDir('archive-scan-ahead-');
    clamd = await startTestClamd();
    const cfg = loadConfig({ env: { ARCHIVE_DATA_DIR: join(dir, 'meili-home'), ARCHIVE_MEILI_PORT: '0' } });
    await ensureDataDir(cfg.dataDir);
    meili = new MeiliSupervisor(cfg, log);
    await meili.start();
    search = createSearchService(meili.connection, cfg.dataDir);
    await search.init();
  });
  afterAll(async () => {
    if (pool) await (await pool).close();
    await meili?.stop();
    await clamd?.stop();
    await cleanup(dir);
  });

  /** A data dir, a job of these files (one item each), and a runner whose parsers are watched. */
  async function setup(name: string, files: Array<{ label: string; from?: string; bytes?: Buffer }>) {
    const cfg: Config = loadConfig({ env: { ARCHIVE_DATA_DIR: join(dir, name), ARCHIVE_MEILI_PORT: '0', ARCHIVE_CLAMD: clamd.address } });
    await ensureDataDir(cfg.dataDir);
    const src = join(dir, `${name}-src`);
    await mkdir(src, { recursive: true });
    for (const f of files) {
      if (f.from) await copyFile(f.from, join(src, f.label));
      else await writeFile(join(src, f.label), f.bytes!);
    }
    const jobs = new JobStore(cfg.dataDir);
    const job = await submitJob(
      jobs,
      files.map((f) => ({ label: f.label, files: [join(src, f.label)], metadata: {} })),
      { via: 'cli', actor: { name: 'tester', role: 'archivist', source: 'test' }, posts: ['BGS'], classification: '内部', maxFileBytes: 2 ** 30 },
    );
    const store = await ItemStore.open(cfg.dataDir);
    pool ??= createOcrPool({ workers: cfg.ocr.workers, lang: cfg.ocr.lang, cacheDir: dataPath(cfg.dataDir, 'run', 'ocr-lang') });
    const real = ingestDeps(cfg, { log, audit: new AuditLog(dataPath(cfg.dataDir, 'audit')), search }, store, () => pool!);
    const seen = { scanned: [] as string[], counted: [] as string[], ocr: [] as string[] };
    const staged = (n: number) => join(jobs.jobDir(job.id), job.items[n].sources[0].staged);
    const runner = (over: Partial<IngestDeps> = {}) =>
      new IngestRunner(
        jobs,
        {
          ...real,
          scan: async (path) => {
            const r = await real.scan(path);
            seen.scanned.push(path);
            return r;
          },
          countPages: async (paths) => (seen.counted.push(...paths), real.countPages(paths)),
          openOcr: async (paths) => (seen.ocr.push(...paths), real.openOcr(paths)),
          ...over,
        },
        { pageConcurrency: cfg.ocr.workers + 1, retryMs: 300 },
      );
    const load = () => jobs.load(job.id);
    const doneJob = (what: string) => waitFor(async () => ((j) => (j.state === 'done' ? j : undefined))(await load()), 900_000, what);
    /** Start `r`, wait until the job is done, stop `r` either way. */
    const runToDone = async (r: ReturnType<typeof runner>, what: string): Promise<Job> => {
      r.start();
      try {
        return await doneJob(what);
      } finally {
        await r.stop();
      }
    };
    return { cfg, jobs, job, store, real, seen, staged, runner, load, doneJob, runToDone };
  }

  async function auditActions(cfg: Config): Promise<Array<{ action: string; target: string; outcome: string; details: Record<string, unknown> }>> {
    const root = dataPath(cfg.dataDir, 'audit');
    const files = (await readdir(root)).filter((f) => f.endsWith('.jsonl')).sort();
    return (await Promise.all(files.map((f) => readFile(join(root, f), 'utf8'))))
      .join('')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  }

  it('an infected file third of four: the two before it archived, it quarantined and never opened by any parser, the one after archived', async () => {
    const t = await setup('late-virus', [
      { label: 'a.jpg', from: PAGES[0] },
      { label: 'b.jpg', from: PAGES[1] },
      { label: 'c.jpg', bytes: eicarBytes() },
      { label: 'd.jpg', from: PAGES[2] },
    ]);
    const r = t.runner();
    const done = await t.runToDone(r, 'job done');
    expect(done.items.map((i) => [i.label, i.outcome, i.error?.code])).toEqual([
      ['a.jpg', 'archived', undefined],
      ['b.jpg', 'archived', undefined],
      ['c.jpg', 'quarantined', 'INFECTED'],
      ['d.jpg', 'archived', undefined],
    ]);
    // Scanned, and then nothing else read it: no page count, no OCR, no work folder.
    expect(t.seen.scanned).toContain(t.staged(2));
    expect(t.seen.counted).not.toContain(t.staged(2));
    expect(t.seen.ocr).not.toContain(t.staged(2));
    expect(t.seen.ocr).toEqual([t.staged(0), t.staged(1), t.staged(3)]);
    expect(await pathExists(join(t.jobs.workDir(t.job.id), '3'))).toBe(false);
    const q = join(t.cfg.dataDir, 'quarantine', `${t.job.id}-3`);
    expect(await readFile(join(q, 'files', 'c.jpg'))).toEqual(eicarBytes());
    expect(JSON.parse(await readFile(join(q, 'record.json'), 'utf8'))).toMatchObject({ item: 'c.jpg', infectedFile: 'c.jpg' });
    // Only the three clean items in the store, each whole.
    const store = await ItemStore.open(t.cfg.dataDir);
    expect(store.count).toBe(3);
    for (const i of done.items.filter((x) => x.outcome === 'archived')) expect(await store.verifyItem(i.itemId)).toMatchObject({ status: 'ok' });
    const audit = await auditActions(t.cfg);
    expect(audit.filter((a) => a.action === 'ingest.quarantine').map((a) => a.target)).toEqual(['c.jpg']);
    expect(audit.filter((a) => a.action === 'ingest.item' && a.outcome === 'success')).toHaveLength(3);
  }, 1_200_000);

  it('attack: a staged copy swapped after its scan (before its page count, or before OCR) is never parsed; refused, quarantined, audited', async () => {
    const t = await setup('swap', [
      { label: 'keep.jpg', from: PAGES[3] },
      { label: 'swapped-at-scan.jpg', from: PAGES[0] },
      { label: 'swapped-before-ocr.jpg', from: PAGES[1] },
    ]);
    const evil = eicarBytes();
    // Item 2: overwritten the moment clamd's clean verdict is back, before the gate counts its pages.
    const r = t.runner({
      scan: async (path) => {
        const v = await t.real.scan(path);
        t.seen.scanned.push(path);
        if (path === t.staged(1)) await writeFile(path, evil);
        return v;
      },
    });
    // Item 3: overwritten once the journal says it passed the gate (scanned, pages counted), before OCR opens it.
    r.on('journal', (_job, item) => {
      if (item?.n === 3 && item.stage === 'scanned' && !swapped) {
        swapped = true;
        writeFileSync(t.staged(2), evil); // before the gate's answer reaches the reader
      }
    });
    let swapped = false;
    const done = await t.runToDone(r, 'job done');
    expect(swapped).toBe(true);
    expect(done.items.map((i) => [i.label, i.outcome, i.error?.code])).toEqual([
      ['keep.jpg', 'archived', undefined],
      ['swapped-at-scan.jpg', 'refused', 'STAGED_FILE_CHANGED'],
      ['swapped-before-ocr.jpg', 'refused', 'STAGED_FILE_CHANGED'],
    ]);
    // The swapped bytes reached no parser: item 2 neither counted nor OCR'd, item 3 counted (before the swap) but never OCR'd.
    expect(t.seen.counted).not.toContain(t.staged(1));
    expect(t.seen.ocr).toEqual([t.staged(0)]);
    for (const n of [2, 3]) {
      const q = join(t.cfg.dataDir, 'quarantine', `${t.job.id}-${n}`);
      expect(JSON.parse(await readFile(join(q, 'record.json'), 'utf8'))).toMatchObject({ reason: 'changed-after-intake' });
      expect(await readdir(join(q, 'files'))).toHaveLength(1);
    }
    const store = await ItemStore.open(t.cfg.dataDir);
    expect(store.count).toBe(1);
    const audit = await auditActions(t.cfg);
    expect(audit.filter((a) => a.action === 'ingest.refused').map((a) => [a.target, a.details.reason])).toEqual([
      ['swapped-at-scan.jpg', 'changed-after-intake'],
      ['swapped-before-ocr.jpg', 'changed-after-intake'],
    ]);
    expect((await verifyAudit(dataPath(t.cfg.dataDir, 'audit'))).ok).toBe(true);
  }, 1_200_000);

  it('clamd killed mid-job: the job waits with the scanner error and parses nothing unscanned, nothing is half archived; after clamd is back a new runner resumes from the journal, each item archived once', async () => {
    const t = await setup('clamd-down', [
      { label: 'one.jpg', from: PAGES[0] },
      { label: 'two.jpg', from: PAGES[1] },
      { label: 'three.jpg', from: PAGES[2] },
    ]);
    const socket = clamd.socketPath;
    // clamd is killed (SIGKILL, as a crash) just before the gate sends it item 2.
    let killed = false;
    const r = t.runner({
      scan: async (path) => {
        if (path === t.staged(1) && !killed) {
          killed = true;
          process.kill(clamd.pid, 'SIGKILL');
          await clamd.stop();
        }
        const v = await t.real.scan(path);
        t.seen.scanned.push(path);
        return v;
      },
    });
    r.start();
    try {
      const waiting = await waitFor(async () => ((j) => (j.state === 'waiting' ? j : undefined))(await t.load()), 300_000, 'job waiting for clamd');
      expect(waiting.waitingReason).toContain('病毒扫描服务不可用');
      // Item 1 passed before clamd died: it may be read and archived meanwhile. Items 2 and 3 stay
      // received, and no parser has opened them.
      await waitFor(async () => ((j) => (j.items[0].outcome === 'archived' ? j : undefined))(await t.load()), 900_000, 'item 1 archived while clamd is down');
      const mid = await t.load();
      expect(mid.state).toBe('waiting');
      expect(mid.items.map((i) => [i.stage, i.outcome])).toEqual([
        ['done', 'archived'],
        ['received', 'pending'],
        ['received', 'pending'],
      ]);
      for (const n of [1, 2]) {
        expect(t.seen.counted).not.toContain(t.staged(n));
        expect(t.seen.ocr).not.toContain(t.staged(n));
      }
      const store = await ItemStore.open(t.cfg.dataDir);
      expect(store.count).toBe(1);
      expect(await store.verifyItem(mid.items[0].itemId)).toMatchObject({ status: 'ok' });
    } finally {
      // The appliance stops while it waits (as a restart would find it).
      await r.stop();
    }
    clamd = await startTestClamd({ socketPath: socket });
    const r2 = t.runner();
    const done = await t.runToDone(r2, 'job done after clamd is back');
    expect(done.items.map((i) => i.outcome)).toEqual(['archived', 'archived', 'archived']);
    // Item 1 was not read again; each item stored, indexed and audited once.
    expect(t.seen.ocr).toEqual([t.staged(0), t.staged(1), t.staged(2)]);
    const store = await ItemStore.open(t.cfg.dataDir);
    expect(store.count).toBe(3);
    for (const i of done.items) expect(await store.verifyItem(i.itemId)).toMatchObject({ status: 'ok' });
    const audit = await auditActions(t.cfg);
    expect(
      audit
        .filter((a) => a.action === 'ingest.item' && a.outcome === 'success')
        .map((a) => a.target)
        .sort(),
    ).toEqual(done.items.map((i) => i.itemId).sort());
  }, 1_800_000);
});
