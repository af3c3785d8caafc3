import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { extract, type ReadEntry } from 'tar';
import { loadConfig, type Config, ensureDataDir, ApplianceError, fileDigest, pathExists, sha256File, inLanes } from '../core/index.ts';
import { listTree } from '../ingest/index.ts';
import { AuditLog, type AuditEntry } from '../security/index.ts';
import { readBackupHeader, type BackupOpenKey } from './backup-crypto.ts';
import { openBackupForReading } from './backup-stream.ts';
import { BACKUP_INFO, BACKUP_MANIFEST, BACKUP_SUBDIRS, itemShardPath, manifestMismatch, unsafeEntry, unsafeEntryError, type BackupInfo } from './backup-entries.ts';
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
}

export interface RestoreResult {
  dataDir: string;
  backups: Array<{ file: string; backupId: string; kind: string }>;
  items: number;
  files: number;
  indexed?: { items: number; pages: number };
}

const REHASH_AT_ONCE = 4;

/** Decrypt one backup into `dir` (inside the target) with tar's own guards plus ours; then check every file. */
async function extractOne(file: string, dir: string, key: BackupOpenKey, onProgress?: (p: BackupProgress) => void): Promise<BackupInfo> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  let refused: ApplianceError | undefined;
  const order: string[] = [];
  const unpack = extract({
    cwd: dir,
    strict: true,
    // The archive holds files only; the folders tar makes for them are private like the data dir.
    dmode: 0o700,
    preserveOwner: false,
    preservePaths: false,
    noMtime: false,
    filter: (path: string, entry) => {
      const e = entry as ReadEntry;
      const why = unsafeEntry(path, e.type);
      if (why) {
        refused ??= unsafeEntryError(path, why);
        unpack.abort(refused);
        return false;
      }
      if (e.type !== 'Directory') order.push(path);
      return true;
    },
  });
  const opened = await openBackupForReading(file, key);
  const meter = progressMeter('restore', opened.size, onProgress);
  meter.add(opened.offset);
  try {
    await pipeline(
      opened.plaintext((n) => meter.add(n)),
      unpack,
    );
  } catch (e) {
    // tar may still be finishing writes it had started: let them land (inside staging) before cleanup.
    await settled(dir);
    throw refused ?? e;
  }
  if (refused) throw refused;
  meter.finish();
  // Every file on disk, hashed again, against the manifest: what the restore keeps is what was backed up.
  const listing = await listTree(dir);
  if (listing.other.length) throw unsafeEntryError(listing.other[0], 'entry type link is not allowed');
  // A few files at a time: reads overlap (~0.8 -> ~0.5 s for 503 MB in 1,328 files here).
  const digests: Array<{ size: number; sha256: string }> = [];
  await inLanes(listing.files.length, REHASH_AT_ONCE, async (i) => {
    digests[i] = await fileDigest(join(dir, listing.files[i]));
  });
  const seen = new Map(listing.files.map((f, i) => [f, digests[i]]));
  let info: BackupInfo;
  try {
    info = JSON.parse(await readFile(join(dir, BACKUP_INFO), 'utf8')) as BackupInfo;
  } catch {
    throw manifestMismatch('backup.json 缺失或无法解析', 'backup.json missing');
  }
  const manifestText = await readFile(join(dir, BACKUP_MANIFEST), 'utf8').catch(() => undefined);
  try {
    checkAgainstManifest(info, manifestText, seen, order);
  } catch (e) {
    if (e instanceof ApplianceError) throw e;
    throw manifestMismatch('清单无法解析', (e as Error).message);
  }
  return info;
}

/** Wait (up to 2 s) until nothing more appears under dir: an aborted tar stops writing soon after. */
async function settled(dir: string): Promise<void> {
  let last = -1;
  for (let i = 0; i < 40; i++) {
    await new Promise((r) => setTimeout(r, 50));
    const n = await readdir(dir, { recursive: true }).then(
      (x) => x.length,
      () => 0,
    );
    if (n === last) return;
    last = n;
  }
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
  let n = 0;
  for (const [id, sha] of Object.entries(info.items)) {
    const got = await sha256File(join(base, itemShardPath(id), 'manifest-sha256.txt')).catch(() => undefined);
    if (got !== sha) throw manifestMismatch(`恢复后条目 ${id} 缺失或与备份记录不符`, `item ${id} missing or different after applying the chain`, { itemId: id });
    n++;
  }
  return n;
}

/**
 * Restore a full backup and (optionally) its incrementals into an empty data dir. Everything is
 * extracted into a staging folder inside the target and checked before anything is moved into
 * place; on any problem the staging folder is removed and the target is left as it was.
 */
export async function restoreBackup(files: string[], opts: RestoreOptions): Promise<RestoreResult> {
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
  await mkdir(target, { recursive: true, mode: 0o700 });
  const staging = join(target, `.restore-${randomBytes(4).toString('hex')}`);
  let info: BackupInfo | undefined;
  let totalFiles = 0;
  let items = 0;
  try {
    const base = join(staging, '0');
    for (let i = 0; i < chain.length; i++) {
      const dir = i === 0 ? base : join(staging, String(i));
      const got = await extractOne(chain[i].file, dir, opts.key, opts.onProgress);
      if (got.backupId !== chain[i].backupId || got.parentId !== chain[i].parentId) throw manifestMismatch('文件头与 backup.json 的备份编号不符', 'header and backup.json disagree');
      totalFiles += (await listTree(dir)).files.length;
      if (i > 0) {
        await applyIncremental(base, dir, got);
        await rm(dir, { recursive: true, force: true });
      }
      info = got;
    }
    items = await checkItems(base, info!);
    for (const sub of BACKUP_SUBDIRS) {
      if (await pathExists(join(base, sub))) await rename(join(base, sub), join(target, sub));
    }
  } catch (e) {
    await rm(staging, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    if (!existed) await rm(target, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }).catch(() => undefined);
    throw e;
  }
  // In place from here on: a failure below must never remove what was restored.
  await rm(staging, { recursive: true, force: true });
  await ensureDataDir(target);
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
  if (opts.reindex) result.indexed = await opts.reindex(opts.cfg ? { ...opts.cfg, dataDir: target } : loadConfig({ overrides: { dataDir: target } }));
  return result;
}

function notEmpty(dir: string): ApplianceError {
  return new ApplianceError('RESTORE_TARGET_NOT_EMPTY', `恢复目标目录 ${dir} 不是空目录。为防止覆盖现有数据，恢复只写入空目录（或尚不存在的目录）。`, `restore target ${dir} is not empty`, {
    status: 409,
    details: { dataDir: dir },
  });
}
