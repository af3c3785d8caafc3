import { readFile, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { type Config, dataPath, ApplianceError, isApplianceError, writeFileAtomic, type Logger, type ComponentHealth } from '../core/index.ts';
import { AuditLog } from '../security/index.ts';
import { readBackupEnvelope } from './backup-crypto.ts';
import { localSignerKey } from './backup-keys.ts';
import { listBackupRecords } from './backup-records.ts';
import { createBackup } from './backup.ts';
import { startDaily } from './integrity-schedule.ts';

/**
 * The daily backup (config `backup`): a full backup to `backup.target`, encrypted to the registered
 * recipients like any other; then only this schedule's own older files beyond `backup.keep` are
 * removed. Its outcome goes to config/backup-schedule.json (the sysadmin's page), the audit trail
 * (backup.create by "scheduler", backup.prune) and health (degraded when the newest good backup is
 * older than `backup.maxAgeHours`, or the last scheduled run failed).
 */
export interface ScheduleRun {
  at: string;
  outcome: 'success' | 'failure';
  backupId?: string;
  file?: string;
  pruned?: string[];
  error?: { code: string; message: string };
}

export interface ScheduleState {
  lastRun?: ScheduleRun;
  lastGood?: ScheduleRun;
}

export const SCHEDULER_ACTOR = { actor: 'scheduler', role: '系统（定时备份）', source: 'schedule' } as const;

const statePath = (dataDir: string) => dataPath(dataDir, 'config', 'backup-schedule.json');

async function readState(dataDir: string): Promise<ScheduleState> {
  try {
    return JSON.parse(await readFile(statePath(dataDir), 'utf8')) as ScheduleState;
  } catch {
    return {};
  }
}

export const scheduleEnabled = (cfg: Config): boolean => cfg.backup.schedule !== 'off' && Boolean(cfg.backup.target);

/**
 * Remove this schedule's backups in `target` beyond the newest `keep`. A file is removed only if a
 * record says the schedule made it there, and its header still names that backup and this
 * appliance's signing key: files put there by hand, or by anyone else, are never touched.
 */
export async function pruneScheduled(cfg: Config, target: string, keep: number): Promise<string[]> {
  const dir = resolve(target);
  const signer = await localSignerKey(cfg.dataDir);
  const mine = [];
  for (const r of await listBackupRecords(cfg.dataDir)) {
    if (!r.scheduled || dirname(r.file) !== dir) continue;
    if (
      !(await stat(r.file).then(
        (s) => s.isFile(),
        () => false,
      ))
    )
      continue;
    mine.push(r);
  }
  const removed: string[] = [];
  for (const r of mine.slice(0, Math.max(0, mine.length - keep))) {
    const env = await readBackupEnvelope(r.file).catch(() => undefined);
    if (!env || env.info.backupId !== r.backupId || env.signer !== signer) continue;
    await rm(r.file);
    removed.push(r.file);
  }
  return removed;
}

/** One scheduled run: back up, prune, record the outcome. Never throws (the outcome says what failed). */
export async function runScheduledBackup(cfg: Config, opts: { signal?: AbortSignal; now?: () => Date } = {}): Promise<ScheduleRun> {
  const now = opts.now ?? (() => new Date());
  const state = await readState(cfg.dataDir);
  const audit = new AuditLog(dataPath(cfg.dataDir, 'audit'));
  let run: ScheduleRun;
  try {
    const target = cfg.backup.target;
    if (!target) throw new ApplianceError('BACKUP_TARGET_MISSING', '未配置定时备份的目标目录（backup.target）。', 'backup.target not set', { status: 500 });
    if (
      !(await stat(target).then(
        (s) => s.isDirectory(),
        () => false,
      ))
    ) {
      const e = new ApplianceError('BACKUP_TARGET_MISSING', `定时备份的目标目录 ${target} 不存在或不是目录（介质未挂载？）；本次备份未做。`, `backup target ${target} missing`, { status: 500 });
      await audit.append({ ...SCHEDULER_ACTOR, action: 'backup.create', target, outcome: 'failure', details: { error: e.code, message: e.message } });
      throw e;
    }
    const stamp = now()
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d+Z$/, 'Z');
    const r = await createBackup(cfg, { out: join(target, `archive-${stamp}.bak`), actor: SCHEDULER_ACTOR, scheduled: true, signal: opts.signal });
    run = { at: now().toISOString(), outcome: 'success', backupId: r.backupId, file: r.out };
    const pruned = await pruneScheduled(cfg, target, cfg.backup.keep);
    if (pruned.length) {
      run.pruned = pruned;
      await audit.append({ ...SCHEDULER_ACTOR, action: 'backup.prune', target, outcome: 'success', details: { removed: pruned, keep: cfg.backup.keep } });
    }
  } catch (e) {
    run = { at: now().toISOString(), outcome: 'failure', error: isApplianceError(e) ? { code: e.code, message: e.zh } : { code: 'INTERNAL', message: (e as Error).message } };
  }
  await audit.settle();
  const next: ScheduleState = { lastRun: run, lastGood: run.outcome === 'success' ? run : state.lastGood };
  await writeFileAtomic(statePath(cfg.dataDir), `${JSON.stringify(next, null, 2)}\n`);
  return run;
}

/** What the sysadmin's page shows about the schedule. */
export async function backupScheduleStatus(cfg: Config): Promise<{ enabled: boolean; hour: number | 'off'; target: string | null; keep: number; maxAgeHours: number } & ScheduleState> {
  return { enabled: scheduleEnabled(cfg), hour: cfg.backup.schedule, target: cfg.backup.target ?? null, keep: cfg.backup.keep, maxAgeHours: cfg.backup.maxAgeHours, ...(await readState(cfg.dataDir)) };
}

/**
 * Health of backups: with the schedule on, degraded when the newest good backup (scheduled or made
 * by hand) is older than backup.maxAgeHours, or when the last scheduled run failed.
 */
export async function backupHealth(cfg: Config, now = new Date()): Promise<ComponentHealth> {
  if (!scheduleEnabled(cfg)) return { status: 'ok', reason: '未开启定时备份（backup.schedule、backup.target）' };
  const state = await readState(cfg.dataDir);
  const newest = (await listBackupRecords(cfg.dataDir)).at(-1);
  const lastGood = [newest?.created, state.lastGood?.at].filter(Boolean).sort().at(-1);
  if (state.lastRun?.outcome === 'failure')
    // The code only: health is read widely, the message (paths) is on the sysadmin's page.
    return { status: 'degraded', reason: `上次定时备份失败（${state.lastRun.at}，${state.lastRun.error?.code ?? 'INTERNAL'}），详见系统管理页` };
  if (!lastGood) return { status: 'degraded', reason: '尚无成功的备份' };
  const ageH = (now.getTime() - Date.parse(lastGood)) / 3_600_000;
  if (ageH > cfg.backup.maxAgeHours) return { status: 'degraded', reason: `最近一次成功备份在 ${Math.floor(ageH)} 小时前（${lastGood}），超过 ${cfg.backup.maxAgeHours} 小时` };
  return { status: 'ok', reason: `最近一次成功备份：${lastGood}` };
}

/** Start the daily backup in `archive serve`; the returned function stops it (waiting for a run in progress, which then removes its partial file). */
export function scheduleBackups(cfg: Config, deps: { log: Logger }): () => Promise<void> {
  if (!scheduleEnabled(cfg)) return async () => {};
  const stopping = new AbortController();
  const s = startDaily(
    cfg.backup.schedule as number,
    async () => {
      const r = await runScheduledBackup(cfg, { signal: stopping.signal });
      if (r.outcome === 'success') deps.log.info({ backupId: r.backupId, file: r.file, pruned: r.pruned?.length ?? 0 }, 'scheduled backup finished');
      else deps.log.error({ error: r.error }, 'scheduled backup failed');
    },
    { onError: (e) => deps.log.error({ err: (e as Error).message }, 'scheduled backup failed') },
  );
  deps.log.info({ next: s.next().toISOString(), target: cfg.backup.target }, 'daily backup scheduled');
  return async () => {
    stopping.abort();
    await s.stop();
  };
}
