import { execFile } from 'node:child_process';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ApplianceError, fsyncDir, inLanes } from '../core/index.ts';

/**
 * Making a restore durable before it is called done. One syncfs(2) of the filesystem that holds
 * the staging folder (coreutils `sync -f`; Node has no binding of its own) writes back every file
 * and folder the restore made in one journal commit: fsync per file was measured at several times
 * the cost of the whole unpacking (bench/restore.ts), as `tar -x` + `sync` does it too. Since Linux
 * 5.8 syncfs reports a write-back error of that filesystem: the restore then fails and its staging
 * is removed. Where `sync` is missing, every file and folder is fsynced one by one instead.
 */
const SYNC = '/bin/sync';

export async function syncTree(dir: string): Promise<void> {
  const how = await new Promise<'done' | 'missing'>((resolve, reject) => {
    execFile(SYNC, ['-f', dir], (e, _out, stderr) => {
      if (!e) return resolve('done');
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return resolve('missing');
      reject(syncFailed(String(stderr).trim() || e.message));
    });
  });
  if (how === 'missing') await fsyncEach(dir);
}

/** fsync every file and folder under dir (folders after what they hold). */
async function fsyncEach(dir: string): Promise<void> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries.filter((d) => d.isFile()).map((d) => join(d.parentPath, d.name));
  const dirs = entries.filter((d) => d.isDirectory()).map((d) => join(d.parentPath, d.name));
  try {
    await inLanes(files.length, 8, async (i) => {
      const fh = await open(files[i], 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    });
    // Deepest first, the top last.
    dirs.sort((a, b) => b.length - a.length);
    for (const d of [...dirs, dir]) await fsyncDir(d);
  } catch (e) {
    throw syncFailed((e as Error).message);
  }
}

function syncFailed(why: string): ApplianceError {
  return new ApplianceError('RESTORE_SYNC_FAILED', `恢复的数据未能写入磁盘（${why}）。恢复未完成，临时内容已删除；请检查目标磁盘后重试。`, `restore could not be made durable: ${why}`, {
    status: 500,
  });
}
