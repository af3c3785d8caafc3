import { readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../appliance/log.ts';

/** Size and mtime of every file under the inbox: the batch is taken once this stops changing. */
async function snapshot(dir: string): Promise<string> {
  const parts: string[] = [];
  const walk = async (d: string, rel: string): Promise<void> => {
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.name.startsWith('.') || e.name.startsWith('导入结果-')) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p, `${rel}${e.name}/`);
      else {
        const st = await stat(p).catch(() => undefined);
        if (st) parts.push(`${rel}${e.name}:${st.size}:${st.mtimeMs}`);
      }
    }
  };
  await walk(dir, '');
  return parts.join('\n');
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
    private readonly take: (batch: InboxBatch) => Promise<{ jobId: string }>,
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
        const { jobId } = await this.take(batch);
        for (const n of names) await rm(join(this.dir, n), { recursive: true, force: true });
        this.log.info({ jobId, entries: names.length }, 'inbox batch taken');
        this.last = '';
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
