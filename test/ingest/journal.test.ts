import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobStore, type Job } from '../../ingest/index.ts';
import { IngestRunner } from '../../ingest/runner.ts';
import type { AuditEvent, IngestDeps } from '../../ingest/runner-deps.ts';
import { cleanup, tempDir, waitFor } from '../support/appliance.ts';

/**
 * A disk that fills up: the journal's writes fail with ENOSPC while `full` is set, as the real
 * writeFileAtomic would on a full disk (the data dir cannot be filled for real in a test).
 */
class FillingDisk extends JobStore {
  full = false;
  failures = 0;
  override async save(job: Job): Promise<void> {
    if (this.full) {
      this.failures++;
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    }
    return super.save(job);
  }
}

/** Only the gate's first check runs here (two items above the ceiling): everything else must not be reached. */
function deps(dataDir: string, audit: AuditEvent[]): IngestDeps {
  const never = (what: string) => () => Promise.reject(new Error(`${what} must not be reached`));
  return {
    dataDir,
    ceiling: '内部',
    log: pino({ level: 'silent' }),
    scan: never('scan'),
    scanRetryable: () => false,
    openOcr: never('ocr'),
    countPages: never('countPages'),
    assemblePdf: never('pdf'),
    findDuplicate: never('duplicate check'),
    archivalCodeTaken: never('archival code check'),
    storeItem: never('store'),
    replaceItem: never('replace'),
    itemExists: never('exists'),
    loadStored: never('load'),
    indexItems: never('index'),
    audit: async (e) => {
      audit.push(e);
    },
  };
}

describe('ingest journal that cannot be written', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir('archive-journal-');
  });
  afterAll(() => cleanup(dir));

  it('pauses the job like a crash: nothing announced, failed or audited past the last written step; resumes once writable, each item once', async () => {
    const jobs = new FillingDisk(dir);
    const stage = await jobs.stage('0000000aa-0a0a0a0a');
    const items = [1, 2].map((n) => ({
      n,
      label: `secret-${n}.jpg`,
      itemId: `I000000000${n}`,
      sources: [{ name: 'p.jpg', staged: `files/${n}/p.jpg`, sha256: '0'.repeat(64), bytes: 3 }],
      metadata: { classification: '秘密' as const },
      stage: 'received' as const,
      outcome: 'pending' as const,
      pagesDone: 0,
    }));
    for (const it of items) {
      await mkdir(join(stage.dir, 'files', String(it.n)), { recursive: true });
      await writeFile(join(stage.dir, it.sources[0].staged), 'abc');
    }
    const now = new Date().toISOString();
    await stage.commit({
      id: '0000000aa-0a0a0a0a',
      createdAt: now,
      updatedAt: now,
      via: 'cli',
      actor: { name: 'console', role: 'console', source: 'console' },
      options: { posts: ['BGS'], classification: '内部' },
      state: 'queued',
      items,
      problems: [],
    });

    const audit: AuditEvent[] = [];
    const runner = new IngestRunner(jobs, deps(dir, audit), { pageConcurrency: 1, retryMs: 300 });
    const events: Array<{ state: string; waitingReason?: string }> = [];
    runner.on('progress', (e) => events.push(e));
    jobs.full = true;
    runner.start();
    try {
      await waitFor(async () => (jobs.failures >= 3 ? true : undefined), 20_000, 'the runner retried');
      // On disk the job is as submitted; nothing was audited as refused and nothing marked failed.
      const onDisk = await jobs.load('0000000aa-0a0a0a0a');
      expect(onDisk.state).toBe('queued');
      expect(onDisk.items.map((i) => i.outcome)).toEqual(['pending', 'pending']);
      expect(audit).toEqual([]);
      expect(events.at(-1)).toMatchObject({ state: 'waiting', waitingReason: expect.stringContaining('无法写入任务') });
      expect(await readdir(join(dir, 'jobs', '0000000aa-0a0a0a0a'))).toContain('files');

      jobs.full = false;
      const done = await waitFor(
        async () => {
          const j = await jobs.load('0000000aa-0a0a0a0a');
          return j.state === 'done' ? j : undefined;
        },
        20_000,
        'job done once the disk is writable',
      );
      expect(done.items.map((i) => [i.outcome, i.error?.code])).toEqual([
        ['refused', 'ABOVE_CEILING'],
        ['refused', 'ABOVE_CEILING'],
      ]);
      // Each refusal audited exactly once, then the job's start and end.
      expect(audit.filter((e) => e.action === 'ingest.refused').map((e) => e.target)).toEqual(['secret-1.jpg', 'secret-2.jpg']);
      // The job's end is recorded just after the journal says done (the staged files go first).
      await waitFor(async () => audit.some((e) => e.action === 'ingest.job.done') || undefined, 20_000, 'ingest.job.done recorded');
      expect(audit.filter((e) => e.action === 'ingest.job.done')).toHaveLength(1);
    } finally {
      await runner.stop();
    }
  });
});
