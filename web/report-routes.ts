import type Router from '@koa/router';
import type Koa from 'koa';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { type Config, ApplianceError, isApplianceError } from '../core/index.ts';
import type { ItemStore } from '../ingest/index.ts';
import { auditFilterFrom, auditPage, auditRecords, departmentNamesBody, readDepartmentNames, summarizeAudit, writeDepartmentNames, type AuditFilter, type AuditRecord } from '../security/index.ts';
import { currentUser, requirePermission } from './authorize.ts';
import { integrityLatestPath, type IntegrityReport } from '../custody/index.ts';
import { readJson } from './http-body.ts';
import { type Auth } from './auth.ts';
import { type CjkFontSource } from './report-pdf.ts';
import { auditCsv, auditJsonl, auditRows, auditSummaryPdf, auditXlsxStream, firstN, integrityReportPdf, itemIdsOf, itemRefReader, type ItemRef } from './audit-documents.ts';
import { actionLabel, detailPairs, outcomeLabel, roleText } from './public/js/audit-labels.js';

export interface ReportDeps {
  auth: Auth;
  cfg: Config;
  /** The running appliance's item store, to name audited items; without it item.json is read directly. */
  store?: ItemStore;
  /** Fonts for the PDF reports (tests point this at a missing file to see the refusal). */
  fonts?: CjkFontSource[];
}

const MAX_PAGE = 500;

function intParam(v: unknown, name: string, def: number, min: number, max: number): number {
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new ApplianceError('BAD_PARAM', `参数 ${name} 须为 ${min} 到 ${max} 之间的整数。`, `bad ${name}`, { status: 400 });
  return n;
}

/** The filter as the audit record of a read or export states it. */
function filterDetails(f: AuditFilter): Record<string, unknown> {
  return { from: f.from ?? null, to: f.to ?? null, actor: f.actor ?? null, filterAction: f.action ?? null, filterOutcome: f.outcome ?? null };
}

const stamp = () => new Date().toISOString().slice(0, 10);
const attachment = (ctx: Koa.Context, name: string) =>
  ctx.set('Content-Disposition', `attachment; filename="${encodeURIComponent(name).replace(/%/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`);

/**
 * The reports people read: the audit trail page by page with Chinese labels and the
 * 档号/题名 of audited items, its exports (CSV, XLSX, JSONL) under the page's filters, the audit
 * summary and the 四性检测 report as PDF, and the secadmin's 机构代码→名称 table. Every read,
 * export and print is itself an audit record.
 */
export function reportRoutes(router: Router, deps: ReportDeps): void {
  const { auth, cfg } = deps;
  const auditDir = join(cfg.dataDir, 'audit');

  const itemRefs = itemRefReader(cfg.dataDir, deps.store);
  const refOf = (r: AuditRecord, refs: Map<string, ItemRef>) =>
    itemIdsOf(r)
      .map((id) => refs.get(id))
      .find(Boolean);

  router.get('/api/admin/audit/page', requirePermission('audit:read'), async (ctx) => {
    const f = auditFilterFrom(ctx.query);
    const offset = intParam(ctx.query.offset, 'offset', 0, 0, 1e9);
    const limit = intParam(ctx.query.limit, 'limit', 100, 1, MAX_PAGE);
    const { records, total } = await auditPage(auditDir, f, offset, limit);
    const refs = await itemRefs(records);
    await auth.record(ctx, { action: 'audit.read', target: 'audit', outcome: 'success', details: { ...filterDetails(f), offset, records: records.length, total } });
    ctx.body = {
      total,
      offset,
      limit,
      records: records.map((r) => {
        const item = refOf(r, refs);
        return { ...r, actionLabel: actionLabel(r.action), outcomeLabel: outcomeLabel(r.outcome), roleLabel: roleText(r.role), detailPairs: detailPairs(r.details), ...(item ? { item } : {}) };
      }),
    };
  });

  router.get('/api/admin/audit/export/:format', requirePermission('audit:export'), async (ctx) => {
    const format = String(ctx.params.format);
    if (!['csv', 'xlsx', 'jsonl'].includes(format)) throw new ApplianceError('BAD_PARAM', '导出格式须为 csv、xlsx 或 jsonl。', 'bad export format', { status: 400 });
    const f = auditFilterFrom(ctx.query);
    // Counted first, recorded, then streamed: the record is on disk before any byte leaves, and
    // the file holds exactly the records counted (later ones, this export's own record among
    // them, are appended after and not taken).
    let total = 0;
    try {
      for await (const _ of auditRecords(auditDir, f)) total++;
    } catch (e) {
      await auth.record(ctx, { action: 'audit.export', target: 'audit', outcome: 'failure', details: { format, ...filterDetails(f), error: isApplianceError(e) ? e.code : 'INTERNAL' } });
      throw e;
    }
    await auth.record(ctx, { action: 'audit.export', target: 'audit', outcome: 'success', details: { format, ...filterDetails(f), records: total } });
    const records = () => firstN(auditRecords(auditDir, f), total);
    ctx.type = format === 'csv' ? 'text/csv; charset=utf-8' : format === 'xlsx' ? 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' : 'application/x-ndjson; charset=utf-8';
    attachment(ctx, `审计记录-${stamp()}.${format}`);
    if (format === 'xlsx') {
      const out = new PassThrough();
      auditXlsxStream(auditRows(records(), itemRefs), out, '审计记录').catch((e: unknown) => out.destroy(e as Error));
      ctx.body = out;
    } else if (format === 'csv') {
      ctx.body = Readable.from(auditCsv(auditRows(records(), itemRefs)));
    } else {
      ctx.body = Readable.from(auditJsonl(records()));
    }
  });

  router.get('/api/admin/audit/summary', requirePermission('audit:read'), async (ctx) => {
    const f = auditFilterFrom(ctx.query);
    const s = await summarizeAudit(auditDir, f);
    await auth.record(ctx, { action: 'audit.read', target: 'audit-summary', outcome: 'success', details: { ...filterDetails(f), records: s.total } });
    ctx.body = { ...s, byAction: s.byAction.map((a) => ({ ...a, label: actionLabel(a.action) })) };
  });

  router.get('/api/admin/audit/summary.pdf', requirePermission('audit:export'), async (ctx) => {
    const f = auditFilterFrom(ctx.query);
    let pdf: Uint8Array;
    try {
      const s = await summarizeAudit(auditDir, f);
      pdf = await auditSummaryPdf(s, { actor: currentUser(ctx).user.username, at: new Date().toISOString() }, deps.fonts);
    } catch (e) {
      await auth.record(ctx, { action: 'audit.summary', target: 'audit', outcome: 'failure', details: { ...filterDetails(f), error: isApplianceError(e) ? e.code : 'INTERNAL' } });
      throw e;
    }
    await auth.record(ctx, { action: 'audit.summary', target: 'audit', outcome: 'success', details: { ...filterDetails(f), bytes: pdf.length } });
    ctx.type = 'application/pdf';
    attachment(ctx, `审计汇总-${stamp()}.pdf`);
    ctx.body = Buffer.from(pdf);
  });

  router.get('/api/integrity/latest.pdf', requirePermission('integrity:check'), async (ctx) => {
    let pdf: Uint8Array;
    try {
      let report: IntegrityReport;
      try {
        report = JSON.parse(await readFile(integrityLatestPath(cfg.dataDir), 'utf8')) as IntegrityReport;
      } catch {
        throw new ApplianceError('INTEGRITY_NONE', '尚未进行过完整性检测（四性检测）；可点击“立即检测”或在控制台运行 archive verify。', 'no integrity check has run yet', { status: 404 });
      }
      pdf = await integrityReportPdf(report, { actor: currentUser(ctx).user.username, at: new Date().toISOString() }, deps.fonts);
    } catch (e) {
      await auth.record(ctx, { action: 'integrity.print', target: 'archive', outcome: 'failure', details: { error: isApplianceError(e) ? e.code : 'INTERNAL' } });
      throw e;
    }
    await auth.record(ctx, { action: 'integrity.print', target: 'archive', outcome: 'success', details: { bytes: pdf.length } });
    ctx.type = 'application/pdf';
    attachment(ctx, `四性检测报告-${stamp()}.pdf`);
    ctx.body = Buffer.from(pdf);
  });

  router.get('/api/admin/departments', requirePermission('post:list'), async (ctx) => {
    ctx.body = { names: await readDepartmentNames(cfg.dataDir) };
  });

  router.put('/api/admin/departments', requirePermission('post:manage'), async (ctx) => {
    let names: Record<string, string> | undefined;
    try {
      const body = await readJson(ctx, departmentNamesBody);
      names = await writeDepartmentNames(cfg.dataDir, body.names);
    } catch (e) {
      await auth.record(ctx, { action: 'departments.update', target: 'departments', outcome: 'failure', details: { error: isApplianceError(e) ? e.code : 'INTERNAL' } });
      throw e;
    }
    await auth.record(ctx, { action: 'departments.update', target: 'departments', outcome: 'success', details: { names } });
    ctx.body = { names };
  });
}
