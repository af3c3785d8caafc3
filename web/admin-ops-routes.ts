import type Router from '@koa/router';
import { readFile } from 'node:fs/promises';
import { type Config, ApplianceError, isApplianceError } from '../core/index.ts';
import type { ItemStore } from '../ingest/index.ts';
import type { SearchService } from '../search/index.ts';
import { clamdSignatures, roleLabel } from '../security/index.ts';
import { currentUser, requirePermission } from './authorize.ts';
import { integrityLatestPath, runIntegrityCheck, type IntegrityReport, listBackupRecords } from '../custody/index.ts';
import { type Auth } from './auth.ts';

export interface AdminOpsDeps {
  auth: Auth;
  cfg: Config;
  /** The running appliance's store and index; without them the check opens its own store and skips the index. */
  store?: ItemStore;
  search?: SearchService;
}

/**
 * The administrators' read-outs of the custody operations: backup records (系统管理员), the
 * integrity report 四性检测 and the virus-signature status (安全保密管理员). Running and verifying
 * a backup from the page is in backup-routes.ts (to the registered recipients; no key); restoring and
 * importing signatures stay at the console: a passphrase and a signature file must not travel
 * through the browser.
 */
export function adminOpsRoutes(router: Router, deps: AdminOpsDeps): void {
  const { auth, cfg } = deps;

  router.get('/api/admin/backups', requirePermission('backup:run'), async (ctx) => {
    const records = await listBackupRecords(cfg.dataDir);
    // Newest first; the per-item hash list stays on the machine (it is only for the next incremental).
    ctx.body = {
      backups: records.reverse().map((r) => ({
        id: r.backupId,
        kind: r.kind,
        parent: r.parentId,
        created: r.created,
        file: r.file,
        outBytes: r.outBytes,
        bytes: r.bytes,
        files: r.files,
        items: Object.keys(r.items ?? {}).length,
        included: r.included,
      })),
    };
  });

  router.get('/api/integrity/latest', requirePermission('integrity:check'), async (ctx) => {
    let text: string;
    try {
      text = await readFile(integrityLatestPath(cfg.dataDir), 'utf8');
    } catch {
      throw new ApplianceError('INTEGRITY_NONE', '尚未进行过完整性检测（四性检测）；可点击“立即检测”或在控制台运行 archive verify。', 'no integrity check has run yet', { status: 404 });
    }
    const report = JSON.parse(text) as IntegrityReport;
    // The report names items (ids, files that changed): reading it is on the record.
    await auth.record(ctx, { action: 'integrity.view', target: 'archive', outcome: 'success' });
    ctx.body = report;
  });

  // One check at a time: a second would read the store while the first rewrites the report.
  let running = false;
  router.post('/api/integrity/run', requirePermission('integrity:check'), async (ctx) => {
    if (running) {
      await auth.record(ctx, { action: 'integrity.check', target: 'archive', outcome: 'failure', details: { error: 'INTEGRITY_RUNNING' } });
      throw new ApplianceError('INTEGRITY_RUNNING', '完整性检测正在进行中，请稍后查看结果。', 'an integrity check is already running', { status: 409 });
    }
    running = true;
    try {
      const who = currentUser(ctx);
      // runIntegrityCheck appends the integrity.check record itself, under this actor.
      const report = await runIntegrityCheck(cfg, { store: deps.store, search: deps.search, actor: { actor: who.user.username, role: roleLabel(who.roles), source: ctx.ip || '-' } });
      ctx.body = report;
    } catch (e) {
      await auth.record(ctx, { action: 'integrity.check', target: 'archive', outcome: 'failure', details: { error: isApplianceError(e) ? e.code : 'INTERNAL' } });
      throw e;
    } finally {
      running = false;
    }
  });

  router.get('/api/signatures', requirePermission('signature:import'), async (ctx) => {
    try {
      const s = await clamdSignatures(cfg.clamd);
      const stale = s.ageDays !== undefined && s.ageDays > deps.cfg.signatureMaxAgeDays;
      ctx.body = {
        status: 'up',
        engine: s.engine,
        signatureVersion: s.signatureVersion ?? null,
        signatureDate: s.signatureDate ?? null,
        ageDays: s.ageDays ?? null,
        maxAgeDays: deps.cfg.signatureMaxAgeDays,
        stale,
      };
    } catch (e) {
      // A stopped scanner is a status to show, not a server error.
      ctx.body = { status: 'down', reason: isApplianceError(e) ? e.zh : '病毒扫描服务不可用。', reasonEn: (e as Error).message, maxAgeDays: deps.cfg.signatureMaxAgeDays };
    }
  });
}
