import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { ITEM_ID, type ItemStore } from '../ingest/index.ts';
import ExcelJS from 'exceljs';
import type { AuditRecord, AuditSummary } from '../security/index.ts';
import { type IntegrityReport, ITEM_STATUS_ZH } from '../custody/index.ts';
import { PdfReport, type CjkFontSource } from './report-pdf.ts';
import { actionLabel, detailsText, outcomeLabel, roleText } from './public/js/audit-labels.js';

/**
 * The auditor's and secadmin's documents: audit records as CSV and XLSX (Chinese labels from the
 * one table the page uses, web/public/js/audit-labels.js), the audit summary and the 四性检测
 * report as PDF.
 */

/** What the server knows of an audited item: its 档号 and 题名 (audit metadata, see README). */
export interface ItemRef {
  archivalCode?: string;
  title?: string;
}

/** Item ids a record is about: the target of item actions and archiving, and details.itemId. */
export function itemIdsOf(r: AuditRecord): string[] {
  const ids: string[] = [];
  if ((r.action.startsWith('item.') || r.action === 'ingest.item') && ITEM_ID.test(r.target)) ids.push(r.target);
  const d = r.details?.itemId;
  if (typeof d === 'string' && ITEM_ID.test(d)) ids.push(d);
  return ids;
}

/**
 * 档号 and 题名 of the items records name, from the store (the running appliance's, or item.json
 * read directly at the console). The auditor holds no item permission: these two fields are shown
 * as part of the audit record (what was viewed), never the content.
 */
export function itemRefReader(dataDir: string, store?: ItemStore): (records: AuditRecord[]) => Promise<Map<string, ItemRef>> {
  return async (records) => {
    const out = new Map<string, ItemRef>();
    for (const id of new Set(records.flatMap(itemIdsOf))) {
      let meta: { archivalCode?: unknown; title?: unknown } | undefined;
      try {
        if (store) meta = await store.getItem(id);
        else meta = JSON.parse(await readFile(join(dataDir, 'items', id.slice(-2), id, 'item.json'), 'utf8')) as { archivalCode?: unknown; title?: unknown };
      } catch {
        meta = undefined; // gone or damaged: the id alone is shown (the integrity check reports it)
      }
      if (meta) out.set(id, { archivalCode: typeof meta.archivalCode === 'string' ? meta.archivalCode : undefined, title: typeof meta.title === 'string' ? meta.title : undefined });
    }
    return out;
  };
}

/** The first n of a stream, reading it to the end (leaving early would leave its file open). */
export async function* firstN<T>(src: AsyncIterable<T>, n: number): AsyncGenerator<T> {
  let i = 0;
  for await (const x of src) if (i++ < n) yield x;
}

/** Rows for CSV and XLSX, items named 500 records at a time (each item read once while it recurs). */
export async function* auditRows(records: AsyncIterable<AuditRecord>, refs: (batch: AuditRecord[]) => Promise<Map<string, ItemRef>>): AsyncGenerator<string[]> {
  // null: looked up and not found (gone, or a target that only looks like an id) — not asked again.
  const cache = new Map<string, ItemRef | null>();
  let batch: AuditRecord[] = [];
  const flush = async function* () {
    const asked = batch.filter((r) => itemIdsOf(r).some((id) => !cache.has(id)));
    const found = await refs(asked);
    if (cache.size > 50_000) cache.clear();
    for (const id of asked.flatMap(itemIdsOf)) cache.set(id, found.get(id) ?? null);
    for (const r of batch)
      yield auditRow(
        r,
        itemIdsOf(r)
          .map((id) => cache.get(id))
          .find((x): x is ItemRef => Boolean(x)),
      );
    batch = [];
  };
  for await (const r of records) {
    batch.push(r);
    if (batch.length === 500) yield* flush();
  }
  if (batch.length) yield* flush();
}

export async function* auditCsv(rows: AsyncIterable<string[]>): AsyncGenerator<string> {
  yield CSV_BOM + csvLine(AUDIT_COLUMNS);
  let chunk = '';
  for await (const r of rows) {
    chunk += csvLine(r);
    if (chunk.length > 64_000) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

export async function* auditJsonl(records: AsyncIterable<AuditRecord>): AsyncGenerator<string> {
  for await (const r of records) yield `${JSON.stringify(r)}\n`;
}

export const AUDIT_COLUMNS = ['序号', '时间', '操作人', '角色', '来源', '操作', '操作代码', '对象', '档号', '题名', '结果', '详情', '记录哈希'] as const;

/** Local time as people read it: 2026-12-04 16:47:13. */
export function localTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (x: number) => String(x).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function auditRow(r: AuditRecord, item?: ItemRef): string[] {
  return [
    String(r.seq),
    localTime(r.time),
    r.actor,
    roleText(r.role),
    r.source,
    actionLabel(r.action),
    r.action,
    r.target,
    item?.archivalCode ?? '',
    item?.title ?? '',
    outcomeLabel(r.outcome),
    detailsText(r.details),
    r.hash,
  ];
}

/**
 * A cell as Excel and WPS read it without running it: a value starting with = + - @ (or a tab or
 * CR) would be a formula, so it gets a leading apostrophe (OWASP's CSV injection advice); then
 * RFC 4180 quoting.
 */
export function csvCell(v: string): string {
  const safe = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export const CSV_BOM = '\uFEFF';

export function csvLine(cells: readonly string[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}

/**
 * The workbook written row by row to `out` (exceljs's streaming writer): a year of records never
 * sits in memory whole.
 */
export async function auditXlsxStream(rows: AsyncIterable<string[]>, out: Writable, sheetTitle: string): Promise<void> {
  const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: out, useStyles: true, useSharedStrings: false });
  wb.creator = '档案检索一体机';
  wb.created = new Date();
  const ws = wb.addWorksheet(sheetTitle.slice(0, 31), { views: [{ state: 'frozen', ySplit: 1 }] });
  ws.columns = AUDIT_COLUMNS.map((h) => ({ header: h, width: columnWidth(h) }));
  ws.getRow(1).font = { bold: true };
  ws.getRow(1).commit();
  for await (const r of rows) ws.addRow(r).commit();
  ws.commit();
  await wb.commit();
}

const columnWidth = (h: string) => (h === '详情' ? 60 : h === '题名' ? 30 : h === '记录哈希' ? 20 : h === '时间' ? 20 : 14);

const periodText = (from: string | null, to: string | null) => (from || to ? `${from ?? '最早'} 至 ${to ?? '现在'}` : '全部记录');

export async function auditSummaryPdf(s: AuditSummary, by: { actor: string; at: string }, fonts?: CjkFontSource[]): Promise<Uint8Array> {
  const doc = await PdfReport.create('审计汇总报告', fonts);
  doc.pairs([
    ['统计期间', periodText(s.from, s.to)],
    ['记录总数', String(s.total)],
    ['最早记录', s.first ? localTime(s.first) : '—'],
    ['最晚记录', s.last ? localTime(s.last) : '—'],
    ['生成人', by.actor],
    ['生成时间', localTime(by.at)],
  ]);
  doc.heading('审计链状态');
  if (s.chain.ok) doc.text(`审计链完整：共 ${s.chain.records} 条记录，逐条校验哈希链接无误。`);
  else doc.warn(`审计链断裂：自第 ${s.chain.firstBroken?.seq ?? '?'} 条记录起无法证明未被改动。${s.chain.firstBroken?.zh ?? ''}`);
  doc.heading('按结果统计');
  doc.table(
    ['结果', '记录数'],
    Object.entries(s.byOutcome)
      .sort((a, b) => b[1] - a[1])
      .map(([o, n]) => [outcomeLabel(o), String(n)]),
    [3, 1],
  );
  doc.heading('按操作统计');
  doc.table(
    ['操作', '操作代码', '记录数', '成功', '失败', '拒绝'],
    s.byAction.map((a) => [
      actionLabel(a.action),
      a.action,
      String(a.count),
      String(a.outcomes.success ?? 0),
      String(a.outcomes.failure ?? 0),
      String((a.outcomes.denied ?? 0) + (a.outcomes.refused ?? 0)),
    ]),
    [4, 3, 1.2, 1, 1, 1],
  );
  doc.heading('按操作人统计');
  doc.table(
    ['操作人', '角色', '记录数', '成功', '失败', '拒绝'],
    s.byUser.map((u) => [u.actor, roleText(u.role), String(u.count), String(u.outcomes.success ?? 0), String(u.outcomes.failure ?? 0), String((u.outcomes.denied ?? 0) + (u.outcomes.refused ?? 0))]),
    [3, 3, 1.2, 1, 1, 1],
  );
  doc.note('说明：本报告由档案检索一体机根据审计记录生成；“拒绝”含越权访问被拒与归档被拒。');
  return doc.save();
}

const ASPECTS: Array<[keyof Pick<IntegrityReport, 'authenticity' | 'completeness' | 'usability' | 'security'>, string, string]> = [
  ['authenticity', '真实性', '文件未被改动（逐件核对 SHA-256 清单），审计链完整'],
  ['completeness', '完整性', '条目与文件齐全，件号连续，检索索引与条目库一致'],
  ['usability', '可用性', '每件的 PDF 可以打开，页数与元数据相符'],
  ['security', '安全性', '密级不超过本机上限，病毒扫描无发现'],
];

export async function integrityReportPdf(r: IntegrityReport, by: { actor: string; at: string }, fonts?: CjkFontSource[]): Promise<Uint8Array> {
  const doc = await PdfReport.create('电子档案完整性检测报告（四性检测）', fonts);
  doc.pairs([
    ['检测开始', localTime(r.startedAt)],
    ['检测结束', localTime(r.finishedAt)],
    ['用时', `${(r.ms / 1000).toFixed(1)} 秒`],
    ['检测结论', r.ok ? '全部正常' : `发现问题 ${r.problems.length} 项`],
    ['打印人', by.actor],
    ['打印时间', localTime(by.at)],
  ]);
  doc.heading('四性检测结果');
  doc.table(
    ['检测项', '结果', '检测内容'],
    ASPECTS.map(([k, name, what]) => [name, r[k]?.ok ? '通过' : '未通过', what]),
    [1.2, 1, 5],
  );
  const audit = r.authenticity.audit;
  doc.text(audit.ok ? `审计链：完整，${audit.records} 条记录。` : `审计链：断裂。${audit.firstBroken ?? ''}`);
  if ('missing' in r.completeness.index) {
    const i = r.completeness.index;
    doc.text(`检索索引：${i.ok ? '与条目库一致' : `缺少 ${i.missing.length} 件，过时 ${i.stale.length} 件，多余 ${i.orphaned.length} 件`}。`);
  } else doc.text('检索索引：本次未检查。');
  const sig = r.security.signatures;
  doc.text(
    'unavailable' in sig
      ? '病毒特征库：病毒扫描服务不可用，未能确认版本。'
      : `病毒特征库：${sig.signatureVersion ?? '—'}${sig.ageDays !== undefined ? `，已 ${sig.ageDays} 天` : ''}${sig.stale ? '（已过期）' : ''}。`,
  );
  doc.text(r.security.scanned === null ? '全量病毒扫描：本次未进行。' : `全量病毒扫描：已扫描 ${r.security.scanned} 件，发现病毒 ${r.security.infected.length} 个。`);
  doc.heading('条目统计');
  const statuses = ['ok', 'changed', 'missing', 'untracked', 'unusable', 'unsafe'] as const;
  doc.table(['条目总数', ...statuses.map((s) => ITEM_STATUS_ZH[s])], [[String(r.counts.total), ...statuses.map((s) => String(r.counts[s] ?? 0))]]);
  doc.heading('有问题的条目');
  if (r.items.length)
    doc.table(
      ['档号', '条目标识', '状态', '问题'],
      r.items.map((c) => [c.archivalCode ?? '（无档号）', c.itemId, ITEM_STATUS_ZH[c.status], c.problems.join('；')]),
      [2.2, 2.2, 1, 5],
    );
  else doc.text('所有条目均正常。');
  doc.heading('全部问题');
  if (r.problems.length) r.problems.forEach((p, i) => doc.text(`${i + 1}. ${p}`));
  else doc.text('无。');
  if (r.warnings.length) {
    doc.heading('提示');
    r.warnings.forEach((w, i) => doc.text(`${i + 1}. ${w}`));
  }
  doc.note('说明：四性检测依据 DA/T 70《文书类电子档案检测一般要求》的真实性、完整性、可用性、安全性四个方面，由档案检索一体机在本机完成。');
  return doc.save();
}
