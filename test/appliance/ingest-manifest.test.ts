import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ItemStore, JobStore } from '../../ingest/index.ts';
import { SHARED, cleanup, runCli, tempDir } from '../support/appliance.ts';
import { startTestClamd, type TestClamd } from '../support/clamd.ts';

describe('archive ingest --manifest CSV without PATH', () => {
  let clamd: TestClamd;
  let work: string;
  beforeAll(async () => {
    clamd = await startTestClamd();
    work = await tempDir('archive-manifest-only-');
  });
  afterAll(async () => {
    await clamd?.stop();
    await cleanup(work);
  });

  it('needs PATH or --manifest, and says so in Chinese', async () => {
    const r = await runCli(['ingest'], { ARCHIVE_DATA_DIR: join(work, 'data-usage') });
    expect(r.code).toBe(1);
    expect(r.err).toContain('USAGE');
    expect(r.err).toContain('--manifest');
  });

  it('archives exactly the items the CSV names, relative to the CSV, from any working directory', async () => {
    const stick = join(work, 'stick', '2021');
    await mkdir(join(stick, 'scans'), { recursive: true });
    await copyFile(join(SHARED, 'samples/items/S0005.pdf'), join(stick, 'scans', 'S0005.pdf'));
    // Not named by the CSV: must not be taken.
    await copyFile(join(SHARED, 'samples/items/S0005.pdf'), join(stick, 'stray.pdf'));
    await writeFile(join(stick, 'items.csv'), '文件,档号,题名,日期,保管期限,密级,岗位\nscans/S0005.pdf,J220-2021-Y-SYDJ-0286,关于加强机构编制电子政务建设的调研报告,2021-05-23,永久,公开,BGS\n');
    const dataDir = join(work, 'data');
    const r = await runCli(['ingest', '--manifest', join(stick, 'items.csv'), '--json'], {
      ARCHIVE_DATA_DIR: dataDir,
      ARCHIVE_CLAMD: clamd.address,
      ARCHIVE_MEILI_PORT: '0',
      ARCHIVE_LOG_LEVEL: 'warn',
    });
    expect(r.code, r.err).toBe(0);
    const res = JSON.parse(r.out.trim().split('\n').pop()!) as { ok: boolean; items: Array<{ label: string; outcome: string; itemId: string }> };
    expect(res.ok).toBe(true);
    expect(res.items).toHaveLength(1);
    expect(res.items[0]).toMatchObject({ label: 'scans/S0005.pdf', outcome: 'archived' });
    const store = await ItemStore.open(dataDir);
    expect(store.count).toBe(1);
    expect(await store.getItem(res.items[0].itemId)).toMatchObject({ archivalCode: 'J220-2021-Y-SYDJ-0286', title: '关于加强机构编制电子政务建设的调研报告', posts: ['BGS'], classification: '公开' });
    const [job] = await new JobStore(dataDir).list();
    expect(job.items.map((i) => i.label)).toEqual(['scans/S0005.pdf']);
  }, 600_000);
});
