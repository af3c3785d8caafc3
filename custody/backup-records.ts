import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dataPath, ApplianceError, writeFileAtomic } from '../core/index.ts';
import type { AuditHead } from '../security/index.ts';
import { BACKUP_ID } from './backup-entries.ts';

/**
 * A local note of each backup made (config/backups/<id>.json): the item list with each item's
 * manifest hash is what the next incremental compares against, so a daily incremental does not
 * need the parent file (which has left the room on removable media).
 */
export interface BackupRecord {
  backupId: string;
  parentId: string | null;
  kind: 'full' | 'incremental';
  created: string;
  file: string;
  outBytes: number;
  files: number;
  bytes: number;
  auditHead: AuditHead;
  items: Record<string, string>;
  included: number;
  /** Recipient fingerprints and signer (format v2). */
  recipients?: string[];
  signer?: string;
  /** Made by the daily schedule: only such files are pruned by its retention. */
  scheduled?: boolean;
}

export const recordsDir = (dataDir: string) => dataPath(dataDir, 'config', 'backups');

export async function saveBackupRecord(dataDir: string, rec: BackupRecord): Promise<void> {
  await writeFileAtomic(join(recordsDir(dataDir), `${rec.backupId}.json`), `${JSON.stringify(rec)}\n`);
}

export async function loadBackupRecord(dataDir: string, id: string): Promise<BackupRecord> {
  if (!BACKUP_ID.test(id)) throw unknown(id);
  try {
    return JSON.parse(await readFile(join(recordsDir(dataDir), `${id}.json`), 'utf8')) as BackupRecord;
  } catch {
    throw unknown(id);
  }
}

export async function listBackupRecords(dataDir: string): Promise<BackupRecord[]> {
  const names = await readdir(recordsDir(dataDir)).catch(() => [] as string[]);
  const out: BackupRecord[] = [];
  for (const n of names.filter((x) => BACKUP_ID.test(x.replace(/\.json$/, ''))).sort()) {
    try {
      out.push(JSON.parse(await readFile(join(recordsDir(dataDir), n), 'utf8')) as BackupRecord);
    } catch {
      /* a damaged note is skipped; the backups themselves are self-describing */
    }
  }
  // Oldest first by creation time (ms): two backups made in the same second keep their order.
  return out.sort((a, b) => a.created.localeCompare(b.created) || a.backupId.localeCompare(b.backupId));
}

function unknown(id: string): ApplianceError {
  return new ApplianceError('BACKUP_PARENT_UNKNOWN', `找不到备份 ${id} 的本机记录，无法在其基础上做增量备份；请先做一次完整备份。`, `no local record of backup ${id}`, {
    status: 404,
    details: { backupId: id },
  });
}
