import type { Server } from 'node:http';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.ts';
import { healthReport } from '../../core/health.ts';
import { createLogger } from '../../core/log.ts';
import { ItemStore } from '../../ingest/index.ts';
import { openSecurity } from '../../security/index.ts';
import { type SecurityStores } from '../../security/open-security.ts';
import { createAuth } from '../../web/auth.ts';
import { createWebApp } from '../../web/index.ts';
import { integrityReportPdf } from '../../web/audit-documents.ts';
import { ACTION_LABELS } from '../../web/public/js/audit-labels.js';
import { cleanup, tempDir } from '../support/appliance.ts';
import { stageItem } from '../support/staged-item.ts';
import { addUsers, Client, GOOD_PASSWORD } from '../security/support.ts';
import { launchChromium, logIn, screenshot, watchedPage } from './browser.ts';

// The auditor's and secadmin's reports on the real koa app, the real audit trail and item store:
// paging past 500 records, exports that carry the Chinese labels and honour the filters (and are
// themselves audited), the PDFs read back with pdftotext, and who may not have any of it.
const run = promisify(execFile);
let dir: string;
let base: string;
let server: Server;
let sec: SecurityStores;
let item: { itemId: string; archivalCode: string; title: string };
const VIEWS = 620;

beforeAll(async () => {
  dir = await tempDir('archive-reports-');
  const cfg = loadConfig({ overrides: { dataDir: dir, clamd: 'unix:/nonexistent/clamd.sock' } });
  sec = await openSecurity(cfg);
  const log = createLogger({ level: 'silent' });
  const auth = await createAuth({ configDir: sec.configDir, identity: sec.identity, audit: sec.audit, log });
  await addUsers(sec.identity, [
    ['sec1', ['secadmin']],
    ['sys1', ['sysadmin']],
    ['aud1', ['auditor']],
    ['zhang', ['staff']],
  ]);
  const store = await ItemStore.open(dir);
  const staged = await stageItem(join(dir, 'items', '.tmp'), {
    meta: { archivalCode: 'J012-2014-Y-BGS-0042', fonds: 'J012', year: 2014, retention: 'Y', department: 'BGS', itemNo: 42, title: '关于档案库房温湿度检查的通知' },
  });
  const meta = await store.putItem(staged);
  item = { itemId: meta.itemId, archivalCode: meta.archivalCode!, title: meta.title! };
  // A busy trail: more views than one page of the old view held, a denied one, a target that
  // would be a formula in Excel.
  for (let i = 0; i < VIEWS; i++) await sec.audit.append({ actor: 'zhang', role: 'staff', source: '10.0.0.5', action: 'item.view', target: item.itemId, outcome: 'success' });
  await sec.audit.append({ actor: 'zhang', role: 'staff', source: '10.0.0.5', action: 'item.view', target: item.itemId, outcome: 'denied', details: { path: '/api/items/x' } });
  await sec.audit.append({ actor: 'zhang', role: 'staff', source: '10.0.0.5', action: 'item.search', target: '=HYPERLINK("http://x")', outcome: 'success', details: { q: '档案', total: 3 } });
  await sec.audit.append({ actor: 'zhang', role: 'staff', source: '10.0.0.5', action: 'made.up.code', target: '-', outcome: 'success' });
  const app = createWebApp({ log, auth, health: () => healthReport({}), config: cfg });
  server = await new Promise((r) => {
    const s = app.listen(0, '127.0.0.1', () => r(s));
  });
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}, 60_000);

afterAll(async () => {
  await new Promise<void>((r) => {
    server?.close(() => r());
    server?.closeAllConnections();
  });
  await cleanup(dir);
});

async function as(username: string): Promise<Client> {
  const c = new Client(base);
  expect((await c.login(username)).status).toBe(200);
  return c;
}

async function bytes(c: Client, path: string): Promise<{ status: number; body: Buffer; type: string; disposition: string }> {
  const res = await fetch(base + path, { headers: { cookie: [...c.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), type: res.headers.get('content-type') ?? '', disposition: res.headers.get('content-disposition') ?? '' };
}

async function pdfText(pdf: Buffer): Promise<string> {
  const f = join(dir, `r-${Date.now()}.pdf`);
  await writeFile(f, pdf);
  return (await run('pdftotext', ['-layout', f, '-'])).stdout;
}

async function trail(): Promise<Array<Record<string, any>>> {
  const text = await readFile(join(dir, 'audit', `audit-${new Date().getFullYear()}.jsonl`), 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

describe('the audit page', () => {
  it('pages through every record past 500, newest first, with the total, Chinese labels and the item’s 档号/题名', async () => {
    const aud = await as('aud1');
    const q = 'actor=zhang&action=item.view';
    const first = await aud.get(`/api/admin/audit/page?${q}&offset=0&limit=500`);
    expect(first.status).toBe(200);
    expect(first.body.total).toBe(VIEWS + 1);
    expect(first.body.records).toHaveLength(500);
    const second = await aud.get(`/api/admin/audit/page?${q}&offset=500&limit=500`);
    expect(second.body.records).toHaveLength(VIEWS + 1 - 500);
    const seqs = [...first.body.records, ...second.body.records].map((r: { seq: number }) => r.seq);
    expect(new Set(seqs).size).toBe(VIEWS + 1); // no record twice, none left out
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a)); // newest first
    const newest = first.body.records[0];
    expect(newest).toMatchObject({
      action: 'item.view',
      actionLabel: '查看条目',
      outcome: 'denied',
      outcomeLabel: '拒绝',
      roleLabel: '查阅人员',
      item: { archivalCode: item.archivalCode, title: item.title },
    });
    expect(newest.detailPairs).toEqual([['路径', '/api/items/x']]);
    // Past the end: an empty page, the same total.
    const beyond = await aud.get(`/api/admin/audit/page?${q}&offset=5000&limit=10`);
    expect(beyond.body).toMatchObject({ total: VIEWS + 1, records: [] });
    // An unknown code is shown as it is.
    const odd = await aud.get('/api/admin/audit/page?action=made.up.code');
    expect(odd.body.records[0].actionLabel).toBe('made.up.code');
    const denied = await aud.get('/api/admin/audit/page?outcome=denied&actor=zhang');
    expect(denied.body.total).toBe(1);
    // Each read is on record with its filter.
    const reads = (await trail()).filter((r) => r.action === 'audit.read' && r.actor === 'aud1');
    expect(reads.at(-1)!.details).toMatchObject({ actor: 'zhang', filterOutcome: 'denied', total: 1 });
  });

  it('has a Chinese label for every action the appliance records', async () => {
    // Codes appended anywhere in the source (action: 'x.y' or audited(a, 'x.y'…)).
    const { stdout } = await run('grep', ['-rhoE', "(action: |audited\\(a, |consoleAudited\\([a-z.]+, )'[a-z]+(\\.[a-z-]+)+'", 'security', 'web', 'ingest', 'appliance', 'search'], {
      cwd: join(import.meta.dirname, '../..'),
    });
    const codes = new Set(
      stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => l.slice(l.indexOf("'") + 1, -1)),
    );
    expect(codes.size).toBeGreaterThan(20);
    expect([...codes].filter((c) => !(c in ACTION_LABELS))).toEqual([]);
  });
});

describe('audit exports', () => {
  it('CSV: UTF-8 with BOM, Chinese headers and labels, 档号/题名, only the filtered records, formulas defused; audited', async () => {
    const aud = await as('aud1');
    const r = await bytes(aud, '/api/admin/audit/export/csv?actor=zhang&action=item.view&outcome=success');
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/text\/csv; charset=utf-8/);
    expect(r.disposition).toMatch(/filename\*=UTF-8''/);
    expect([...r.body.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const lines = r.body.toString('utf8').slice(1).trimEnd().split('\r\n');
    expect(lines[0]).toBe('序号,时间,操作人,角色,来源,操作,操作代码,对象,档号,题名,结果,详情,记录哈希');
    expect(lines).toHaveLength(1 + VIEWS);
    expect(lines.slice(1).every((l) => l.includes(',查看条目,item.view,') && l.includes(`,${item.archivalCode},${item.title},成功,`))).toBe(true);
    expect(r.body.toString('utf8')).not.toMatch(/拒绝|检索/);
    const all = (await bytes(aud, '/api/admin/audit/export/csv?action=item.search')).body.toString('utf8');
    expect(all).toContain(`'=HYPERLINK`);
    expect(all).toContain('检索词：档案；结果数：3');
    const rec = (await trail()).filter((x) => x.action === 'audit.export').at(-2)!;
    expect(rec).toMatchObject({ actor: 'aud1', outcome: 'success', details: { format: 'csv', actor: 'zhang', filterAction: 'item.view', filterOutcome: 'success', records: VIEWS } });
  });

  it('XLSX: opens as a workbook with the Chinese labels and honours the filters; JSONL too; audited', async () => {
    const aud = await as('aud1');
    const r = await bytes(aud, '/api/admin/audit/export/xlsx?actor=zhang&outcome=denied');
    expect(r.status).toBe(200);
    expect(r.type).toContain('spreadsheetml');
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(r.body as never);
    const ws = wb.worksheets[0];
    expect(ws.name).toBe('审计记录');
    expect(ws.rowCount).toBe(2);
    expect(ws.getRow(1).getCell(6).value).toBe('操作');
    const row = ws.getRow(2);
    expect([row.getCell(3).value, row.getCell(6).value, row.getCell(9).value, row.getCell(10).value, row.getCell(11).value]).toEqual(['zhang', '查看条目', item.archivalCode, item.title, '拒绝']);
    const j = await bytes(aud, '/api/admin/audit/export/jsonl?action=item.search');
    const recs = j.body
      .toString('utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(recs.map((x) => x.action)).toEqual(['item.search']);
    const exports = (await trail()).filter((x) => x.action === 'audit.export' && x.actor === 'aud1').map((x) => x.details.format);
    expect(exports).toEqual(expect.arrayContaining(['csv', 'xlsx', 'jsonl']));
    expect((await bytes(aud, '/api/admin/audit/export/html')).status).toBe(400);
    // An export of the exports: exactly the records counted before its own record was written.
    const own = (await bytes(aud, '/api/admin/audit/export/jsonl?action=audit.export')).body.toString('utf8').trim().split('\n');
    const ownRecord = (await trail()).filter((x) => x.action === 'audit.export').at(-1)!;
    expect(ownRecord.details.records).toBe(own.length);
    expect(own.map((l) => JSON.parse(l).seq)).not.toContain(ownRecord.seq);
  });

  it('at the console: `archive audit export --format csv|xlsx` with the same filters and labels, on record', async () => {
    const cli = join(import.meta.dirname, '../../appliance/bin/archive.mjs');
    const csvOut = join(dir, 'console.csv');
    await run(process.execPath, [cli, 'audit', 'export', '--format', 'csv', '--action', 'item.view', '--outcome', 'denied', '--out', csvOut], { env: { ...process.env, ARCHIVE_DATA_DIR: dir } });
    const lines = (await readFile(csvOut, 'utf8')).trimEnd().split('\r\n');
    expect(lines[0].charCodeAt(0)).toBe(0xfeff);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain(`,查看条目,item.view,${item.itemId},${item.archivalCode},${item.title},拒绝,路径：/api/items/x,`);
    const xlsxOut = join(dir, 'console.xlsx');
    await run(process.execPath, [cli, 'audit', 'export', '--format', 'xlsx', '--actor', 'zhang', '--action', 'item.search', '--out', xlsxOut], { env: { ...process.env, ARCHIVE_DATA_DIR: dir } });
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(xlsxOut);
    expect(wb.worksheets[0].rowCount).toBe(2);
    expect(wb.worksheets[0].getRow(2).getCell(6).value).toBe('检索');
    const rec = (await trail()).filter((x) => x.action === 'audit.export' && x.actor === 'console');
    expect(rec.map((x) => [x.details.format, x.details.records])).toEqual([
      ['csv', 1],
      ['xlsx', 1],
    ]);
  }, 60_000);

  it('nobody but the auditor exports or reads the trail', async () => {
    for (const who of ['zhang', 'sec1', 'sys1']) {
      const c = await as(who);
      for (const p of ['/api/admin/audit/export/csv', '/api/admin/audit/export/xlsx', '/api/admin/audit/page', '/api/admin/audit/summary.pdf']) expect((await c.get(p)).status).toBe(403);
    }
  });
});

describe('printable reports', () => {
  it('the audit summary PDF: Chinese headings, counts per action/outcome/user, the chain status; audited', async () => {
    const aud = await as('aud1');
    const r = await bytes(aud, '/api/admin/audit/summary.pdf?actor=zhang');
    expect(r.status).toBe(200);
    expect(r.type).toBe('application/pdf');
    const text = await pdfText(r.body);
    for (const s of ['审计汇总报告', '审计链状态', '审计链完整', '按结果统计', '按操作统计', '按操作人统计', '查看条目', '查阅人员']) expect(text).toContain(s);
    expect(text).toMatch(new RegExp(`查看条目\\s+item\\.view\\s+${VIEWS + 1}\\s+${VIEWS}\\s+0\\s+1`));
    const { stdout } = await run('pdffonts', [join(dir, (await import('node:fs')).readdirSync(dir).filter((f) => f.endsWith('.pdf'))[0])]);
    expect(stdout).toMatch(/WenQuanYi|Noto/);
    expect(stdout).toMatch(/ yes /); // embedded
    expect((await trail()).filter((x) => x.action === 'audit.summary').at(-1)).toMatchObject({ actor: 'aud1', outcome: 'success' });
  });

  it('the 四性检测 report PDF is all Chinese; the secadmin alone prints it; a missing font is refused in Chinese', async () => {
    const sec1 = await as('sec1');
    expect((await bytes(sec1, '/api/integrity/latest.pdf')).status).toBe(404);
    // Damage the item so the report has problems to print.
    await writeFile(join(dir, 'items', item.itemId.slice(-2), item.itemId, 'text.json'), '[]');
    expect((await sec1.req('POST', '/api/integrity/run', {})).status).toBe(200);
    const r = await bytes(sec1, '/api/integrity/latest.pdf');
    expect(r.status).toBe(200);
    const text = await pdfText(r.body);
    for (const s of ['电子档案完整性检测报告（四性检测）', '四性检测结果', '真实性', '完整性', '可用性', '安全性', '条目统计', '有问题的条目', '全部问题', item.archivalCode, '被改动'])
      expect(text).toContain(s);
    expect(text).not.toMatch(/\b(changed|missing|untracked|unusable|unsafe|ok)\b/);
    expect((await trail()).filter((x) => x.action === 'integrity.print').at(-1)).toMatchObject({ actor: 'sec1', outcome: 'success' });
    for (const who of ['aud1', 'zhang', 'sys1']) expect((await bytes(await as(who), '/api/integrity/latest.pdf')).status).toBe(403);
    const report = JSON.parse(await readFile(join(dir, 'config', 'integrity-latest.json'), 'utf8'));
    expect(report.problems.join('\n')).not.toMatch(/[a-z]{4,}：/); // no "changed："
    await expect(integrityReportPdf(report, { actor: 'sec1', at: new Date().toISOString() }, [{ path: join(dir, 'no-such-font.ttc') }])).rejects.toMatchObject({
      code: 'REPORT_FONT_MISSING',
      zh: expect.stringMatching(/缺少中文字体.*fonts-wqy-zenhei/),
    });
  });
});

describe('机构代码→名称', () => {
  it('the secadmin keeps the table; others may not change it; bad codes are refused', async () => {
    const sec1 = await as('sec1');
    const put = await sec1.req('PUT', '/api/admin/departments', { names: { BGS: '办公室', ZZB: '组织部', KONG: '' } });
    expect(put.status).toBe(200);
    expect(put.body.names).toEqual({ BGS: '办公室', ZZB: '组织部' });
    expect((await sec1.get('/api/admin/departments')).body.names).toEqual({ BGS: '办公室', ZZB: '组织部' });
    expect((await sec1.req('PUT', '/api/admin/departments', { names: { '../x': 'y' } })).status).toBe(400);
    for (const who of ['aud1', 'zhang', 'sys1']) expect((await (await as(who)).req('PUT', '/api/admin/departments', { names: { BGS: '冒名' } })).status).toBe(403);
    expect(JSON.parse(await readFile(join(dir, 'config', 'departments.json'), 'utf8'))).toEqual({ version: 1, names: { BGS: '办公室', ZZB: '组织部' } });
    expect((await trail()).filter((x) => x.action === 'departments.update').map((x) => x.outcome)).toEqual(['success', 'failure']);
  });
});

describe('in Chromium', () => {
  it('the secadmin prints the 四性检测 report: the downloaded PDF shows its Chinese headings; the auditor pages and exports in Chinese', async () => {
    const browser = await launchChromium();
    const outside: string[] = [];
    const problems: string[] = [];
    try {
      const login = async (username: string) => {
        const w = await watchedPage(browser, outside, problems);
        await w.page.goto(`${base}/`);
        await logIn(w.page, username, GOOD_PASSWORD);
        await w.page.waitForSelector('#logout');
        return w.page;
      };
      const sp = await login('sec1');
      await sp.waitForSelector('#integrity-pdf');
      await sp.click('#integrity-run');
      await sp.waitForSelector('#integrity-report');
      const [download] = await Promise.all([sp.waitForEvent('download'), sp.click('#integrity-pdf')]);
      expect(download.suggestedFilename()).toMatch(/^四性检测报告-\d{4}-\d{2}-\d{2}\.pdf$/);
      const saved = join(dir, 'downloaded-integrity.pdf');
      await download.saveAs(saved);
      const { stdout } = await run('pdftotext', ['-layout', saved, '-']);
      for (const s of ['电子档案完整性检测报告（四性检测）', '四性检测结果', '真实性', '完整性', '可用性', '安全性', '有问题的条目']) expect(stdout).toContain(s);
      // The 机构 table on the same page.
      await sp.waitForSelector('#departments input.dept-code');
      await screenshot(sp, '11-secadmin-reports');

      const ap = await login('aud1');
      await ap.waitForSelector('#audit-records tr[data-action]');
      await ap.selectOption('#audit-action', 'item.view');
      await ap.click('#audit-filter');
      await expect.poll(() => ap.textContent('#audit-count')).toMatch(new RegExp(`共 ${VIEWS + 1} 条，第 1–200 条`));
      const row = ap.locator('#audit-records tr[data-action="item.view"]').first();
      expect(await row.textContent()).toContain('查看条目');
      expect(await row.textContent()).toContain(item.archivalCode);
      expect(await row.textContent()).toContain(item.title);
      expect(await ap.textContent('#audit-records')).not.toMatch(/item\.view|success|denied|\{"/);
      for (let i = 0; i < 3; i++) {
        const before = await ap.textContent('#audit-count');
        await ap.click('#audit-next');
        await expect.poll(() => ap.textContent('#audit-count')).not.toBe(before);
      }
      await expect.poll(() => ap.textContent('#audit-count')).toMatch(new RegExp(`第 601–${VIEWS + 1} 条`));
      expect(await ap.isDisabled('#audit-next')).toBe(true);
      const [csv] = await Promise.all([ap.waitForEvent('download'), ap.click('#audit-export-csv')]);
      const csvPath = join(dir, 'downloaded.csv');
      await csv.saveAs(csvPath);
      const lines = (await readFile(csvPath, 'utf8')).trimEnd().split('\r\n');
      expect(lines).toHaveLength(VIEWS + 2); // the header and every item.view record, the filter applied
      const [summary] = await Promise.all([ap.waitForEvent('download'), ap.click('#audit-summary-pdf')]);
      const sumPath = join(dir, 'downloaded-summary.pdf');
      await summary.saveAs(sumPath);
      expect((await run('pdftotext', [sumPath, '-'])).stdout).toContain('审计汇总报告');
      await screenshot(ap, '12-auditor-reports');
    } finally {
      await browser.close();
    }
    expect(outside).toEqual([]);
    expect(problems).toEqual([]);
  }, 120_000);
});
