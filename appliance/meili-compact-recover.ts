import { readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fsyncDir } from '../core/index.ts';

/**
 * The names `archive compact` (appliance/meili-compact.ts) uses beside Meilisearch's database
 * directory (meili/data.ms), in the same filesystem so every step is a rename:
 *   data.ms.compact-tmp     the copy being made and checked: never used, removed by the next run or start
 *   data.ms.compact-ready   the copy once checked (renamed from -tmp: that rename is the commit point)
 *   data.ms.precompact      the original, moved aside for the instant between the two swap renames
 * The swap is: rename data.ms → data.ms.precompact, rename data.ms.compact-ready → data.ms, remove
 * data.ms.precompact. A kill at any point leaves a state that `recoverCompaction` settles.
 */
export function compactPaths(dbPath: string): { tmp: string; ready: string; old: string; verifyPid: string } {
  return { tmp: `${dbPath}.compact-tmp`, ready: `${dbPath}.compact-ready`, old: `${dbPath}.precompact`, verifyPid: `${dbPath}.compact-verify.pid` };
}

const exists = async (p: string) => Boolean(await stat(p).catch(() => undefined));

export interface CompactRecovery {
  /** What was found and done, in words for the log (empty when nothing was left over). */
  actions: string[];
}

/**
 * Settle what a killed `archive compact` left beside `dbPath`, before anything opens the database:
 * an unchecked copy is removed; a checked copy whose swap was cut off half-way is put in place (the
 * original is already aside then); a checked copy not yet swapped in is dropped (the original is
 * whole and in place; running the compaction again redoes it). Never leaves the database missing.
 */
export async function recoverCompaction(dbPath: string): Promise<CompactRecovery> {
  const p = compactPaths(dbPath);
  const actions: string[] = [];
  // A Meilisearch started to check the copy may outlive a killed compaction: stop it before its files go.
  const pid = Number((await readFile(p.verifyPid, 'utf8').catch(() => '0')).trim());
  if (pid) {
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (cmdline.includes(p.tmp)) {
      try {
        process.kill(pid, 'SIGKILL');
        for (let i = 0; i < 50 && (await exists(`/proc/${pid}`)); i++) await new Promise((r) => setTimeout(r, 100));
        actions.push(`stopped the checking Meilisearch left running (pid ${pid})`);
      } catch {
        /* gone already */
      }
    }
    await rm(p.verifyPid, { force: true });
  }
  if (await exists(p.tmp)) {
    await rm(p.tmp, { recursive: true, force: true });
    actions.push(`removed an unchecked copy ${p.tmp}`);
  }
  const live = await exists(dbPath);
  const ready = await exists(p.ready);
  const old = await exists(p.old);
  if (!live && ready) {
    // Cut off between the two swap renames: the checked copy takes its place.
    await rename(p.ready, dbPath);
    actions.push(`finished the swap: ${p.ready} → ${dbPath}`);
  } else if (!live && old) {
    // Not reachable by the sequence above, but never leave the database missing while the original is there.
    await rename(p.old, dbPath);
    actions.push(`put the original back: ${p.old} → ${dbPath}`);
  } else if (ready) {
    await rm(p.ready, { recursive: true, force: true });
    actions.push(`dropped a checked copy that was not swapped in (the original is in place): ${p.ready}`);
  }
  if ((await exists(dbPath)) && (await exists(p.old))) {
    await rm(p.old, { recursive: true, force: true });
    actions.push(`removed the original kept aside: ${p.old}`);
  }
  if (actions.length) await fsyncDir(dirname(dbPath));
  return { actions };
}
