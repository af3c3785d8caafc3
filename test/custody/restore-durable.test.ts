import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.ts';
import { ensureDataDir, RESTORE_INCOMPLETE } from '../../core/index.ts';
import { ItemStore } from '../../ingest/index.ts';
import type { BackupOpenKey } from '../../custody/backup-crypto.ts';
import { createBackup } from '../../custody/backup.ts';
import { restoreBackup } from '../../custody/backup-restore.ts';
import { cleanup, runCli, tempDir } from '../support/appliance.ts';
import { craftBackup, enrol, failure, makeItem, makeSecadmin, treeHashes, type Secadmin } from './backup-support.ts';
import { loadOrCreateSigningKey, type SigningKey } from '../../custody/backup-keys.ts';

const CHILD = join(import.meta.dirname, 'restore-crash-child.ts');

/** Run a restore in its own process and kill it (SIGKILL) when it reaches `stage`. */
function restoreKilledAt(file: string, sec: Secadmin, signer: string, target: string, stage: string): Promise<{ signal: NodeJS.Signals | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', CHILD, file, sec.identityPath, sec.passPath, signer, target, stage], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout!.on('data', (d) => (out += d));
    p.stderr!.on('data', (d) => (err += d));
    p.on('exit', (_code, signal) => resolve({ signal, out, err }));
  });
}

describe('restore: durable before done, and a cut-off restore is never taken for a whole one', () => {
  let root: string;
  let dataDir: string;
  let sec: Secadmin;
  let KEY: BackupOpenKey;
  let signing: SigningKey;
  let goodFile: string;

  beforeAll(async () => {
    root = await tempDir('restore-durable-');
    dataDir = join(root, 'data');
    const cfg = loadConfig({ overrides: { dataDir } });
    sec = await makeSecadmin(root);
    KEY = await enrol(dataDir, sec);
    signing = await loadOrCreateSigningKey(dataDir);
    const store = await ItemStore.open(dataDir);
    for (let i = 1; i <= 3; i++) await makeItem(store, root, { itemNo: i, originalBytes: 200_000 });
    goodFile = join(root, 'good.bak');
    await createBackup(cfg, { out: goodFile });
  });
  afterAll(() => cleanup(root));

  it('a finished restore leaves no marker, the same files, and a data dir the appliance opens (control)', async () => {
    const target = join(root, 'whole');
    await restoreBackup([goodFile], { dataDir: target, key: KEY, reindex: false });
    expect(existsSync(join(target, RESTORE_INCOMPLETE))).toBe(false);
    expect((await readdir(target)).filter((n) => n.startsWith('.'))).toEqual([]);
    await ensureDataDir(target);
    // items/index.jsonl is the store's own derived list, not carried by a backup.
    const carried = (f: string) => f !== 'index.jsonl';
    const src = await treeHashes(join(dataDir, 'items'), carried);
    expect(src.size).toBeGreaterThan(10);
    expect(await treeHashes(join(target, 'items'), carried)).toEqual(src);
  });

  for (const [stage, what] of [
    ['decrypt + unpack + hash', 'with its files still in staging'],
    ['audit resume + record', 'after everything was moved into place and put on record'],
  ] as const) {
    it(`killed ${what}: the data dir says so, the appliance refuses it, a new restore refuses it`, async () => {
      const target = join(root, `killed-${stage.split(' ')[0]}`);
      const r = await restoreKilledAt(goodFile, sec, signing.publicKey, target, stage);
      expect(r.signal, r.err).toBe('SIGKILL');
      expect(r.out).not.toMatch(/finished/);
      expect(await readFile(join(target, RESTORE_INCOMPLETE), 'utf8')).toMatch(/恢复未完成/);
      expect((await failure(ensureDataDir(target))).code).toBe('DATA_DIR_RESTORE_INCOMPLETE');
      // A console command on it fails with the reason, in Chinese.
      const cli = await runCli(['--data-dir', target, 'verify', '--no-index'], { ARCHIVE_DATA_DIR: target });
      expect(cli.code).not.toBe(0);
      expect(cli.err).toMatch(/DATA_DIR_RESTORE_INCOMPLETE|恢复没有完成/);
      expect((await failure(restoreBackup([goodFile], { dataDir: target, key: KEY, reindex: false }))).code).toBe('RESTORE_TARGET_NOT_EMPTY');
    });
  }

  it('a failed restore into an existing empty folder leaves it empty (no marker, no folders)', async () => {
    const target = join(root, 'empty-before');
    await mkdir(target);
    const bad = join(root, 'dup.bak');
    // The same name twice: the second would replace the first after it was hashed.
    await craftBackup(
      bad,
      [
        { path: 'backup.json', data: Buffer.from('{}') },
        { path: 'config/x', data: Buffer.from('first') },
        { path: 'config/x', data: Buffer.from('second') },
      ],
      [sec.publicKey],
      signing,
    );
    const e = await failure(restoreBackup([bad], { dataDir: target, key: KEY, reindex: false }));
    expect(e.code).toBe('BACKUP_MANIFEST_MISMATCH');
    expect(await readdir(target)).toEqual([]);
  });

  it('a file and then a folder of the same name (a path through a file) is refused, nothing outside', async () => {
    const bad = join(root, 'file-then-dir.bak');
    await craftBackup(
      bad,
      [
        { path: 'backup.json', data: Buffer.from('{}') },
        { path: 'items/ab', data: Buffer.from('a file') },
        { path: 'items/ab/cd/x', data: Buffer.from('under it') },
      ],
      [sec.publicKey],
      signing,
    );
    const target = join(root, 'fd', 'data');
    const e = await failure(restoreBackup([bad], { dataDir: target, key: KEY, reindex: false }));
    expect(e.code).toBe('BACKUP_MANIFEST_MISMATCH');
    expect(existsSync(target)).toBe(false);
    expect(await readdir(join(root, 'fd')).catch(() => [])).toEqual([]);
  });
});
