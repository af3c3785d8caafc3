import { describe, expect, it } from 'vitest';
import { jobProgress, type Job, type JobItem } from '../../ingest/index.ts';

// The rate a person reads (web card and `archive ingest`): pages read into the archive over the
// job's own run, never the pages of items that failed at once.

const T0 = Date.parse('2026-11-24T10:00:00Z');
const item = (n: number, outcome: JobItem['outcome'], pageCount: number, pagesDone: number): JobItem => ({
  n,
  label: `i${n}`,
  itemId: `id${n}`,
  sources: [],
  metadata: {},
  stage: 'received',
  outcome,
  pageCount,
  pagesDone,
});
const job = (state: Job['state'], items: JobItem[], finishedAfterMs?: number): Job => ({
  id: 'j',
  createdAt: new Date(T0).toISOString(),
  updatedAt: new Date(T0).toISOString(),
  via: 'upload',
  actor: { name: 'a', role: 'archivist', source: '-' },
  options: { posts: [], classification: '内部' },
  state,
  items,
  problems: [],
  startedAt: new Date(T0).toISOString(),
  ...(finishedAfterMs === undefined ? {} : { finishedAt: new Date(T0 + finishedAfterMs).toISOString() }),
});

describe('job progress rate', () => {
  it('counts pages read into the archive only, and gives no rate for a batch that failed at once', () => {
    // The old figure counted the failed pages as done: 100 pages in 1.1 s ("5454.5 页/分钟").
    const failedAtOnce = jobProgress(job('done', [item(1, 'failed', 100, 0)], 1_100), T0 + 60_000);
    expect(failedAtOnce.pagesDone).toBe(100);
    expect(failedAtOnce.pagesPerMinute).toBeUndefined();
    expect(jobProgress(job('done', [item(1, 'archived', 3, 3)], 1_000), T0 + 60_000).pagesPerMinute).toBeUndefined();
    // Done: over its own run (a minute), not up to now (an hour later).
    const items = [item(1, 'archived', 4, 4), item(2, 'failed', 50, 0), item(3, 'archived', 2, 2)];
    expect(jobProgress(job('done', items, 60_000), T0 + 3_600_000).pagesPerMinute).toBe(6);
  });

  it('while running: archived and in-progress pages over the time so far, and the time left', () => {
    const p = jobProgress(job('running', [item(1, 'archived', 4, 4), item(2, 'pending', 10, 2), item(3, 'failed', 50, 0)]), T0 + 60_000);
    expect(p.pagesPerMinute).toBe(6);
    expect(p.etaSeconds).toBe(80); // 8 pages left at 6 a minute
  });
});

describe('page totals as the virus gate passes items', () => {
  it('counts every page of multi-page TIFFs and PDFs once an item passed the gate, before its OCR; nothing is parsed before its scan', async () => {
    const { submitJob } = await import('../../ingest/intake.ts');
    const { JobStore } = await import('../../ingest/index.ts');
    const { IngestRunner } = await import('../../ingest/runner.ts');
    const { openInputs } = await import('../../ingest/ocr/decode.ts');
    const { SHARED, tempDir, cleanup, waitFor } = await import('../support/appliance.ts');
    const { sha256File } = await import('../../core/index.ts');
    const { pino } = await import('pino');
    const { join } = await import('node:path');
    const { writeFile } = await import('node:fs/promises');
    const dir = await tempDir('archive-intake-pages-');
    try {
      const tif = join(SHARED, 'samples/items/S0001.tif');
      const pdf = join(SHARED, 'samples/items/S0005.pdf');
      const bad = join(dir, '坏页.jpg');
      await writeFile(bad, Buffer.alloc(2048, 0x42));
      const want = { tif: (await openInputs([tif])).length, pdf: (await openInputs([pdf])).length };
      const jobs = new JobStore(dir);
      const job = await submitJob(
        jobs,
        [
          { label: 'S0001.tif', files: [tif], metadata: {} },
          { label: 'S0005.pdf', files: [pdf], metadata: {} },
          { label: '坏页.jpg', files: [bad], metadata: {} },
        ],
        { via: 'cli', actor: { name: 'a', role: 'archivist', source: '-' }, posts: ['BGS'], classification: '内部', maxFileBytes: 2 ** 30 },
      );
      // Intake copies and hashes; it parses nothing (the scanner has not seen the files yet).
      expect(job.items.map((i) => i.pagesExpected)).toEqual([undefined, undefined, undefined]);

      const scanned = new Set<string>();
      // The journal as it was each time OCR was about to open an item's files.
      const atOcr = new Map<string, Job>();
      const never = () => Promise.reject(new Error('not reached in this test'));
      const runner = new IngestRunner(
        jobs,
        {
          dataDir: dir,
          ceiling: '内部',
          log: pino({ level: 'silent' }),
          scan: async (path) => (scanned.add(path), { verdict: { verdict: 'clean' }, sha256: await sha256File(path) }),
          scanRetryable: () => false,
          countPages: async (files) => {
            for (const f of files) expect(scanned.has(f), `${f} counted before it was scanned`).toBe(true);
            return (await openInputs(files).catch(() => undefined))?.length;
          },
          openOcr: async (files) => {
            for (const f of files) expect(scanned.has(f), `${f} opened for OCR before it was scanned`).toBe(true);
            atOcr.set(files[0], await jobs.load(job.id));
            throw new Error('stop here: the test looks at the journal when OCR would begin');
          },
          assemblePdf: never,
          findDuplicate: async () => undefined,
          archivalCodeTaken: async () => undefined,
          storeItem: never,
          replaceItem: never,
          itemExists: async () => false,
          loadStored: never,
          indexItems: never,
          audit: async () => undefined,
        },
        { pageConcurrency: 1, retryMs: 300 },
      );
      runner.start();
      let end: Job;
      try {
        end = await waitFor(async () => ((await jobs.load(job.id)).state === 'done' ? jobs.load(job.id) : undefined), 60_000, 'the runner went through the job');
      } finally {
        await runner.stop();
      }
      // Each item's pages were counted (and journalled) before OCR opened it.
      const staged = (n: number) => join(jobs.jobDir(job.id), job.items[n].sources[0].staged);
      expect(atOcr.get(staged(0))!.items[0]).toMatchObject({ stage: 'scanned', pagesExpected: want.tif });
      expect(atOcr.get(staged(1))!.items[1]).toMatchObject({ stage: 'scanned', pagesExpected: want.pdf });
      expect(end.items.map((i) => i.pagesExpected)).toEqual([want.tif, want.pdf, undefined]);
      expect(jobProgress({ ...end, items: end.items.map((i) => ({ ...i, outcome: 'pending' as const })) }).pagesTotal).toBe(want.tif + want.pdf + 1);
      console.log(`pages counted at the gate: S0001.tif ${want.tif}, S0005.pdf ${want.pdf}`);
    } finally {
      await cleanup(dir);
    }
  });
});
