import { spawn } from 'node:child_process';
import { truncateSync } from 'node:fs';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../core/config.ts';
import { consoleServices } from '../../appliance/console-services.ts';
import { ItemStore, listTree } from '../../ingest/index.ts';
import { createSearchService } from '../../search/index.ts';
import { parseVerificationKeys, verifyAudit } from '../../security/index.ts';
import { addRecipient } from '../../custody/backup-keys.ts';
import { createBackup } from '../../custody/backup.ts';
import { listBackupRecords } from '../../custody/backup-records.ts';
import { runIntegrityCheck } from '../../custody/integrity.ts';
import { CLI, cleanup, tempDir } from '../support/appliance.ts';
import { makeItem, PASSPHRASE, treeHashes } from './backup-support.ts';

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const p = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ARCHIVE_MEILI_PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => res({ code, stdout, stderr }));
  });
}

async function searchIds(cfg: Config, qs: string[]): Promise<string[][]> {
  const s = await consoleServices(cfg);
  try {
    const search = createSearchService(s.conn, cfg.dataDir);
    await search.init();
    const out: string[][] = [];
    for (const q of qs) out.push((await search.search({ posts: ['BGS-KY'], clearance: '内部' }, { q, limit: 50 })).items.map((i) => i.itemId).sort());
    return out;
  } finally {
    await s.release();
  }
}

const itemFiles = (rel: string) => !rel.startsWith('.tmp') && rel !== 'index.jsonl' && rel !== '.index-dirty';

describe('backup round trip: create → verify → restore (full + incremental) → same store', () => {
  let root: string;
  let src: Config;
  let pass: string;
  let keyfile: string;
  let signer: string;

  beforeAll(async () => {
    root = await tempDir('backup-rt-');
    src = loadConfig({ overrides: { dataDir: join(root, 'src') } });
    const store = await ItemStore.open(src.dataDir);
    for (let i = 1; i <= 4; i++) await makeItem(store, root, { itemNo: i, pages: 2 + (i % 2) });
    pass = join(root, 'pass.txt');
    await writeFile(pass, `${PASSPHRASE}\n`);
    // Before any recipient is registered, no backup: a clear Chinese refusal, nothing written.
    const none = await cli(['--data-dir', src.dataDir, 'backup', 'create', '--out', join(root, 'none.bak')]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/BACKUP_NO_RECIPIENTS/);
    expect(none.stderr).toMatch(/尚未登记备份接收公钥/);
    // The secadmin's key pair on "removable media", registered on the appliance.
    keyfile = join(root, 'usb', 'secadmin.key');
    await mkdir(join(root, 'usb'));
    await writeFile(join(root, 'short.txt'), '太短了\n');
    const weak = await cli(['backup', 'keygen', '--out', join(root, 'usb', 'weak.key'), '--passphrase-file', join(root, 'short.txt')]);
    expect(weak.code).toBe(1);
    expect(weak.stderr).toMatch(/BACKUP_WEAK_PASSPHRASE/);
    expect(await readdir(join(root, 'usb'))).toEqual([]);
    const kg = await cli(['backup', 'keygen', '--out', keyfile, '--passphrase-file', pass]);
    expect(kg.code, kg.stderr).toBe(0);
    expect((await stat(keyfile)).mode & 0o077).toBe(0);
    const add = await cli(['--data-dir', src.dataDir, 'backup', 'recipients', 'add', `${keyfile}.pub`]);
    expect(add.code, add.stderr).toBe(0);
    const list = await cli(['--data-dir', src.dataDir, '--json', 'backup', 'recipients', 'list']);
    expect(JSON.parse(list.stdout).recipients).toHaveLength(1);
    signer = (await cli(['--data-dir', src.dataDir, 'backup', 'signer'])).stdout.trim();
    expect(signer).toMatch(/^ARCHBK1-ED25519-/);
    // Index the source so both sides answer searches.
    const s = await consoleServices(src);
    try {
      const search = createSearchService(s.conn, src.dataDir);
      await search.init();
      await search.reindex(
        (async function* () {
          for (const id of store.ids()) yield await store.loadStored(id);
        })(),
      );
    } finally {
      await s.release();
    }
  });
  afterAll(() => cleanup(root));

  it('restores a full backup plus an incremental into an empty dir, integrity clean, same hashes and searches', async () => {
    const full = await cli(['--data-dir', src.dataDir, '--json', 'backup', 'create', '--out', join(root, 'full.bak')]);
    expect(full.code, full.stderr).toBe(0);
    const fullR = JSON.parse(full.stdout) as { backupId: string; kind: string; items: number; included: number };
    expect(fullR).toMatchObject({ kind: 'full', items: 4, included: 4 });

    // A fifth item and a metadata edit after the full backup: the incremental carries exactly those two.
    const store = await ItemStore.open(src.dataDir);
    await makeItem(store, root, { itemNo: 5 });
    await store.updateMetadata(store.ids()[0], { title: '关于档案数字化工作的补充通知' });
    const inc = await createBackup(src, { out: join(root, 'inc.bak'), incrementalFrom: fullR.backupId });
    expect(inc).toMatchObject({ kind: 'incremental', parentId: fullR.backupId, items: 5, included: 2 });
    expect((await listBackupRecords(src.dataDir)).map((r) => r.backupId)).toEqual([fullR.backupId, inc.backupId]);

    // The sysadmin's check needs no secret, and says what it did not check.
    const shallow = await cli(['--data-dir', src.dataDir, 'backup', 'verify', join(root, 'inc.bak'), join(root, 'full.bak')]);
    expect(shallow.code, shallow.stderr).toBe(0);
    expect(shallow.stdout).toMatch(/结构与签名完好/);
    expect(shallow.stdout).toMatch(/内容未校验/);
    const verify = await cli(['--json', 'backup', 'verify', join(root, 'inc.bak'), join(root, 'full.bak'), '--identity', keyfile, '--passphrase-file', pass, '--signer', signer]);
    expect(verify.code, verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, chain: true, contentChecked: true });
    // On a pipe, a check this short prints its result and no progress line (a line at 0.0 MB, the
    // only one, read as if nothing had been checked).
    const plain = await cli(['backup', 'verify', join(root, 'full.bak'), '--identity', keyfile, '--passphrase-file', pass, '--signer', signer]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toMatch(/备份完好/);
    expect(plain.stderr).not.toMatch(/MB\/s/);
    // A wrong passphrase for the identity: refused, in Chinese.
    await writeFile(join(root, 'wrong.txt'), 'not the passphrase at all\n');
    const wrongPass = await cli(['backup', 'verify', join(root, 'full.bak'), '--identity', keyfile, '--passphrase-file', join(root, 'wrong.txt'), '--signer', signer]);
    expect(wrongPass.code).toBe(1);
    expect(wrongPass.stderr).toMatch(/BACKUP_BAD_PASSPHRASE/);
    // Restore trusts no signer by default on a machine without one: it says to give --signer.
    const noSigner = await cli(['--data-dir', join(root, 'nosigner'), 'backup', 'restore', join(root, 'full.bak'), '--identity', keyfile, '--passphrase-file', pass, '--no-reindex'], {
      ARCHIVE_DATA_DIR: join(root, 'no-appliance-here'),
    });
    expect(noSigner.code).toBe(1);
    expect(noSigner.stderr).toMatch(/BACKUP_SIGNER_REQUIRED/);

    // An incremental alone cannot be restored.
    const alone = await cli(['--data-dir', join(root, 'alone'), 'backup', 'restore', join(root, 'inc.bak'), '--identity', keyfile, '--passphrase-file', pass, '--signer', signer, '--no-reindex']);
    expect(alone.code).toBe(1);
    expect(alone.stderr).toMatch(/BACKUP_CHAIN_BROKEN/);

    const target = join(root, 'restored');
    const restore = await cli([
      '--data-dir',
      target,
      '--json',
      'backup',
      'restore',
      join(root, 'full.bak'),
      join(root, 'inc.bak'),
      '--identity',
      keyfile,
      '--passphrase-file',
      pass,
      '--signer',
      signer,
    ]);
    expect(restore.code, restore.stderr).toBe(0);
    expect(JSON.parse(restore.stdout)).toMatchObject({ items: 5, indexed: { items: 5 } });

    // Every item file byte for byte.
    const a = await treeHashes(join(src.dataDir, 'items'), itemFiles);
    const b = await treeHashes(join(target, 'items'), itemFiles);
    expect(b.size).toBe(a.size);
    expect([...b]).toEqual([...a]);
    expect((await ItemStore.open(target)).ids()).toEqual(store.ids());
    expect((await verifyAudit(join(target, 'audit'))).ok).toBe(true);
    // A backup carries no sealing key: the restored trail went on under a new one (a new
    // verification key for the auditor), and the two keys together prove every seal.
    const vkOf = async (d: string) => parseVerificationKeys(await readFile(join(d, 'config', 'audit-verification-key.txt'), 'utf8'));
    const keys = [...(await vkOf(src.dataDir)), ...(await vkOf(target))];
    expect(keys[0].equals(keys[1])).toBe(false);
    expect(await verifyAudit(join(target, 'audit'), { keys, requireSealKey: true })).toMatchObject({ ok: true, seals: { status: 'verified' } });
    // Private like a data dir the appliance made itself (selfcheck fails a folder others can read).
    const loose = (await listTree(target)).dirs.filter((d) => /^(config|items|audit|jobs)(\/|$)/.test(d));
    expect(loose).toContain('config/backups');
    for (const d of ['', ...loose]) expect({ d, mode: (await stat(join(target, d))).mode & 0o077 }).toEqual({ d, mode: 0 });

    const dst = loadConfig({ overrides: { dataDir: target } });
    const s = await consoleServices(dst);
    try {
      const search = createSearchService(s.conn, dst.dataDir);
      const report = await runIntegrityCheck(dst, { search });
      expect(report.problems).toEqual([]);
      expect(report.ok).toBe(true);
      expect(report.counts).toMatchObject({ total: 5, ok: 5 });
    } finally {
      await s.release();
    }
    // Searches: the source was reindexed after its changes, then both answer the same.
    await reindexSource();
    const qs = ['档案', '补充通知', '第2页'];
    const there = await searchIds(dst, qs);
    expect(there).toEqual(await searchIds(src, qs));
    expect(there[0].length).toBe(5);
    expect(there[1].length).toBe(1);
  });

  it('refuses to overwrite an existing output file and records nothing', async () => {
    const before = (await listBackupRecords(src.dataDir)).length;
    await expect(createBackup(src, { out: join(root, 'full.bak') })).rejects.toMatchObject({ code: 'BACKUP_OUT_EXISTS' });
    expect((await listBackupRecords(src.dataDir)).length).toBe(before);
  });

  it('a backup file that cannot be written is a clear I/O error, not an internal one', async () => {
    const out = join(root, 'blocked.bak');
    // The temp file's name taken already: the worker's exclusive create fails, as a full or read-only medium would.
    await writeFile(join(root, `.blocked.bak.${process.pid}.partial`), 'x');
    await expect(createBackup(src, { out })).rejects.toMatchObject({ code: 'BACKUP_IO', zh: expect.stringContaining('读写备份文件失败') });
    expect(await readdir(root)).not.toContain('blocked.bak');
  });

  it('a file cut short while it is read stops the backup: clear error, no backup file, no partial file', async () => {
    const dir = join(root, 'shrinking');
    const cfg = loadConfig({ overrides: { dataDir: join(dir, 'data') } });
    const store = await ItemStore.open(cfg.dataDir);
    // Enough files that the last item's lie beyond what the backup reads ahead (16 files).
    for (let i = 1; i <= 8; i++) await makeItem(store, dir, { itemNo: i, pages: 2 });
    await register(cfg.dataDir);
    const last = store.ids().sort().at(-1)!;
    const victim = join(store.itemDir(last), 'pages', '0002.jpg');
    let cut = false;
    const out = join(dir, 'cut.bak');
    const attempt = createBackup(cfg, {
      out,
      onProgress: () => {
        // The first progress report comes while the first files are read; the last item's are still ahead.
        if (!cut) truncateSync(victim, 10);
        cut = true;
      },
    });
    await expect(attempt).rejects.toMatchObject({ code: 'BACKUP_SOURCE_CHANGED', zh: expect.stringContaining('被截短') });
    expect(cut).toBe(true);
    expect(await readdir(dir)).not.toContain('cut.bak');
    expect((await readdir(dir)).filter((n) => n.includes('partial'))).toEqual([]);
    expect(await listBackupRecords(cfg.dataDir)).toEqual([]);
  });

  it('a backup aborted because the appliance stops removes its unfinished file and records why', async () => {
    const dir = join(root, 'aborted');
    const cfg = loadConfig({ overrides: { dataDir: join(dir, 'data') } });
    const store = await ItemStore.open(cfg.dataDir);
    for (let i = 1; i <= 8; i++) await makeItem(store, dir, { itemNo: i, pages: 2 });
    await register(cfg.dataDir);
    const stopping = new AbortController();
    const out = join(dir, 'stopped.bak');
    // Aborted at the first progress report: files are being read and sealed into the partial file.
    const attempt = createBackup(cfg, { out, signal: stopping.signal, onProgress: () => stopping.abort() });
    await expect(attempt).rejects.toMatchObject({ code: 'BACKUP_ABORTED', zh: expect.stringContaining('未完成的备份文件已删除') });
    expect((await readdir(dir)).filter((n) => n.includes('stopped'))).toEqual([]);
    expect(await listBackupRecords(cfg.dataDir)).toEqual([]);
    const audit = (await readFile(join(cfg.dataDir, 'audit', `audit-${new Date().getFullYear()}.jsonl`), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { action: string; outcome: string; details: { error?: string } });
    expect(audit.at(-1)).toMatchObject({ action: 'backup.create', outcome: 'failure', details: { error: 'BACKUP_ABORTED' } });
  });

  async function register(dataDir: string) {
    await addRecipient(dataDir, (await readFile(`${keyfile}.pub`, 'utf8')).trim(), { actor: { actor: 'console', role: '安全保密管理员', source: 'test' } });
  }

  async function reindexSource() {
    const store = await ItemStore.open(src.dataDir);
    const s = await consoleServices(src);
    try {
      const search = createSearchService(s.conn, src.dataDir);
      await search.reindex(
        (async function* () {
          for (const id of store.ids()) yield await store.loadStored(id);
        })(),
      );
    } finally {
      await s.release();
    }
  }
});
