import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadConfig, type Config, ensureDataDir, ApplianceError, fsyncDir, inLanes, pathExists, RESTORE_INCOMPLETE, sha256File, writeFileAtomic } from '../core/index.ts';
import { AuditLog, type AuditEntry } from '../security/index.ts';
import { readBackupHeader, type BackupOpenKey } from './backup-crypto.ts';
import { openBackupForReading } from './backup-stream.ts';
import { unpackBackup } from './backup-unpack.ts';
import { syncTree } from './restore-durable.ts';
import { BACKUP_SUBDIRS, itemShardPath, manifestMismatch, type BackupInfo } from './backup-entries.ts';
import { checkAgainstManifest, orderChain } from './backup-verify.ts';
import { progressMeter, type BackupProgress } from './backup.ts';

export interface RestoreOptions {
  dataDir: string;
  key: BackupOpenKey;
  /**
   * Rebuilds the search index of the restored data dir afterwards (the caller owns Meilisearch);
   * false or absent: the operator runs `archive reindex` later.
   */
  reindex?: false | ((cfg: Config) => Promise<{ items: number; pages: number }>);
  /** Configuration for the Meilisearch used to reindex (default: loadConfig with dataDir). */
  cfg?: Config;
  onProgress?: (p: BackupProgress) => void;
  actor?: Pick<AuditEntry, 'actor' | 'role' | 'source'>;
  /** Where the time went: called with a stage's name and its milliseconds (bench/restore.ts). */
  onStage?: (stage: string, ms: number) => void;
}

export interface RestoreResult {
  dataDir: string;
  backups: Array<{ file: string; backupId: string; kind: string }>;
  items: number;
  files: number;
  indexed?: { items: number; pages: number };
}

/**
 * Decrypt one backup into `dir` (inside the target): every chunk authenticated by the opening worker,
 * every entry checked (only files under the backup's folders), hashed as it is written
 * (backup-unpack.ts), and the whole checked against the backup's manifest.
 */
async function extractOne(file: string, dir: string, key: BackupOpenKey, onProgress?: (p: BackupProgress) => void, lap: Lap = () => undefined): Promise<{ info: BackupInfo; files: number }> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const opened = await openBackupForReading(file, key);
  lap('open (header, key unwrap)');
  const meter = progressMeter('restore', opened.size, onProgress);
  meter.add(opened.offset);
  const { seen, order, infoText, manifestText } = await unpackBackup(
    opened.plaintext((n) => meter.add(n)),
    dir,
  );
  meter.finish();
  lap('decrypt + unpack + hash');
  let info: BackupInfo;
  try {
    info = JSON.parse(infoText ?? '') as BackupInfo;
  } catch {
    throw manifestMismatch('backup.json 缺失或无法解析', 'backup.json missing');
  }
  try {
    checkAgainstManifest(info, manifestText, seen, order);
  } catch (e) {
    if (e instanceof ApplianceError) throw e;
    throw manifestMismatch('清单无法解析', (e as Error).message);
  }
  lap('manifest check');
  return { info, files: seen.size };
}

async function moveReplacing(from: string, to: string): Promise<void> {
  await rm(to, { recursive: true, force: true });
  await rename(from, to);
}

/** Lay an incremental over the tree restored so far: its config/audit/jobs replace, its items are added or replace, items gone since are removed. */
async function applyIncremental(base: string, inc: string, info: BackupInfo): Promise<void> {
  for (const sub of ['config', 'audit', 'jobs']) {
    await rm(join(base, sub), { recursive: true, force: true });
    if (await pathExists(join(inc, sub))) await rename(join(inc, sub), join(base, sub));
  }
  for (const id of info.included) {
    await mkdir(join(base, 'items', id.slice(-2)), { recursive: true, mode: 0o700 });
    await moveReplacing(join(inc, itemShardPath(id)), join(base, itemShardPath(id)));
  }
  const keep = new Set(Object.keys(info.items));
  for (const shard of await readdir(join(base, 'items')).catch(() => [] as string[])) {
    for (const id of await readdir(join(base, 'items', shard)).catch(() => [] as string[])) {
      if (!keep.has(id)) await rm(join(base, 'items', shard, id), { recursive: true, force: true });
    }
  }
}

/** The restored items are exactly the ones the last backup lists, each with its recorded manifest. */
async function checkItems(base: string, info: BackupInfo): Promise<number> {
  const items = Object.entries(info.items);
  // Small files, a few read at once (an archive of a million pages has tens of thousands of items).
  await inLanes(items.length, 8, async (i) => {
    const [id, sha] = items[i];
    const got = await sha256File(join(base, itemShardPath(id), 'manifest-sha256.txt')).catch(() => undefined);
    if (got !== sha) throw manifestMismatch(`恢复后条目 ${id} 缺失或与备份记录不符`, `item ${id} missing or different after applying the chain`, { itemId: id });
  });
  return items.length;
}

/**
 * Restore a full backup and (optionally) its incrementals into an empty data dir. Everything is
 * extracted into a staging folder inside the target and checked before anything is moved into
 * place; on any problem the staging folder is removed and the target is left as it was.
 */
export async function restoreBackup(files: string[], opts: RestoreOptions): Promise<RestoreResult> {
  const lap = stageClock(opts.onStage);
  const target = resolve(opts.dataDir);
  const existed = await stat(target).then(
    (s) => {
      if (!s.isDirectory()) throw notEmpty(target);
      return true;
    },
    () => false,
  );
  if (existed && (await readdir(target)).length) throw notEmpty(target);
  const headers = [];
  for (const file of files) headers.push({ ...(await readBackupHeader(file)), file });
  const chain = orderChain(headers);
  lap('headers, chain');
  await mkdir(target, { recursive: true, mode: 0o700 });
  // On disk before anything else: a restore cut off (power, kill) leaves a data dir that says so,
  // and that the appliance refuses to use (ensureDataDir), instead of one that looks whole.
  const marker = join(target, RESTORE_INCOMPLETE);
  await writeFileAtomic(marker, incompleteNote(chain));
  const staging = join(target, `.restore-${randomBytes(4).toString('hex')}`);
  let info: BackupInfo | undefined;
  let totalFiles = 0;
  let items = 0;
  try {
    const base = join(staging, '0');
    for (let i = 0; i < chain.length; i++) {
      const dir = i === 0 ? base : join(staging, String(i));
      const { info: got, files } = await extractOne(chain[i].file, dir, opts.key, opts.onProgress, lap);
      if (got.backupId !== chain[i].backupId || got.parentId !== chain[i].parentId) throw manifestMismatch('文件头与 backup.json 的备份编号不符', 'header and backup.json disagree');
      totalFiles += files;
      if (i > 0) {
        await applyIncremental(base, dir, got);
        await rm(dir, { recursive: true, force: true });
      }
      info = got;
    }
    items = await checkItems(base, info!);
    lap('item manifests');
    // Every byte checked: now on the disk (one syncfs) before any of it is moved into place.
    await syncTree(staging);
    lap('sync to disk');
    for (const sub of BACKUP_SUBDIRS) {
      if (await pathExists(join(base, sub))) await rename(join(base, sub), join(target, sub));
    }
    await fsyncDir(target);
    lap('move into place');
  } catch (e) {
    await rm(staging, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    if (!existed) await rm(target, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }).catch(() => undefined);
    else {
      // The target was empty: what is in it now is this restore's (a rename may have gone through).
      for (const sub of BACKUP_SUBDIRS) await rm(join(target, sub), { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }).catch(() => undefined);
      await rm(marker, { force: true }).catch(() => undefined);
    }
    throw e;
  }
  // In place from here on: a failure below must never remove what was restored (the marker stays).
  await rm(staging, { recursive: true, force: true });
  await ensureDataDir(target, { restoring: true });
  const result: RestoreResult = { dataDir: target, backups: chain.map((c) => ({ file: c.file, backupId: c.backupId, kind: c.kind })), items, files: totalFiles };
  const audit = new AuditLog(join(target, 'audit'));
  // A backup carries no sealing key: the restored trail goes on under a new one (a new
  // verification key for the auditor in config/), on record, after the backup's last seal.
  const actor = opts.actor ?? { actor: 'console', role: 'console', source: 'console' };
  await audit.resume({ ...actor, action: 'audit.resume', target: 'audit', outcome: 'success', details: { reason: 'restore', backupId: info!.backupId } }).catch((e: unknown) => {
    if (!(e instanceof ApplianceError && e.code === 'AUDIT_RESUME_NOT_NEEDED')) throw e;
  });
  await audit.append({
    ...(opts.actor ?? { actor: 'console', role: 'console', source: 'console' }),
    action: 'backup.restore',
    target: info!.backupId,
    outcome: 'success',
    details: { backups: result.backups, items, auditHeadAtBackup: info!.auditHead },
  });
  await audit.settle();
  lap('audit resume + record');
  // Whole, checked, on disk and on record: only now is the data dir usable.
  await rm(marker);
  await fsyncDir(target);
  lap('done marker');
  if (opts.reindex) result.indexed = await opts.reindex(opts.cfg ? { ...opts.cfg, dataDir: target } : loadConfig({ overrides: { dataDir: target } }));
  return result;
}

function incompleteNote(chain: Array<{ file: string; backupId: string }>): string {
  return [
    '恢复未完成：本目录正在由备份恢复写入，或恢复在中途被中断（断电、终止）。',
    '其中的数据不完整，系统不会使用本目录。请清空本目录后重新执行恢复。',
    'Restore in progress or cut off: the data in this directory is incomplete and is not used. Empty it and restore again.',
    `started: ${new Date().toISOString()}`,
    ...chain.map((c) => `backup: ${c.backupId} (${c.file})`),
    '',
  ].join('\n');
}

type Lap = (stage: string) => void;

/** Each call reports the time since the one before under the stage it names. */
function stageClock(onStage?: (stage: string, ms: number) => void): Lap {
  let t = performance.now();
  return (stage) => {
    const now = performance.now();
    onStage?.(stage, now - t);
    t = now;
  };
}

function notEmpty(dir: string): ApplianceError {
  return new ApplianceError('RESTORE_TARGET_NOT_EMPTY', `恢复目标目录 ${dir} 不是空目录。为防止覆盖现有数据，恢复只写入空目录（或尚不存在的目录）。`, `restore target ${dir} is not empty`, {
    status: 409,
    details: { dataDir: dir },
  });
}
