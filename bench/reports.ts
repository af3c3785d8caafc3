// Reports: how fast the audit exports stream and how long the PDFs take, on a synthetic trail.
//   npx tsx bench/reports.ts [records]
// Prints records/s for CSV, XLSX and JSONL (through the same generators the web route and the
// console use), the peak RSS growth, and the time and size of the audit summary PDF.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { AuditLog, auditPage, auditRecords, summarizeAudit } from '../security/index.ts';
import { auditCsv, auditJsonl, auditRows, auditSummaryPdf, auditXlsxStream, itemRefReader } from '../web/audit-documents.ts';

const N = Number(process.argv[2] ?? 100_000);
const dir = await mkdtemp(join(tmpdir(), 'bench-reports-'));
const audit = new AuditLog(join(dir, 'audit'));
const actions = ['item.search', 'item.view', 'item.page.view', 'auth.login', 'item.download'];
const t0 = performance.now();
const pending: Array<Promise<unknown>> = [];
for (let i = 0; i < N; i++) {
  pending.push(
    audit.append({
      actor: `user${i % 37}`,
      role: 'staff',
      source: '10.0.0.5',
      action: actions[i % actions.length],
      target: i % 2 ? `item${String(i % 500).padStart(6, '0')}` : '-',
      outcome: i % 50 ? 'success' : 'denied',
      details: { q: '档案 管理', total: i % 13 },
    }),
  );
  if (pending.length >= 2000) await Promise.all(pending.splice(0));
}
await Promise.all(pending);
console.log(`trail: ${N} records written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const sink = () => new Writable({ write: (_c, _e, cb) => cb() });
const rss0 = process.memoryUsage().rss;
let peak = rss0;
const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
const refs = itemRefReader(dir);
const all = () => auditRecords(join(dir, 'audit'), {});

async function time(name: string, fn: () => Promise<void>): Promise<void> {
  const s = performance.now();
  await fn();
  const sec = (performance.now() - s) / 1000;
  console.log(`${name.padEnd(8)} ${sec.toFixed(2)} s   ${Math.round(N / sec)} records/s   peak RSS +${Math.round((peak - rss0) / 1e6)} MB`);
}

await time('jsonl', async () => {
  let bytes = 0;
  for await (const c of auditJsonl(all())) bytes += c.length;
  void bytes;
});
await time('csv', async () => {
  let bytes = 0;
  for await (const c of auditCsv(auditRows(all(), refs))) bytes += c.length;
  void bytes;
});
await time('xlsx', async () => {
  const out = sink();
  await auditXlsxStream(auditRows(all(), refs), out, '审计记录');
});
for (const [label, f, offset] of [
  ['page 1', {}, 0],
  ['page deep', {}, Math.max(0, N - 300)],
  ['filtered', { actor: 'user3', outcome: 'denied' }, 0],
] as const) {
  const p0 = performance.now();
  const r = await auditPage(join(dir, 'audit'), f, offset, 200);
  console.log(`${label.padEnd(9)} ${((performance.now() - p0) / 1000).toFixed(2)} s for a page of ${r.records.length} of ${r.total} (two passes over the trail)`);
}
const s = performance.now();
const summary = await summarizeAudit(join(dir, 'audit'), {});
const pdf = await auditSummaryPdf(summary, { actor: 'bench', at: new Date().toISOString() });
console.log(`summary  ${((performance.now() - s) / 1000).toFixed(2)} s (count + chain verify + PDF), PDF ${Math.round(pdf.length / 1024)} KB`);
clearInterval(timer);
await rm(dir, { recursive: true, force: true });
