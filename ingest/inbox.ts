import { lstat, readdir, realpath, rm, rmdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Logger } from '../core/index.ts';
import { REFUSED_FILE_CODES, type PlanProblem } from './batch-plan.ts';

/** Size and mtime of every file under the inbox: the batch is taken once this stops changing. */
async function snapshot(dir: string): Promise<string> {
  const parts: string[] = [];
  const walk = async (d: string, rel: string): Promise<void> => {
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.name.startsWith('.') || e.name.startsWith('导入结果-')) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p, `${rel}${e.name}/`);
      else {
        // lstat: a link is the link (its target's changes are not the inbox's).
        const st = await lstat(p).catch(() => undefined);
        if (st) parts.push(`${rel}${e.name}:${st.size}:${st.mtimeMs}`);
      }
    }
  };
  await walk(dir, '');
  return parts.join('\n');
}

/** Remove folders left empty under dir (never following a link); true if dir itself went. */
async function pruneEmptyDirs(dir: string): Promise<boolean> {
  const entries = await readdir(dir, { withFileTypes: true });
  let left = entries.length;
  for (const e of entries) if (e.isDirectory() && (await pruneEmptyDirs(join(dir, e.name)))) left--;
  if (left > 0) return false;
  await rmdir(dir);
  return true;
}

export interface InboxBatch {
  /** Top-level entries of the inbox (files and folders), absolute paths. */
  entries: string[];
  /** A CSV at the top of the inbox, if the scanner desk put one there. */
  manifest?: string;
}

/**
 * The hot folder data/inbox/: a scanner or an archivist copies scans (and optionally a CSV) in;
 * when nothing in it has changed for `settleMs`, everything in it is taken as one batch. Entries
 * are removed only after the job holding their copies has been committed; a batch that is refused
 * (a bad CSV, say) stays where it is with a report beside it, and is tried again once changed.
 */
export class InboxWatcher {
  private timer?: NodeJS.Timeout;
  private last = '';
  private lastChange = 0;
  private refused = '';
  private busy = false;

  constructor(
    private readonly dir: string,
    private readonly take: (batch: InboxBatch) => Promise<{ jobId: string; taken?: string[]; problems?: PlanProblem[] }>,
    private readonly log: Logger,
    private readonly opts: { settleMs: number; pollMs: number } = { settleMs: 15_000, pollMs: 2_000 },
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.opts.pollMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const snap = await snapshot(this.dir);
      if (snap !== this.last) {
        this.last = snap;
        this.lastChange = Date.now();
        return;
      }
      if (!snap || snap === this.refused || Date.now() - this.lastChange < this.opts.settleMs) return;
      const names = (await readdir(this.dir)).filter((n) => !n.startsWith('.') && !n.startsWith('导入结果-'));
      const csv = names.filter((n) => /\.csv$/i.test(n));
      const batch: InboxBatch = { entries: names.filter((n) => !/\.csv$/i.test(n)).map((n) => join(this.dir, n)), manifest: csv.length === 1 ? join(this.dir, csv[0]) : undefined };
      try {
        if (csv.length > 1) throw new Error(`收件箱中有多个 CSV 清单（${csv.join('、')}），请只保留一个`);
        const { jobId, taken = [], problems = [] } = await this.take(batch);
        // Links and special files refused in the batch stay where they are (with what could not be
        // taken around them), reported beside them; only the files the job holds copies of go.
        const refused = problems.filter((p) => REFUSED_FILE_CODES.has(p.code));
        if (refused.length === 0) {
          for (const n of names) await rm(join(this.dir, n), { recursive: true, force: true });
          this.last = '';
        } else {
          const real = await realpath(this.dir);
          for (const n of names) {
            if (!refused.some((p) => p.path === n || p.path.startsWith(`${n}/`))) await rm(join(this.dir, n), { recursive: true, force: true });
            else {
              for (const f of taken.map((t) => relative(real, t)).filter((r) => r.startsWith(`${n}/`))) await rm(join(this.dir, f), { force: true });
              await pruneEmptyDirs(join(this.dir, n));
            }
          }
          const report = join(this.dir, `导入结果-${new Date().toISOString().replace(/[:.]/g, '-')}.txt`);
          await writeFile(
            report,
            `任务 ${jobId} 已导入这批文件中的其余部分。以下文件被拒绝，原样保留在收件箱中（删除或替换为文件本身后会自动重试）：\n\n${refused.map((p) => p.message).join('\n')}\n`,
            'utf8',
          );
          // Not taken again until someone changes what was left.
          this.refused = await snapshot(this.dir);
          this.last = this.refused;
        }
        this.log.info({ jobId, entries: names.length, refused: refused.length }, 'inbox batch taken');
      } catch (e) {
        this.refused = snap;
        const msg = (e as { zh?: string }).zh ?? (e as Error).message;
        const report = join(this.dir, `导入结果-${new Date().toISOString().replace(/[:.]/g, '-')}.txt`);
        await writeFile(report, `收件箱中的这批文件未被导入，文件原样保留。修改后会自动重试。\n\n${msg}\n`, 'utf8');
        this.log.warn({ err: msg }, 'inbox batch refused');
      }
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'inbox scan failed');
    } finally {
      this.busy = false;
    }
  }
}
