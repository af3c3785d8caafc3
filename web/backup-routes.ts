import type Router from '@koa/router';
import type Koa from 'koa';
import { realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative } from 'node:path';
import { z } from 'zod';
import { type Config, ApplianceError, isApplianceError } from '../core/index.ts';
import { roleLabel } from '../security/index.ts';
import { assertBackupTarget, createBackup, noRecipients, type BackupProgress, backupScheduleStatus, listRecipients, localSignerKey, verifyBackupStructure } from '../custody/index.ts';
import { currentUser, requirePermission } from './authorize.ts';
import { readJson } from './http-body.ts';
import { type Auth } from './auth.ts';

/**
 * 系统管理员 runs and verifies backups from the web page. No key is taken or written: a backup is
 * encrypted to the recipients the 安全保密管理员 registered and signed by the appliance, and the
 * page's verify checks structure and signature only (opening one needs the secadmin's private
 * key, at the console). Paths are confined to cfg.backupDirs (the mount points of removable media). One task at
 * a time (a backup reads the whole store); the page follows it with GET /api/admin/backups/task.
 */
export interface BackupTask {
  id: number;
  kind: 'create' | 'verify';
  state: 'running' | 'done' | 'failed';
  actor: string;
  startedAt: string;
  finishedAt?: string;
  progress?: { bytes: number; total?: number; mbps: number };
  result?: Record<string, unknown>;
  error?: { code: string; message: string };
}

const createBody = z.object({ out: z.string().min(2).max(1000), incrementalFrom: z.string().max(100).optional() }).strict();
const verifyBody = z.object({ files: z.array(z.string().min(2).max(1000)).min(1).max(50) }).strict();

function badPath(path: string, dirs: string[]): ApplianceError {
  return new ApplianceError(
    'BACKUP_PATH_NOT_ALLOWED',
    `路径 ${path} 不在允许的备份目录（${dirs.join('、') || '未配置'}）之内。网页只能读写移动介质的挂载点；其他位置请在控制台操作。`,
    `path ${path} outside backupDirs`,
    { status: 400, details: { path, backupDirs: dirs } },
  );
}

/** The real path of `path` (or of its folder, for a file still to be written), if it lies under one of `dirs`. */
async function confined(path: string, dirs: string[], mustExist: boolean): Promise<string> {
  if (!isAbsolute(path) || path.includes('\0')) throw badPath(path, dirs);
  let real: string;
  try {
    real = mustExist ? await realpath(path) : join(await realpath(dirname(path)), basename(path));
  } catch {
    throw new ApplianceError('BACKUP_PATH_MISSING', `${mustExist ? '文件' : '目录'}不存在或无法访问：${mustExist ? path : dirname(path)}（介质是否已挂载？）`, `cannot resolve ${path}`, {
      status: 400,
      details: { path },
    });
  }
  for (const d of dirs) {
    const root = await realpath(d).catch(() => undefined);
    if (!root) continue;
    const rel = relative(root, real);
    if (rel && !rel.startsWith('..') && !isAbsolute(rel)) return real;
  }
  throw badPath(path, dirs);
}

export function backupRoutes(router: Router, deps: { auth: Auth; cfg: Config; onStop?: (hook: () => Promise<void>) => void }): void {
  const { auth, cfg } = deps;
  let task: BackupTask | undefined;
  let running: Promise<unknown> | undefined;
  let nextId = 1;
  // Stopping the appliance mid-backup: the backup removes its unfinished file from the medium
  // (and records why) before the process goes. A verify leaves nothing behind: not waited for.
  const stopping = new AbortController();
  deps.onStop?.(async () => {
    stopping.abort();
    if (task?.kind === 'create') await running;
  });

  /** Start `work` as the one running task; answers 409 while another runs. */
  function start(
    ctx: Koa.Context,
    kind: BackupTask['kind'],
    work: (onProgress: (p: BackupProgress) => void, actor: { actor: string; role: string; source: string }) => Promise<Record<string, unknown>>,
  ): BackupTask {
    if (task?.state === 'running') {
      throw new ApplianceError('BACKUP_TASK_RUNNING', `已有备份任务在进行（${task.kind === 'create' ? '备份' : '校验'}，由 ${task.actor} 发起），请等它结束。`, 'a backup task is already running', {
        status: 409,
      });
    }
    const who = currentUser(ctx);
    const actor = { actor: who.user.username, role: roleLabel(who.roles), source: ctx.ip || '-' };
    const t: BackupTask = { id: nextId++, kind, state: 'running', actor: actor.actor, startedAt: new Date().toISOString() };
    task = t;
    running = work((p) => (t.progress = { bytes: p.bytes, total: p.total, mbps: Math.round(p.mbps * 10) / 10 }), actor).then(
      (result) => {
        t.result = result;
        t.state = 'done';
        t.finishedAt = new Date().toISOString();
      },
      (e: unknown) => {
        t.error = isApplianceError(e) ? { code: e.code, message: e.zh } : { code: 'INTERNAL', message: `内部错误：${(e as Error).message}` };
        t.state = 'failed';
        t.finishedAt = new Date().toISOString();
      },
    );
    return t;
  }

  router.post('/api/admin/backups', requirePermission('backup:run'), async (ctx) => {
    const { out, incrementalFrom } = await readJson(ctx, createBody);
    // Refused now, not as a failed task: a path outside the media, an existing file, the data dir, no recipient.
    const outPath = await assertBackupTarget(cfg, await confined(out, cfg.backupDirs, false));
    if (!(await listRecipients(cfg.dataDir)).length) throw noRecipients();
    // createBackup records backup.create (success or failure) under this actor.
    const t = start(ctx, 'create', async (onProgress, actor) => {
      const r = await createBackup(cfg, { out: outPath, incrementalFrom, onProgress, actor, signal: stopping.signal });
      return {
        backupId: r.backupId,
        kind: r.kind,
        parentId: r.parentId,
        out: r.out,
        files: r.files,
        bytes: r.bytes,
        outBytes: r.outBytes,
        items: r.items,
        included: r.included,
        damaged: r.damaged,
        ms: r.ms,
        recipients: r.recipients,
      };
    });
    ctx.status = 202;
    ctx.body = { task: t };
  });

  router.post('/api/admin/backups/verify', requirePermission('backup:run'), async (ctx) => {
    const body = await readJson(ctx, verifyBody);
    const files: string[] = [];
    for (const f of body.files) files.push(await confined(f, cfg.backupDirs, true));
    const signer = await localSignerKey(cfg.dataDir);
    const t = start(ctx, 'verify', async (onProgress, actor) => {
      try {
        const r = await verifyBackupStructure(files, signer ? [signer] : [], onProgress);
        const backups = r.backups.map((b) => ({ file: b.file, backupId: b.backupId, kind: b.kind, parentId: b.parentId, chunks: b.chunks, bytes: b.bytes, recipients: b.recipients }));
        await auth.audit.append({
          ...actor,
          action: 'backup.verify',
          target: files.join(' '),
          outcome: 'success',
          details: { backups: backups.map((b) => b.backupId), chain: r.chain, contentChecked: false },
        });
        return { chain: r.chain, contentChecked: false, backups };
      } catch (e) {
        await auth.audit
          .append({ ...actor, action: 'backup.verify', target: files.join(' '), outcome: 'failure', details: { error: isApplianceError(e) ? e.code : 'INTERNAL', message: (e as Error).message } })
          .catch(() => undefined);
        throw e;
      }
    });
    ctx.status = 202;
    ctx.body = { task: t };
  });

  // What the page shows beside the form: who backups are encrypted to, and this appliance's signer.
  router.get('/api/admin/backups/keys', requirePermission('backup:run'), async (ctx) => {
    const recipients = (await listRecipients(cfg.dataDir)).map((r) => ({ fingerprint: r.fingerprint, label: r.label, addedAt: r.addedAt, publicKey: r.publicKey }));
    ctx.body = { recipients, signer: (await localSignerKey(cfg.dataDir)) ?? null, schedule: await backupScheduleStatus(cfg) };
  });

  router.get('/api/admin/backups/task', requirePermission('backup:run'), async (ctx) => {
    ctx.body = { task: task ?? null };
  });
}
