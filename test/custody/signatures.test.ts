import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.ts';
import { ItemStore } from '../../ingest/index.ts';
import { AuditLog, exportAudit, scanFile } from '../../security/index.ts';
import { importSignatures } from '../../custody/signatures.ts';
import { runIntegrityCheck } from '../../custody/integrity.ts';
import { CLI, cleanup, tempDir } from '../support/appliance.ts';
import { CLAMAV_FIXTURES, eicarBytes, startTestClamd, type TestClamd } from '../support/clamd.ts';
import { makeItem, treeHashes } from './backup-support.ts';

describe('archive signatures import (offline update) and the ClamAV re-scan', () => {
  let root: string;
  let clamd: TestClamd;
  let audit: AuditLog;

  beforeAll(async () => {
    root = await tempDir('signatures-');
    clamd = await startTestClamd();
    audit = new AuditLog(join(root, 'audit'));
  });
  afterAll(async () => {
    await clamd?.stop();
    await cleanup(root);
  });

  const dbState = async () => ({ names: (await readdir(clamd.databaseDir)).sort(), hashes: [...(await treeHashes(clamd.databaseDir))], siblings: (await readdir(dirname(clamd.databaseDir))).sort() });

  it('accepts a valid .hdb: clamd detects with it once the import returns', async () => {
    const sample = randomBytes(300);
    const samplePath = join(root, 'sample.bin');
    await writeFile(samplePath, sample);
    expect(await scanFile(clamd.address, samplePath)).toEqual({ verdict: 'clean' });
    const media = join(root, 'media');
    await mkdir(media);
    await writeFile(join(media, 'archive-test.hdb'), `${createHash('md5').update(sample).digest('hex')}:${sample.length}:Archive.Test.Sample\n`);
    await writeFile(join(media, 'README.txt'), 'not a database');

    const r = await importSignatures(media, { databaseDir: clamd.databaseDir, clamd: clamd.address, audit });
    expect(r.files.map((f) => f.name)).toEqual(['archive-test.hdb']);
    expect(r.ignored).toEqual(['README.txt']);
    const v = await scanFile(clamd.address, samplePath);
    expect(v.verdict).toBe('infected');
    expect(v.verdict === 'infected' && v.signature).toMatch(/^Archive\.Test\.Sample/);
    // The databases already there still work.
    const eicar = join(root, 'eicar.txt');
    await writeFile(eicar, eicarBytes());
    expect((await scanFile(clamd.address, eicar)).verdict).toBe('infected');
    const recs = [];
    for await (const rec of exportAudit(audit.dir, {})) recs.push(rec);
    expect(recs.at(-1)).toMatchObject({ action: 'signatures.import', outcome: 'success', details: { files: [{ name: 'archive-test.hdb' }] } });
  });

  it('refuses a garbage .cvd and a malformed .hdb, changing nothing', async () => {
    const before = await dbState();
    const bad = join(root, 'bad');
    await mkdir(bad);
    await writeFile(join(bad, 'daily.cvd'), randomBytes(4096));
    await expect(importSignatures(join(bad, 'daily.cvd'), { databaseDir: clamd.databaseDir, clamd: clamd.address, audit })).rejects.toMatchObject({
      code: 'SIGNATURES_INVALID',
      zh: expect.stringMatching(/daily\.cvd/),
    });
    await writeFile(join(bad, 'broken.hdb'), 'this is not a signature\n');
    await expect(importSignatures(join(bad, 'broken.hdb'), { databaseDir: clamd.databaseDir, clamd: clamd.address, audit })).rejects.toMatchObject({
      code: 'SIGNATURES_INVALID',
      zh: expect.stringMatching(/无法加载/),
    });
    expect(await dbState()).toEqual(before);
    const recs = [];
    for await (const rec of exportAudit(audit.dir, {})) recs.push(rec);
    expect(recs.slice(-2).map((r) => [r.action, r.outcome])).toEqual([
      ['signatures.import', 'failure'],
      ['signatures.import', 'failure'],
    ]);

    // The console command says the same, in Chinese, with a non-zero exit.
    const out = await new Promise<{ code: number | null; stderr: string }>((res) => {
      const p = spawn(process.execPath, [CLI, '--data-dir', join(root, 'data'), 'signatures', 'import', join(bad, 'daily.cvd'), '--database-dir', clamd.databaseDir], {
        env: { ...process.env, ARCHIVE_CLAMD: clamd.address },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      p.stderr.on('data', (d) => (stderr += d));
      p.on('exit', (code) => res({ code, stderr }));
    });
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/SIGNATURES_INVALID.*病毒库/);
    expect(await dbState()).toEqual(before);
  });

  it('a clamd that will not reload: everything goes back, the canary too', async () => {
    const before = await dbState();
    const media = join(root, 'media-refused');
    await mkdir(media);
    await writeFile(join(media, 'archive-refused.hdb'), `${createHash('md5').update('x').digest('hex')}:1:Archive.Test.Refused\n`);
    // Not a clamd we can make misbehave: a listener that answers RELOAD with something else.
    const sock = join(root, 'refusing.sock');
    const server = createServer((c) => {
      c.on('error', () => undefined);
      c.end('COMMAND UNAVAILABLE\n', () => c.destroy());
    });
    await new Promise<void>((r) => server.listen(sock, r));
    try {
      await expect(importSignatures(media, { databaseDir: clamd.databaseDir, clamd: `unix:${sock}`, audit })).rejects.toMatchObject({ code: 'SIGNATURES_RELOAD_FAILED' });
    } finally {
      await new Promise((r) => server.close(r));
    }
    expect(await dbState()).toEqual(before);
  });

  it('on a fresh machine (no clamd yet: it does not start without signatures) installs the tested set, and clamd starts with it', async () => {
    const fresh = join(root, 'fresh-db');
    await mkdir(fresh);
    const media = join(root, 'media-first');
    await mkdir(media);
    await copyFile(join(CLAMAV_FIXTURES, 'test.hdb'), join(media, 'test.hdb'));
    const r = await importSignatures(media, { databaseDir: fresh, clamd: `unix:${join(root, 'no-clamd.sock')}`, audit });
    expect(r.loaded).toBe(false);
    expect(r.warnings.join('\n')).toMatch(/clamd 未运行.*systemctl start clamav-daemon/);
    expect(r.status.engine).toMatch(/^\d+\.\d+/);
    expect((await readdir(fresh)).sort()).toEqual(['archive-reload-canary.hdb', 'test.hdb']);
    const recs = [];
    for await (const rec of exportAudit(audit.dir, {})) recs.push(rec);
    expect(recs.at(-1)).toMatchObject({ action: 'signatures.import', outcome: 'success', details: { loaded: false } });
    const started = await startTestClamd({ databaseDir: fresh });
    try {
      const eicar = join(root, 'eicar-fresh.txt');
      await writeFile(eicar, eicarBytes());
      expect((await scanFile(started.address, eicar)).verdict).toBe('infected');
    } finally {
      await started.stop();
    }
    expect(await readdir(fresh)).toContain('test.hdb');
  });

  it('archive verify --scan finds a virus inside a stored item', async () => {
    const cfg = loadConfig({ overrides: { dataDir: join(root, 'data'), clamd: clamd.address } });
    const store = await ItemStore.open(cfg.dataDir);
    const clean = await makeItem(store, root, { itemNo: 1 });
    const s = await (
      await import('../support/staged-item.ts')
    ).stageItem(root, { pages: 1, originals: [{ name: 'attachment.com', bytes: eicarBytes() }], meta: { archivalCode: 'J012-2014-Y-BGS-0002' } });
    await writeFile(join(s.dir, 'document.pdf'), await (await import('./backup-support.ts')).pdfWithPages(1));
    const infected = await store.putItem(s);
    const r = await runIntegrityCheck(cfg, { scan: true });
    expect(r.security.infected).toEqual([{ itemId: infected.itemId, path: 'original/attachment.com', signature: expect.stringMatching(/Eicar/i) }]);
    expect(r.items.find((i) => i.itemId === infected.itemId)).toMatchObject({ status: 'unsafe' });
    expect(r.items.find((i) => i.itemId === clean.itemId)).toBeUndefined();
    expect(r.security.scanned).toBe(2);
    expect(r.ok).toBe(false);
    expect(JSON.parse(await readFile(join(cfg.dataDir, 'config', 'integrity-latest.json'), 'utf8')).security.infected).toHaveLength(1);
  });
});
