import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { type Config, dataPath, ensureDataDir, ApplianceError, fsyncDir, pathExists } from '../core/index.ts';
import { AuditLog, type AuditEntry } from '../security/index.ts';
import { newBackupHeader, readBackupHeader } from './backup-crypto.ts';
import { listRecipients, loadOrCreateSigningKey } from './backup-keys.ts';
import { BACKUP_ID, BACKUP_INFO, BACKUP_MANIFEST, newBackupId, type BackupInfo, type ManifestEnd, type ManifestLine } from './backup-entries.ts';
import { loadBackupRecord, saveBackupRecord, type BackupRecord } from './backup-records.ts';
import { collectSources } from './backup-source.ts';
import { SealedFileWriter } from './backup-stream.ts';
import { TAR_END, isReadBuffer, tarEntries, tarEntry, type TarWritten } from './backup-tar.ts';

export interface BackupProgress {
  phase: 'create' | 'verify' | 'restore';
  /** Plaintext bytes processed so far. */
  bytes: number;
  /** Expected total, when known (create knows it; verify and restore count the file's size). */
  total?: number;
  mbps: number;
}

export interface CreateBackupOptions {
  out: string;
  /** Backup id, or the file of an earlier backup (its header names the id). */
  incrementalFrom?: string;
  onProgress?: (p: BackupProgress) => void;
  /** Who asked (audit record); defaults to the console operator. */
  actor?: Pick<AuditEntry, 'actor' | 'role' | 'source'>;
  /** Bytes between flushes to disk while writing (tests set it small to exercise them). */
  flushEvery?: number;
  /** Aborted (the appliance is stopping): the backup stops and removes its unfinished file. */
  signal?: AbortSignal;
  /** Made by the daily schedule (recorded, so its retention prunes only its own files). */
  scheduled?: boolean;
}

export interface BackupResult {
  backupId: string;
  parentId: string | null;
  kind: 'full' | 'incremental';
  out: string;
  files: number;
  bytes: number;
  outBytes: number;
  items: number;
  included: number;
  damaged: string[];
  ms: number;
  /** Fingerprints of the recipients the backup was encrypted to, and of the signer. */
  recipients: string[];
  signer: string;
}

export function progressMeter(phase: BackupProgress['phase'], total: number | undefined, cb?: (p: BackupProgress) => void): { add(n: number): void; finish(): void } {
  const t0 = Date.now();
  let bytes = 0;
  let last = 0;
  const emit = () => cb?.({ phase, bytes, total, mbps: bytes / 1e6 / Math.max(0.001, (Date.now() - t0) / 1000) });
  return {
    add(n) {
      bytes += n;
      if (Date.now() - last > 200) {
        last = Date.now();
        emit();
      }
    },
    finish: emit,
  };
}

async function parentOf(cfg: Config, from: string): Promise<BackupRecord> {
  if (BACKUP_ID.test(from)) return loadBackupRecord(cfg.dataDir, from);
  const header = await readBackupHeader(from);
  return loadBackupRecord(cfg.dataDir, header.backupId);
}

/** Where a new backup may go: not over an existing file, not inside the data dir. Returns the absolute path. */
export async function assertBackupTarget(cfg: Config, file: string): Promise<string> {
  const out = resolve(file);
  if (await pathExists(out)) {
    throw new ApplianceError('BACKUP_OUT_EXISTS', `目标文件已存在：${out}。备份不会覆盖已有文件，请换一个文件名。`, `output exists: ${out}`, { status: 409 });
  }
  if (out.startsWith(resolve(cfg.dataDir) + '/')) {
    throw new ApplianceError('BACKUP_OUT_INSIDE', '备份文件不能写在数据目录之内（应写到移动介质或其他目录）。', 'backup output inside the data dir', { status: 400 });
  }
  return out;
}

export const noRecipients = () =>
  new ApplianceError(
    'BACKUP_NO_RECIPIENTS',
    '尚未登记备份接收公钥，不能备份：请安全保密管理员先用 archive backup keygen 生成密钥对（私钥留在其移动介质上），再用 archive backup recipients add 登记公钥。',
    'no backup recipient registered',
    { status: 409 },
  );

/**
 * Make an encrypted backup of config/, items/, audit/ and jobs/ as one stream: tar → AES-256-GCM
 * chunks under a file key wrapped for every registered recipient → a temp file beside `out`,
 * signed by the appliance, fsynced and renamed. Needs no secret but the appliance's signing key:
 * the 系统管理员 can make a backup that only a recipient's private key opens. See backup-source.ts for why this is
 * consistent while the appliance runs. Nothing is buffered beyond a chunk or two.
 */
export async function createBackup(cfg: Config, opts: CreateBackupOptions): Promise<BackupResult> {
  const t0 = Date.now();
  await ensureDataDir(cfg.dataDir);
  const audit = new AuditLog(dataPath(cfg.dataDir, 'audit'));
  const actor = opts.actor ?? { actor: 'console', role: 'console', source: 'console' };
  const out = await assertBackupTarget(cfg, opts.out);
  try {
    // The audit head first: everything the backup holds happened at or before it.
    const auditHead = await audit.head();
    const recipients = await listRecipients(cfg.dataDir);
    if (!recipients.length) throw noRecipients();
    const signing = await loadOrCreateSigningKey(cfg.dataDir);
    const parent = opts.incrementalFrom ? await parentOf(cfg, opts.incrementalFrom) : undefined;
    const backupId = newBackupId();
    const kind = parent ? 'incremental' : 'full';
    const created = new Date().toISOString();
    const { header, chunks } = newBackupHeader(
      recipients.map((r) => r.publicKey),
      signing,
      { backupId, parentId: parent?.backupId ?? null, kind, created },
    );
    const src = await collectSources(cfg.dataDir, parent?.items);
    const info: BackupInfo = { format: 'archive-backup', v: 1, backupId, parentId: parent?.backupId ?? null, kind, created, auditHead, items: src.items, included: src.included, damaged: src.damaged };
    const infoBytes = Buffer.from(JSON.stringify(info));
    const written: TarWritten[] = [];
    const meter = progressMeter('create', src.bytes, opts.onProgress);
    async function* tarStream(): AsyncGenerator<Buffer> {
      const now = new Date();
      yield* tarEntry({ path: BACKUP_INFO, data: infoBytes, size: infoBytes.length, mtime: now }, (w) => written.push(w));
      yield* tarEntries(
        src.sources,
        (w) => written.push(w),
        (n) => meter.add(n),
      );
      const lines = written.map((w): ManifestLine => ({ path: w.path, size: w.size, sha256: w.sha256 }));
      const end: ManifestEnd = { end: true, backupId, files: lines.length, bytes: lines.reduce((n, l) => n + l.size, 0) };
      const manifest = Buffer.from([...lines, end].map((l) => JSON.stringify(l)).join('\n') + '\n');
      yield* tarEntry({ path: BACKUP_MANIFEST, data: manifest, size: manifest.length, mtime: now }, () => undefined);
      yield TAR_END;
    }
    const tmp = join(dirname(out), `.${basename(out)}.${process.pid}.partial`);
    let outBytes = 0;
    // This thread reads and hashes; a worker encrypts and writes (and fsyncs) alongside.
    const sink = SealedFileWriter.create(tmp, header, chunks, signing.pkcs8, opts.flushEvery);
    try {
      for await (const b of tarStream()) {
        if (opts.signal?.aborted)
          throw new ApplianceError(
            'BACKUP_ABORTED',
            '备份已中止（设备正在停止）：未完成的备份文件已删除，介质上没有留下半个备份。请在设备重新启动后重做。',
            'backup aborted: the appliance is stopping',
            { status: 503 },
          );
        await sink.write(b, isReadBuffer(b));
      }
      outBytes = await sink.end();
      await rename(tmp, out);
      await fsyncDir(dirname(out));
    } catch (e) {
      await sink.abort();
      await rm(tmp, { force: true });
      throw e;
    }
    meter.finish();
    const files = written.length;
    const result: BackupResult = {
      backupId,
      parentId: info.parentId,
      kind,
      out,
      files,
      bytes: src.bytes,
      outBytes,
      items: Object.keys(src.items).length,
      included: src.included.length,
      damaged: src.damaged,
      ms: Date.now() - t0,
      recipients: recipients.map((r) => r.fingerprint),
      signer: signing.publicKey,
    };
    await saveBackupRecord(cfg.dataDir, {
      backupId,
      parentId: info.parentId,
      kind,
      created: info.created,
      file: out,
      outBytes,
      files,
      bytes: src.bytes,
      auditHead,
      items: src.items,
      included: src.included.length,
      recipients: result.recipients,
      signer: signing.publicKey,
      ...(opts.scheduled ? { scheduled: true } : {}),
    });
    await audit.append({
      ...actor,
      action: 'backup.create',
      target: backupId,
      outcome: 'success',
      details: {
        kind,
        parentId: info.parentId,
        file: out,
        files,
        bytes: src.bytes,
        outBytes,
        items: result.items,
        included: result.included,
        damaged: src.damaged,
        auditHead: { seq: auditHead.seq, hash: auditHead.hash },
        recipients: result.recipients,
        signer: signing.publicKey,
      },
    });
    return result;
  } catch (e) {
    await audit
      .append({ ...actor, action: 'backup.create', target: out, outcome: 'failure', details: { error: (e as ApplianceError).code ?? 'INTERNAL', message: (e as Error).message } })
      .catch(() => undefined);
    throw e;
  }
}
