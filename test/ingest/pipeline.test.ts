import { execFileSync } from 'node:child_process';
import { copyFile, cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ItemStore, JobStore, type Job } from '../../ingest/index.ts';
import { cer } from '../../ingest/ocr/cer.ts';
import { verifyAudit } from '../../security/index.ts';
import { SHARED, cleanup, consoleHealth, runCli, startServe, tempDir, untilServing, waitFor } from '../support/appliance.ts';
import { eicarBytes, startTestClamd, type TestClamd } from '../support/clamd.ts';

const SAMPLES = join(SHARED, 'samples/items');

/** A PNG whose header claims 50,000 × 50,000 pixels (a decompression bomb's calling card). */
function bombPng(): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(50_000, 0);
  ihdr.writeUInt32BE(50_000, 4);
  ihdr.set([8, 0, 0, 0, 0], 8);
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td) >>> 0);
    return Buffer.concat([len, td, crc]);
  };
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', Buffer.alloc(16)), chunk('IEND', Buffer.alloc(0))]);
}

async function gtText(id: string): Promise<string> {
  const gt = JSON.parse(await readFile(join(SHARED, 'samples/gt', `${id}.json`), 'utf8')) as { pages: Array<{ lines: string[] }> };
  return gt.pages.map((p) => p.lines.join('')).join('');
}

const squash = (s: string) => s.normalize('NFKC').replace(/\s+/g, '');

async function verifyAll(dataDir: string): Promise<ItemStore> {
  const store = await ItemStore.open(dataDir);
  for (const id of store.ids()) expect(await store.verifyItem(id), id).toMatchObject({ status: 'ok' });
  return store;
}

describe('ingest pipeline (real clamd, real OCR, real Meilisearch)', () => {
  let clamd: TestClamd;
  let work: string;
  beforeAll(async () => {
    clamd = await startTestClamd();
    work = await tempDir('archive-ingest-');
  });
  afterAll(async () => {
    await clamd?.stop();
    await cleanup(work);
  });

  it('ingests a mixed batch with a CSV: archived, quarantined, refused and reported each as they should be', async () => {
    const batch = join(work, 'batch');
    await mkdir(batch, { recursive: true });
    await cp(join(SAMPLES, 'S0003'), join(batch, 'S0003'), { recursive: true });
    await copyFile(join(SAMPLES, 'S0005.pdf'), join(batch, 'S0005.pdf'));
    await writeFile(join(batch, 'virus.jpg'), eicarBytes());
    await writeFile(join(batch, 'broken.tif'), Buffer.concat([Buffer.from('II*\0', 'latin1'), Buffer.alloc(200, 7)]));
    await writeFile(join(batch, 'empty.png'), '');
    await writeFile(join(batch, 'bomb.png'), bombPng());
    await writeFile(
      join(batch, 'items.csv'),
      '文件,档号,题名,文号,日期,保管期限,密级,岗位\n' +
        'S0003,J012-2014-Y-BGS-0001,关于机构编制的通知,呼编办发〔2014〕12号,2014-03-12,永久,内部,BGS；ZH\n' +
        'S0005.pdf,J012-2014-D30-BGS-0002,第二件,,2014年5月1日,30年,公开,BGS\n',
    );
    const dataDir = join(work, 'data-a');
    const r = await runCli(['ingest', batch, '--manifest', join(batch, 'items.csv'), '--posts', 'BGS', '--json'], { ARCHIVE_DATA_DIR: dataDir, ARCHIVE_CLAMD: clamd.address, ARCHIVE_MEILI_PORT: '0' });
    expect(r.code, r.err).toBe(1); // some items were refused: not a clean success
    const res = JSON.parse(r.out.trim().split('\n').pop()!) as { items: Array<{ label: string; outcome: string; itemId?: string; error?: { code: string } }>; problems: Array<{ code: string }> };
    const byLabel = Object.fromEntries(res.items.map((i) => [i.label, i]));
    expect(byLabel['S0003'].outcome).toBe('archived');
    expect(byLabel['S0005.pdf'].outcome).toBe('archived');
    expect(byLabel['virus.jpg']).toMatchObject({ outcome: 'quarantined', error: { code: 'INFECTED' } });
    expect(byLabel['broken.tif']).toMatchObject({ outcome: 'failed' });
    expect(byLabel['broken.tif'].error!.code).toMatch(/CORRUPT/);
    expect(byLabel['bomb.png']).toMatchObject({ outcome: 'failed' });
    expect(byLabel['bomb.png'].error!.code).toMatch(/TOO_LARGE|BOMB|LIMIT/);
    expect(res.problems.map((p) => p.code)).toEqual(['EMPTY_FILE']);

    // Every archived item verifies against its manifest and holds a searchable PDF of its text.
    const store = await verifyAll(dataDir);
    expect(store.count).toBe(2);
    const meta = (await store.getItem(byLabel['S0003'].itemId!))!;
    expect(meta).toMatchObject({
      archivalCode: 'J012-2014-Y-BGS-0001',
      fonds: 'J012',
      year: 2014,
      retention: 'Y',
      department: 'BGS',
      itemNo: 1,
      posts: ['BGS', 'ZH'],
      classification: '内部',
      pageCount: 2,
    });
    for (const [label, gt] of [
      ['S0003', 'S0003'],
      ['S0005.pdf', 'S0005'],
    ]) {
      const pdf = store.documentPath(byLabel[label].itemId!);
      execFileSync('qpdf', ['--check', pdf]);
      const text = squash(execFileSync('pdftotext', ['-enc', 'UTF-8', pdf, '-']).toString('utf8'));
      expect(cer(text, squash(await gtText(gt))), label).toBeLessThan(0.1);
    }
    // The infected file is in quarantine with its record, and the audit trail says so.
    const q = await readdir(join(dataDir, 'quarantine'));
    expect(q).toHaveLength(1);
    expect(JSON.parse(await readFile(join(dataDir, 'quarantine', q[0], 'record.json'), 'utf8'))).toMatchObject({ infectedFile: 'virus.jpg', signature: expect.stringContaining('Eicar') });
    const audit = await verifyAudit(join(dataDir, 'audit'));
    expect(audit.ok).toBe(true);
    const trail = (await readdir(join(dataDir, 'audit'))).filter((f) => f.endsWith('.jsonl'));
    const records = (await Promise.all(trail.map((f) => readFile(join(dataDir, 'audit', f), 'utf8'))))
      .join('')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { action: string; outcome: string });
    expect(records.filter((x) => x.action === 'ingest.quarantine')).toHaveLength(1);
    expect(records.filter((x) => x.action === 'ingest.item' && x.outcome === 'success')).toHaveLength(2);

    // The same files again: recognised, not archived twice.
    const again = await runCli(['ingest', join(batch, 'S0003'), '--posts', 'BGS', '--json'], { ARCHIVE_DATA_DIR: dataDir, ARCHIVE_CLAMD: clamd.address, ARCHIVE_MEILI_PORT: '0' });
    expect(again.code, again.err).toBe(0);
    expect(JSON.parse(again.out.trim())).toMatchObject({ items: [{ outcome: 'duplicate', duplicateOf: byLabel['S0003'].itemId }] });
    expect((await ItemStore.open(dataDir)).count).toBe(2);
  });

  it('refuses a CSV with missing columns and bad rows before anything is processed', async () => {
    const batch = join(work, 'badcsv');
    await mkdir(batch, { recursive: true });
    await copyFile(join(SAMPLES, 'S0005.pdf'), join(batch, 'a.pdf'));
    await writeFile(join(batch, 'm.csv'), '档号,题名\nJ012-2014-Y-BGS-0001,x\n');
    const dataDir = join(work, 'data-b');
    const r = await runCli(['ingest', batch, '--manifest', join(batch, 'm.csv'), '--posts', 'BGS'], { ARCHIVE_DATA_DIR: dataDir, ARCHIVE_CLAMD: clamd.address });
    expect(r.code).toBe(1);
    expect(r.err).toContain('CSV_INVALID');
    expect(r.err).toContain('缺少必需的列：文件');
    await writeFile(join(batch, 'm.csv'), '文件,档号,岗位\n../etc/passwd,J012-2014-Y-BGS-0001,BGS\na.pdf,not-a-code,BGS\n');
    const r2 = await runCli(['ingest', batch, '--manifest', join(batch, 'm.csv')], { ARCHIVE_DATA_DIR: dataDir, ARCHIVE_CLAMD: clamd.address });
    expect(r2.code).toBe(1);
    expect(r2.err).toContain('第 2 行“文件”');
    expect(r2.err).toContain('第 3 行“档号”');
    expect(await new JobStore(dataDir).list()).toEqual([]);
  });

  it('takes a settled batch from the hot folder, and leaves a refused one in place with a report', async () => {
    const dataDir = join(work, 'data-inbox');
    const app = await startServe({ ARCHIVE_CLAMD: clamd.address, ARCHIVE_LOG_LEVEL: 'warn', ARCHIVE_INBOX_SETTLE_MS: '1000' }, dataDir);
    try {
      await untilServing(app);
      const inbox = join(dataDir, 'inbox');
      // A bad CSV: nothing is taken; the files stay and a report says why.
      await mkdir(join(inbox, 'scan1'), { recursive: true });
      await copyFile(join(SAMPLES, 'S0008/page-002.jpg'), join(inbox, 'scan1', 'p1.jpg'));
      await writeFile(join(inbox, 'items.csv'), '文件,档号,岗位\nscan1,bad-code,BGS\n');
      const report = await waitFor(async () => (await readdir(inbox)).find((n) => n.startsWith('导入结果-')), 30_000, 'refusal report');
      expect(await readFile(join(inbox, report), 'utf8')).toContain('档号');
      expect(await new JobStore(dataDir).list()).toEqual([]);
      // Fixed by the archivist: the batch is taken, archived, and the inbox emptied.
      await writeFile(join(inbox, 'items.csv'), '文件,档号,岗位\nscan1,J012-2015-D10-BGS-0007,BGS\n');
      const job = await waitFor(
        async () => {
          const [j] = await new JobStore(dataDir).list();
          return j?.state === 'done' ? j : undefined;
        },
        120_000,
        'inbox job done',
      );
      expect(job).toMatchObject({ via: 'inbox', items: [{ outcome: 'archived', metadata: { archivalCode: 'J012-2015-D10-BGS-0007' } }] });
      expect((await readdir(inbox)).filter((n) => !n.startsWith('导入结果-'))).toEqual([]);
    } finally {
      await app.stop();
    }
  });

  it('survives kill -9 mid-batch: resumes, nothing missing, nothing twice; waits while clamd is down', async () => {
    const dataDir = join(work, 'data-c');
    const env = { ARCHIVE_CLAMD: clamd.address, ARCHIVE_LOG_LEVEL: 'warn' };
    let app = await startServe(env, dataDir);
    await untilServing(app);
    const sub = await runCli(['ingest', join(SAMPLES, 'S0002.tif'), join(SAMPLES, 'S0007.tif'), '--posts', 'BGS', '--json'], { ARCHIVE_DATA_DIR: dataDir, ARCHIVE_CLAMD: clamd.address });
    expect(sub.code, sub.err).toBe(0);
    const jobId = (JSON.parse(sub.out.trim()) as { job: string }).job;
    const jobs = new JobStore(dataDir);
    // Kill the appliance once some OCR is done but the batch is not.
    await waitFor(
      async () => {
        const j = await jobs.load(jobId);
        return j.items.some((i) => i.pagesDone >= 1) && j.state !== 'done' ? true : undefined;
      },
      180_000,
      'OCR under way',
    );
    await app.stop('SIGKILL');
    app = await startServe(env, dataDir);
    const done = await waitFor(
      async () => {
        const j = await jobs.load(jobId);
        return j.state === 'done' ? j : undefined;
      },
      300_000,
      'job resumed and done',
    );
    expect(done.items.map((i) => i.outcome)).toEqual(['archived', 'archived']);
    const store = await verifyAll(dataDir);
    expect(store.count).toBe(2);

    // Scanner down: the job waits and says why; nothing is archived unscanned.
    const socket = clamd.socketPath;
    await clamd.stop();
    const one = join(work, 'one');
    await mkdir(one, { recursive: true });
    await copyFile(join(SAMPLES, 'S0008/page-001.jpg'), join(one, 'p1.jpg'));
    const sub2 = await runCli(['ingest', one, '--posts', 'BGS', '--json'], { ARCHIVE_DATA_DIR: dataDir, ARCHIVE_CLAMD: clamd.address });
    const job2 = (JSON.parse(sub2.out.trim()) as { job: string }).job;
    const waiting: Job = await waitFor(
      async () => {
        const j = await jobs.load(job2);
        return j.state === 'waiting' ? j : undefined;
      },
      60_000,
      'job waiting for clamd',
    );
    expect(waiting.waitingReason).toContain('病毒扫描');
    await new Promise((r) => setTimeout(r, 3_000));
    expect((await jobs.load(job2)).items[0].stage).toBe('received');
    expect((await ItemStore.open(dataDir)).count).toBe(2);
    const health = (await (await consoleHealth(app.base, app.dataDir)).json()) as { components: { clamd: { status: string } } };
    expect(health.components.clamd.status).toBe('down');
    clamd = await startTestClamd({ socketPath: socket });
    const done2 = await waitFor(
      async () => {
        const j = await jobs.load(job2);
        return j.state === 'done' ? j : undefined;
      },
      120_000,
      'job done after clamd is back',
    );
    expect(done2.items[0].outcome).toBe('archived');
    await app.stop();
    expect((await verifyAll(dataDir)).count).toBe(3);
    // Three OCR runs, a kill and two restarts: over the default 120 s on a busy 2-core machine.
  }, 900_000);
});
