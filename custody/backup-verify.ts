import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Parser, type ReadEntry } from 'tar';
import { ApplianceError, isApplianceError } from '../core/index.ts';
import { MANIFEST_NAME, parseManifest } from '../ingest/index.ts';
import type { BackupOpenKey } from './backup-crypto.ts';
import { openBackupForReading } from './backup-stream.ts';
import { BACKUP_INFO, BACKUP_MANIFEST, itemShardPath, manifestMismatch, unsafeEntry, unsafeEntryError, type BackupInfo, type ManifestEnd, type ManifestLine } from './backup-entries.ts';
import { progressMeter, type BackupProgress } from './backup.ts';

export interface VerifiedBackup {
  file: string;
  backupId: string;
  parentId: string | null;
  kind: 'full' | 'incremental';
  created: string;
  files: number;
  bytes: number;
  items: number;
  included: number;
  /** Items carried as they were found, not matching their own manifest (see BackupInfo.damaged). */
  damaged: string[];
  info: BackupInfo;
}

const SMALL_LIMIT = 512 * 1024 * 1024;

/** Check the archive's entries against its manifest and its items against their own manifests. */
export function checkAgainstManifest(
  info: BackupInfo | undefined,
  manifestText: string | undefined,
  seen: Map<string, { size: number; sha256: string }>,
  order: string[],
): { lines: ManifestLine[]; end: ManifestEnd } {
  if (!info || order[0] !== BACKUP_INFO) throw manifestMismatch('缺少开头的 backup.json', 'backup.json missing or not first');
  if (manifestText === undefined || order[order.length - 1] !== BACKUP_MANIFEST) throw manifestMismatch('缺少末尾的清单 manifest.jsonl', 'manifest.jsonl missing or not last');
  const rows = manifestText
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ManifestLine | ManifestEnd);
  const end = rows.pop() as ManifestEnd | undefined;
  if (!end || end.end !== true || end.backupId !== info.backupId) throw manifestMismatch('清单结尾缺失或不属于此备份', 'manifest end line missing or for another backup');
  const lines = rows as ManifestLine[];
  if (lines.length !== end.files) throw manifestMismatch(`清单行数 ${lines.length} 与记录的 ${end.files} 不符`, 'manifest line count');
  const listed = new Set<string>();
  for (const l of lines) {
    const got = seen.get(l.path);
    if (!got) throw manifestMismatch(`缺少文件 ${l.path}`, `missing ${l.path}`, { path: l.path });
    if (got.sha256 !== l.sha256 || got.size !== l.size) throw manifestMismatch(`文件 ${l.path} 的 SHA-256 不符`, `hash differs: ${l.path}`, { path: l.path });
    listed.add(l.path);
  }
  for (const p of seen.keys()) if (p !== BACKUP_MANIFEST && !listed.has(p)) throw manifestMismatch(`多出未登记的文件 ${p}`, `extra entry ${p}`, { path: p });
  if (order.length !== seen.size) throw manifestMismatch('有重复的条目', 'duplicate entries');
  // Every item the archive says it carries is there whole, with the manifest hash backup.json names.
  const included = new Set(info.included);
  for (const id of info.included) {
    const base = itemShardPath(id);
    const m = seen.get(`${base}/${MANIFEST_NAME}`);
    if (!m || m.sha256 !== info.items[id]) throw manifestMismatch(`条目 ${id} 的清单缺失或与记录不符`, `item ${id} manifest missing or differs`, { itemId: id });
  }
  if (info.kind === 'full' && Object.keys(info.items).some((id) => !included.has(id))) throw manifestMismatch('完整备份缺少部分条目', 'full backup lacks items');
  return { lines, end };
}

/** Compare each carried item's files with the item's own manifest (from the hashes already taken). */
function itemProblems(info: BackupInfo, seen: Map<string, { size: number; sha256: string }>, itemManifests: Map<string, string>): string[] {
  const bad: string[] = [];
  for (const id of info.included) {
    const base = itemShardPath(id);
    const m = parseManifest(itemManifests.get(id) ?? '');
    if (!m) {
      bad.push(id);
      continue;
    }
    const files = [...seen.keys()].filter((p) => p.startsWith(`${base}/`) && p !== `${base}/${MANIFEST_NAME}`);
    if (files.length !== m.size || [...m].some(([p, h]) => seen.get(`${base}/${p}`)?.sha256 !== h)) bad.push(id);
  }
  return bad;
}

/**
 * Read every byte of a backup: authenticate every chunk, parse the tar, hash every entry, check the
 * manifest. Resolves only when a restore of this file would succeed; throws the first problem.
 */
export async function verifyBackupFile(file: string, key: BackupOpenKey, onProgress?: (p: BackupProgress) => void): Promise<VerifiedBackup> {
  const seen = new Map<string, { size: number; sha256: string }>();
  const order: string[] = [];
  const itemManifests = new Map<string, string>();
  let info: BackupInfo | undefined;
  let manifestText: string | undefined;
  let failure: unknown;
  const opened = await openBackupForReading(file, key);
  const header = opened.info;
  const parser = new Parser({ strict: true });
  const fail = (e: unknown) => {
    failure ??= e;
    parser.abort(e as Error);
  };
  parser.on('entry', (entry: ReadEntry) => {
    const why = unsafeEntry(entry.path, entry.type);
    if (why) {
      fail(unsafeEntryError(entry.path, why));
      entry.resume();
      return;
    }
    if (entry.type === 'Directory') return entry.resume();
    const h = createHash('sha256');
    const keep = entry.path === BACKUP_INFO || entry.path === BACKUP_MANIFEST || entry.path.endsWith(`/${MANIFEST_NAME}`);
    const parts: Buffer[] = [];
    let n = 0;
    entry.on('data', (d: Buffer) => {
      h.update(d);
      n += d.length;
      if (keep && n <= SMALL_LIMIT) parts.push(d);
    });
    entry.on('end', () => {
      order.push(entry.path);
      seen.set(entry.path, { size: n, sha256: h.digest('hex') });
      if (!keep) return;
      const text = Buffer.concat(parts).toString('utf8');
      if (entry.path === BACKUP_INFO) {
        try {
          info = JSON.parse(text) as BackupInfo;
        } catch {
          fail(manifestMismatch('backup.json 无法解析', 'backup.json unparseable'));
        }
      } else if (entry.path === BACKUP_MANIFEST) manifestText = text;
      else itemManifests.set(entry.path.split('/')[2], text);
    });
  });
  const tarError = (code: string, msg: unknown) => manifestMismatch(`tar 结构错误（${code}）`, `tar: ${code} ${String(msg)}`);
  parser.on('warn', (code: string, msg: string | Error) => fail(tarError(code, msg)));
  const meter = progressMeter('verify', opened.size, onProgress);
  meter.add(opened.offset);
  try {
    // A worker reads and authenticates the chunks while this thread parses and hashes.
    await pipeline(
      opened.plaintext((n) => meter.add(n)),
      parser,
    );
  } catch (e) {
    // In strict mode tar throws some structure errors instead of warning about them.
    const code = (e as { code?: unknown }).code;
    if (!failure && !isApplianceError(e) && typeof code === 'string' && code.startsWith('TAR_')) throw tarError(code, (e as Error).message);
    throw failure ?? e;
  }
  if (failure) throw failure;
  meter.finish();
  try {
    const { end } = checkAgainstManifest(info, manifestText, seen, order);
    const i = info!;
    if (header.backupId !== i.backupId || header.parentId !== i.parentId) throw manifestMismatch('文件头与 backup.json 的备份编号不符', 'header and backup.json disagree');
    const damaged = [...new Set([...i.damaged, ...itemProblems(i, seen, itemManifests)])];
    return {
      file,
      backupId: i.backupId,
      parentId: i.parentId,
      kind: i.kind,
      created: i.created,
      files: end.files,
      bytes: end.bytes,
      items: Object.keys(i.items).length,
      included: i.included.length,
      damaged,
      info: i,
    };
  } catch (e) {
    if (isApplianceError(e)) throw e;
    throw manifestMismatch('清单无法解析', `manifest unparseable: ${(e as Error).message}`);
  }
}

/** Order backups into a chain (a full one, then each incremental whose parent is the one before). */
export function orderChain<T extends { backupId: string; parentId: string | null; kind: string; file: string }>(backups: T[]): T[] {
  const full = backups.filter((b) => b.kind === 'full');
  if (full.length !== 1) {
    throw new ApplianceError(
      'BACKUP_CHAIN_BROKEN',
      full.length ? '一次恢复只能包含一个完整备份。' : '缺少完整备份：增量备份须与其所基于的完整备份一起恢复。',
      `need exactly one full backup, got ${full.length}`,
      { status: 400 },
    );
  }
  const chain = [full[0]];
  const rest = backups.filter((b) => b !== full[0]);
  while (rest.length) {
    const i = rest.findIndex((b) => b.parentId === chain[chain.length - 1].backupId);
    if (i < 0) {
      const orphan = rest[0];
      throw new ApplianceError(
        'BACKUP_CHAIN_BROKEN',
        `增量备份 ${orphan.backupId}（${orphan.file}）所基于的备份 ${orphan.parentId} 不在本次恢复中，备份链不完整。`,
        `chain broken at ${orphan.backupId} (parent ${orphan.parentId})`,
        { status: 400, details: { backupId: orphan.backupId, parentId: orphan.parentId } },
      );
    }
    chain.push(rest.splice(i, 1)[0]);
  }
  return chain;
}

/** Verify several files (a full backup and its incrementals, or just one) and their chain. */
export async function verifyBackup(files: string[], key: BackupOpenKey, onProgress?: (p: BackupProgress) => void): Promise<{ ok: true; backups: VerifiedBackup[]; chain: boolean }> {
  const backups: VerifiedBackup[] = [];
  for (const f of files) backups.push(await verifyBackupFile(f, key, onProgress));
  const hasFull = backups.some((b) => b.kind === 'full');
  if (hasFull) orderChain(backups);
  return { ok: true, backups, chain: hasFull };
}
