import { randomBytes } from 'node:crypto';
import { ApplianceError } from '../core/index.ts';
import type { AuditHead } from '../security/index.ts';

/** First entry of every backup: what it is and what it holds. */
export const BACKUP_INFO = 'backup.json';
/** Last entry: SHA-256 and size of every other entry (JSON lines, an end line last). */
export const BACKUP_MANIFEST = 'manifest.jsonl';
/** The folders of the data dir a backup carries (meili/ is rebuilt by reindex; inbox/quarantine/run are not data). */
export const BACKUP_SUBDIRS = ['config', 'items', 'audit', 'jobs'] as const;

export const BACKUP_ID = /^bk-\d{8}T\d{6}Z-[0-9a-f]{6}$/;

export interface BackupInfo {
  format: 'archive-backup';
  v: 1;
  backupId: string;
  parentId: string | null;
  kind: 'full' | 'incremental';
  created: string;
  /** Head of the audit chain, taken before anything else was read. */
  auditHead: AuditHead;
  /** Every item of the store at backup time: id → SHA-256 of its manifest-sha256.txt. */
  items: Record<string, string>;
  /** Items whose files are in this archive (all of them in a full backup). */
  included: string[];
  /** Items whose files did not match their own manifest when backed up (carried as they were). */
  damaged: string[];
}

export interface ManifestLine {
  path: string;
  size: number;
  sha256: string;
}

export interface ManifestEnd {
  end: true;
  backupId: string;
  files: number;
  bytes: number;
}

export function newBackupId(now = new Date()): string {
  const t = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `bk-${t}-${randomBytes(3).toString('hex')}`;
}

/**
 * Why an archive entry must not be written, or undefined when it is safe: only regular files (and
 * folders) under the backup's own folders, relative, without ".." — never a link, device or FIFO.
 * Checked on every entry before tar itself sees it, on verify and on restore.
 */
export function unsafeEntry(path: string, type: string): string | undefined {
  if (type !== 'File' && type !== 'OldFile' && type !== 'Directory') return `entry type ${type} is not allowed (only regular files)`;
  if (!path || path.length > 4096 || path.includes('\0') || path.includes('\\')) return 'invalid path';
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) return 'absolute path';
  const parts = path.replace(/\/$/, '').split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) return 'path with "..", "." or empty component';
  if (parts.length === 1)
    return type !== 'Directory' && (path === BACKUP_INFO || path === BACKUP_MANIFEST)
      ? undefined
      : (BACKUP_SUBDIRS as readonly string[]).includes(path) && type === 'Directory'
        ? undefined
        : 'unexpected top-level entry';
  if (!(BACKUP_SUBDIRS as readonly string[]).includes(parts[0])) return `outside the backup's folders (${parts[0]})`;
  return undefined;
}

export function unsafeEntryError(path: string, why: string): ApplianceError {
  return new ApplianceError(
    'BACKUP_UNSAFE_ENTRY',
    `备份中含有不安全的条目“${path.slice(0, 200)}”（${zhWhy(why)}），已拒绝，未写入任何文件到目标目录之外。`,
    `unsafe entry ${path.slice(0, 200)}: ${why}`,
    { status: 400, details: { path: path.slice(0, 500), reason: why } },
  );
}

function zhWhy(why: string): string {
  if (why.startsWith('entry type')) return '链接、设备等非普通文件';
  if (why === 'absolute path') return '绝对路径';
  if (why.startsWith('path with')) return '路径含 ..';
  return '路径不在备份范围内';
}

export function manifestMismatch(what: string, en: string, details: Record<string, unknown> = {}): ApplianceError {
  return new ApplianceError('BACKUP_MANIFEST_MISMATCH', `备份内容与其清单不符：${what}。该备份不能用于恢复。`, `backup does not match its manifest: ${en}`, { status: 400, details });
}

export function itemShardPath(id: string): string {
  return `items/${id.slice(-2)}/${id}`;
}
