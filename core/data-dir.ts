import { mkdir, chmod, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ApplianceError } from './errors.ts';

/**
 * The folders of the data dir (../shared/DESIGN.md, "Data on disk"), and two it does not list:
 * run/ (pid and lock files) and texts/ (page texts as the index holds them, search/text-store.ts;
 * derived like meili/, rebuilt by `archive reindex`, not backed up).
 */
export const DATA_SUBDIRS = ['config', 'items', 'jobs', 'inbox', 'quarantine', 'audit', 'meili', 'texts', 'run'] as const;
export type DataSubdir = (typeof DATA_SUBDIRS)[number];

export function dataPath(dataDir: string, sub: DataSubdir, ...rest: string[]): string {
  return join(dataDir, sub, ...rest);
}

/**
 * Present in a data dir while a restore is writing it (custody/backup-restore.ts), removed as its
 * last step: a data dir that still has it was cut off mid-restore and is not used.
 */
export const RESTORE_INCOMPLETE = 'RESTORE-INCOMPLETE.txt';

/**
 * Create the data dir (mode 0700: nobody else on the machine reads the archive) and its folders.
 * Refuses (DATA_DIR_RESTORE_INCOMPLETE) a data dir a restore did not finish, unless `restoring`.
 */
export async function ensureDataDir(dataDir: string, opts: { restoring?: boolean } = {}): Promise<void> {
  if (!opts.restoring && (await stat(join(dataDir, RESTORE_INCOMPLETE)).catch(() => undefined))) {
    throw new ApplianceError(
      'DATA_DIR_RESTORE_INCOMPLETE',
      `数据目录 ${dataDir} 中的恢复没有完成（含 ${RESTORE_INCOMPLETE}），其中的数据不完整，不能使用。请清空该目录后重新恢复。`,
      `data dir ${dataDir} holds an unfinished restore`,
      { status: 503, details: { dataDir } },
    );
  }
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const st = await stat(dataDir);
    if (!st.isDirectory()) throw new Error('not a directory');
    if ((st.mode & 0o077) !== 0) await chmod(dataDir, 0o700);
    for (const sub of DATA_SUBDIRS) await mkdir(join(dataDir, sub), { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new ApplianceError('DATA_DIR_UNUSABLE', `数据目录不可用：${dataDir}（${(e as Error).message}）。请检查路径与权限。`, `data dir unusable: ${dataDir}: ${(e as Error).message}`, { cause: e });
  }
}
