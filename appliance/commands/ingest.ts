import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { action, configFor, EXIT, globalOptions } from '../cli-common.ts';
import { CLASSIFICATIONS, type Classification, ApplianceError, createLogger, runningAppliance } from '../../core/index.ts';
import { consoleServices } from '../console-services.ts';
import { createIngestService, JobStore, jobProgress, submitPaths, type Job } from '../../ingest/index.ts';
import { createSearchService } from '../../search/index.ts';
import { consoleActor, openSecurity } from '../../security/index.ts';

const OUTCOME: Record<string, string> = { archived: '已归档', quarantined: '已隔离（病毒）', duplicate: '重复，未再归档', refused: '已拒绝', failed: '失败', pending: '未完成' };

function parseList(v?: string): string[] | undefined {
  return v
    ? v
        .split(/[,，;；、]/)
        .map((s) => s.trim())
        .filter(Boolean)
    : undefined;
}

/** Follow a job's journal until it is done, with a progress bar on a terminal and lines otherwise. */
async function follow(jobs: JobStore, id: string, json: boolean, until: () => Promise<void> = () => new Promise((r) => setTimeout(r, 500))): Promise<Job> {
  const tty = process.stderr.isTTY && !json;
  const bar = tty
    ? new cliProgress.SingleBar({ format: '{bar} {value}/{total} 页 | {rate} 页/分 | 剩余 {eta_formatted} | {status}', hideCursor: true, etaBuffer: 20 }, cliProgress.Presets.shades_classic)
    : undefined;
  let lastLine = '';
  let started = false;
  for (;;) {
    const job = await jobs.load(id);
    const p = jobProgress(job);
    const status = job.state === 'waiting' ? `等待：${job.waitingReason}` : `${p.itemsFinished}/${p.items} 件`;
    if (bar) {
      if (!started) bar.start(Math.max(1, p.pagesTotal), p.pagesDone, { rate: '-', status });
      started = true;
      bar.setTotal(Math.max(1, p.pagesTotal));
      bar.update(p.pagesDone, { rate: p.pagesPerMinute ?? '-', status });
    } else if (!json) {
      // One line per change of pages, items or state (not per poll): logs stay readable.
      const key = `${p.itemsFinished}/${p.pagesDone}/${job.state}/${job.waitingReason ?? ''}`;
      if (key !== lastLine)
        process.stderr.write(
          `进度：${p.itemsFinished}/${p.items} 件，${p.pagesDone}/${p.pagesTotal} 页${p.pagesPerMinute ? `，${p.pagesPerMinute} 页/分` : ''}${job.state === 'waiting' ? `；${job.waitingReason}` : ''}\n`,
        );
      lastLine = key;
    }
    if (job.state === 'done') {
      bar?.stop();
      return job;
    }
    await until();
  }
}

function report(job: Job, json: boolean): number {
  const bad = job.items.filter((i) => !['archived', 'duplicate'].includes(i.outcome));
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ ok: bad.length === 0 && job.problems.length === 0, job: job.id, progress: jobProgress(job), items: job.items.map((i) => ({ label: i.label, itemId: i.outcome === 'archived' ? i.itemId : undefined, outcome: i.outcome, pages: i.pageCount, error: i.error, duplicateOf: i.duplicateOf })), problems: job.problems })}\n`,
    );
  } else {
    // Named by 档号 and 题名 where the CSV gave them; the console (the machine's operator) also
    // learns which item a duplicate or a taken 档号 refers to — the web shows that only by the access rule.
    const name = (i: Job['items'][number]) => [i.metadata.archivalCode, i.metadata.title].filter(Boolean).join(' ') || i.label;
    const other = (i: Job['items'][number]) => ((i.duplicateOf ?? i.codeHolder) ? `（已有条目 ${i.duplicateOf ?? i.codeHolder}）` : '');
    for (const i of job.items)
      process.stdout.write(
        `${OUTCOME[i.outcome] ?? i.outcome}  ${name(i)}${i.outcome === 'archived' ? `  → ${i.itemId}（${i.pageCount} 页）` : ''}${i.error ? `  ${i.error.message}${other(i)}` : ''}\n`,
      );
    for (const p of job.problems) process.stdout.write(`未导入  ${p.path}  ${p.message}\n`);
    const n = (o: string) => job.items.filter((i) => i.outcome === o).length;
    process.stdout.write(`任务 ${job.id}：归档 ${n('archived')} 件，重复 ${n('duplicate')}，隔离 ${n('quarantined')}，拒绝 ${n('refused')}，失败 ${n('failed')}，未导入文件 ${job.problems.length}\n`);
  }
  return bad.length === 0 && job.problems.length === 0 ? EXIT.ok : EXIT.failure;
}

export function registerIngest(program: Command): void {
  program
    .command('ingest [path...]')
    .description(
      '导入扫描件：文件为一件，页面图片文件夹为一件，其余文件夹按批导入；可附 CSV 清单\ningest scans: a file is one item, a folder of page images is one item, other folders are batches; optional CSV manifest\n（只给 --manifest 时，CSV 所列即全部条目，路径相对于 CSV 所在目录 / with --manifest alone, the CSV names every item, relative to its folder）',
    )
    .option('--manifest <csv>', 'CSV 清单（文件,档号,题名,文号,责任者,日期,保管期限,密级,岗位）')
    .option('--posts <list>', '默认岗位，逗号分隔 default posts (CSV 岗位 wins)')
    .option('--classification <密级>', `默认密级 default classification: ${CLASSIFICATIONS.join('/')}`, '内部')
    .option('--wait', '等待完成并显示进度（设备服务未运行时总是等待） wait for the job to finish')
    .action(
      action(async (paths: string[], opts: { manifest?: string; posts?: string; classification: string; wait?: boolean }, cmd: Command) => {
        const cfg = configFor(cmd);
        const json = Boolean(globalOptions(cmd).json);
        // The CSV names every item (relative to its own folder): PATH is needed only without one.
        if (paths.length === 0 && !opts.manifest) {
          throw new ApplianceError('USAGE', '请给出要导入的文件或文件夹，或用 --manifest 指定 CSV 清单（清单列出全部条目）。', 'give PATH... or --manifest CSV', { status: 400 });
        }
        if (!(CLASSIFICATIONS as readonly string[]).includes(opts.classification)) {
          throw new ApplianceError('USAGE', `密级须为 ${CLASSIFICATIONS.join('、')} 之一：${opts.classification}`, 'bad --classification', { status: 400 });
        }
        const sec = await openSecurity(cfg);
        const knownPosts = new Set((await sec.identity.posts()).filter((p) => !p.disabled).map((p) => p.code));
        const submitOpts = {
          manifest: opts.manifest,
          posts: parseList(opts.posts),
          classification: opts.classification as Classification,
          actor: { name: consoleActor().actor, role: consoleActor().role, source: consoleActor().source },
          via: 'cli' as const,
          knownPosts: knownPosts.size ? knownPosts : undefined,
        };
        const jobs = new JobStore(cfg.dataDir);
        if (await runningAppliance(cfg.dataDir)) {
          const job = await submitPaths(cfg, jobs, sec.audit, paths, submitOpts);
          if (!json) process.stderr.write(`已提交任务 ${job.id}（${job.items.length} 件），由运行中的设备服务处理。\n`);
          if (!opts.wait) {
            if (json) process.stdout.write(`${JSON.stringify({ ok: true, job: job.id, items: job.items.length, problems: job.problems })}\n`);
            return EXIT.ok;
          }
          return report(await follow(jobs, job.id, json), json);
        }
        // No appliance running: this command does the work itself, holding the appliance's lock.
        const services = await consoleServices(cfg);
        const log = createLogger({ level: process.env.ARCHIVE_LOG_LEVEL ?? 'warn', toStderr: true });
        const search = createSearchService(services.conn, cfg.dataDir);
        try {
          await search.init();
          const svc = await createIngestService(cfg, { log, audit: sec.audit, search });
          const job = await svc.submit(paths, submitOpts);
          if (!json) process.stderr.write(`任务 ${job.id}：${job.items.length} 件，开始处理（设备服务未运行，由本命令处理）。\n`);
          const draining = svc.drain();
          const done = await follow(jobs, job.id, json, () => Promise.race([draining, new Promise<void>((r) => setTimeout(r, 500))]));
          await draining;
          await svc.stop();
          return report(done, json);
        } finally {
          await services.release();
        }
      }),
    );
}
