import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../core/config.ts';
import { ItemStore } from '../../ingest/index.ts';
import { backupHealth, backupScheduleStatus, runScheduledBackup } from '../../custody/backup-schedule.ts';
import { listBackupRecords } from '../../custody/backup-records.ts';
import { verifyBackup } from '../../custody/backup-verify.ts';
import { cleanup, tempDir } from '../support/appliance.ts';
import { enrol, makeItem, makeSecadmin, type Secadmin } from './backup-support.ts';

// The daily backup, run as `archive serve` runs it (runScheduledBackup is the timer's task): to the
// configured target, pruned to backup.keep of its own files, its outcome in the state file, the
// audit trail and health.

let root: string;
let target: string;
let cfg: Config;
let sec: Secadmin;

const audit = async (dataDir: string) =>
  (await readFile(join(dataDir, 'audit', `audit-${new Date().getFullYear()}.jsonl`), 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, any>);

beforeAll(async () => {
  root = await tempDir('backup-schedule-');
  target = join(root, 'nas');
  await mkdir(target);
  sec = await makeSecadmin(root);
  cfg = loadConfig({ env: { ARCHIVE_BACKUP_SCHEDULE: '4', ARCHIVE_BACKUP_TARGET: target, ARCHIVE_BACKUP_KEEP: '2', ARCHIVE_BACKUP_MAX_AGE_HOURS: '30' }, overrides: { dataDir: join(root, 'data') } });
  const store = await ItemStore.open(cfg.dataDir);
  for (let i = 1; i <= 2; i++) await makeItem(store, root, { itemNo: i });
});
afterAll(() => cleanup(root));

describe('scheduled backups', () => {
  it('reads its settings from the environment like the rest of the configuration', () => {
    expect(cfg.backup).toEqual({ schedule: 4, target, keep: 2, maxAgeHours: 30 });
    expect(loadConfig({ env: {} }).backup).toEqual({ schedule: 3, keep: 7, maxAgeHours: 36 });
    expect(() => loadConfig({ env: { ARCHIVE_BACKUP_SCHEDULE: '25' } })).toThrow();
  });

  it('with no recipient registered, the run fails in the open: state, audit, health', async () => {
    expect((await backupHealth(cfg)).status).toBe('degraded');
    const r = await runScheduledBackup(cfg);
    expect(r).toMatchObject({ outcome: 'failure', error: { code: 'BACKUP_NO_RECIPIENTS', message: expect.stringContaining('尚未登记备份接收公钥') } });
    expect(await readdir(target)).toEqual([]);
    expect((await audit(cfg.dataDir)).at(-1)).toMatchObject({ actor: 'scheduler', action: 'backup.create', outcome: 'failure' });
    expect(await backupHealth(cfg)).toMatchObject({ status: 'degraded', reason: expect.stringContaining('上次定时备份失败') });
  });

  it('runs to the target, prunes only its own files beyond keep, and reports healthy', async () => {
    const key = await enrol(cfg.dataDir, sec);
    // Files that are not this schedule's: a hand-made note, and a manual backup in the same folder.
    await writeFile(join(target, 'README.txt'), 'kept by hand\n');
    const { createBackup } = await import('../../custody/index.ts');
    const manual = await createBackup(cfg, { out: join(target, 'manual.bak') });
    let t = Date.parse('2026-12-01T04:00:00Z');
    const runs = [];
    for (let i = 0; i < 4; i++) {
      runs.push(await runScheduledBackup(cfg, { now: () => new Date(t) }));
      t += 24 * 3_600_000;
    }
    for (const r of runs) expect(r.outcome, JSON.stringify(r.error)).toBe('success');
    const left = (await readdir(target)).sort();
    expect(left).toEqual(['README.txt', 'manual.bak', ...runs.slice(2).map((r) => r.file!.split('/').at(-1)!)].sort());
    expect(runs[2].pruned).toEqual([runs[0].file]);
    expect(runs[3].pruned).toEqual([runs[1].file]);
    // The survivors open with the secadmin's key.
    expect((await verifyBackup([runs[3].file!], key)).backups[0].backupId).toBe(runs[3].backupId);
    expect((await listBackupRecords(cfg.dataDir)).map((r) => r.backupId)).toContain(manual.backupId);
    const trail = await audit(cfg.dataDir);
    expect(trail.filter((l) => l.action === 'backup.create' && l.actor === 'scheduler' && l.outcome === 'success')).toHaveLength(4);
    expect(trail.filter((l) => l.action === 'backup.prune').map((l) => l.details.removed)).toEqual([[runs[0].file], [runs[1].file]]);
    expect(await backupHealth(cfg)).toMatchObject({ status: 'ok' });
    const status = await backupScheduleStatus(cfg);
    expect(status).toMatchObject({ enabled: true, hour: 4, target, keep: 2, lastRun: { outcome: 'success', backupId: runs[3].backupId }, lastGood: { backupId: runs[3].backupId } });
  });

  it('health turns degraded when the newest good backup is older than the limit', async () => {
    const later = new Date(Date.now() + 31 * 3_600_000);
    expect(await backupHealth(cfg, later)).toMatchObject({ status: 'degraded', reason: expect.stringContaining('超过 30 小时') });
  });

  it('a missing target (medium not mounted) is a failure on record, nothing written elsewhere', async () => {
    const gone = loadConfig({ env: { ARCHIVE_BACKUP_SCHEDULE: '4', ARCHIVE_BACKUP_TARGET: join(root, 'unmounted'), ARCHIVE_BACKUP_KEEP: '2' }, overrides: { dataDir: cfg.dataDir } });
    const r = await runScheduledBackup(gone);
    expect(r).toMatchObject({ outcome: 'failure', error: { code: 'BACKUP_TARGET_MISSING' } });
    expect((await audit(cfg.dataDir)).at(-1)).toMatchObject({ actor: 'scheduler', action: 'backup.create', outcome: 'failure', details: { error: 'BACKUP_TARGET_MISSING' } });
    expect((await backupHealth(gone)).status).toBe('degraded');
    // The last good one is still remembered for the page.
    expect((await backupScheduleStatus(gone)).lastGood?.outcome).toBe('success');
  });
});
