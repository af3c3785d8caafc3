import type { Command } from 'commander';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { EXIT, action, configFor, globalOptions } from '../cli-common.ts';
import { ApplianceError } from '../errors.ts';
import { auditRecords, consoleActor, exportRange, openSecurity, verifyAudit, type AuditRecord } from '../../security/index.ts';
import { auditCsv, auditJsonl, auditRows, auditXlsxStream, itemRefReader } from '../../web/audit-documents.ts';

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('审计日志 the audit trail');

  audit
    .command('verify')
    .description('校验审计链（退出码 0 完整，1 有断裂并指出第一条）verify the hash chain; names the first broken record')
    .action(action(async (_o: unknown, cmd: Command) => {
      const sec = await openSecurity(configFor(cmd));
      const r = await verifyAudit(sec.audit.dir);
      // The check itself is on record (after it ran, so it does not check its own entry).
      await sec.audit.append({ ...consoleActor(), action: 'audit.verify', target: 'audit', outcome: r.ok ? 'success' : 'failure', details: { records: r.records, firstBroken: r.firstBroken ?? null } });
      if (globalOptions(cmd).json) process.stdout.write(`${JSON.stringify({ ...r })}\n`);
      else if (r.ok) process.stdout.write(`审计链完整：${r.records} 条记录，${r.files.length} 个文件${r.head ? `，末条 ${r.head.seq} ${r.head.hash}` : ''}\n`);
      else process.stderr.write(`审计链断裂：${r.firstBroken!.zh}\n`);
      return r.ok ? EXIT.ok : EXIT.failure;
    }));

  audit
    .command('export')
    .description('导出审计记录（JSON Lines、CSV 或 Excel）export records in a time range, e.g. --from 2026-01-01 --to 2026-03-31')
    .option('--from <date>', '起始（含）YYYY-MM-DD 或 ISO 时间')
    .option('--to <date>', '截止（日期则含当日）YYYY-MM-DD or ISO time')
    .option('--actor <name>', '只导出此操作人的记录 only this actor')
    .option('--action <code>', '只导出此操作（或以它开头的操作，如 auth）only this action or prefix')
    .option('--outcome <outcome>', 'success / failure / denied / refused')
    .option('--format <format>', 'jsonl（默认，含哈希，可复核）、csv（UTF-8 BOM，Excel/WPS 可打开）或 xlsx', 'jsonl')
    .option('--out <file>', '写入文件（默认标准输出）')
    .action(action(async (opts: { from?: string; to?: string; out?: string; actor?: string; action?: string; outcome?: string; format: string }, cmd: Command) => {
      if (!['jsonl', 'csv', 'xlsx'].includes(opts.format)) throw new ApplianceError('BAD_PARAM', '导出格式须为 jsonl、csv 或 xlsx。', 'bad --format');
      const sec = await openSecurity(configFor(cmd));
      const range = exportRange(opts.from, opts.to);
      if (Number.isNaN(range.from) || Number.isNaN(range.to)) throw new ApplianceError('RANGE_INVALID', '时间范围有误：请用 YYYY-MM-DD 或 ISO 时间。', 'bad --from/--to');
      const check = await verifyAudit(sec.audit.dir);
      const out = opts.out ? createWriteStream(opts.out, { flags: 'wx', mode: 0o600 }) : process.stdout;
      const filter = { from: opts.from, to: opts.to, actor: opts.actor, action: opts.action, outcome: opts.outcome };
      let n = 0;
      async function* counted(): AsyncGenerator<AuditRecord> {
        for await (const rec of auditRecords(sec.audit.dir, filter)) {
          n++;
          yield rec;
        }
      }
      if (opts.format === 'xlsx') {
        // The writer ends the stream itself; the file is complete once it has finished.
        await Promise.all([auditXlsxStream(auditRows(counted(), itemRefReader(configFor(cmd).dataDir)), out, '审计记录'), opts.out ? finished(out) : undefined]);
      }
      else {
        const chunks = opts.format === 'csv' ? auditCsv(auditRows(counted(), itemRefReader(configFor(cmd).dataDir))) : auditJsonl(counted());
        for await (const c of chunks) if (!out.write(c)) await once(out, 'drain');
      }
      if (opts.out && opts.format !== 'xlsx') {
        const file = out as ReturnType<typeof createWriteStream>;
        await new Promise<void>((res, rej) => {
          file.once('error', rej);
          file.end(() => res());
        });
      }
      await sec.audit.append({ ...consoleActor(), action: 'audit.export', target: opts.out ?? 'stdout', outcome: 'success', details: { format: opts.format, from: opts.from ?? null, to: opts.to ?? null, actor: opts.actor ?? null, filterAction: opts.action ?? null, filterOutcome: opts.outcome ?? null, records: n, chainOk: check.ok } });
      process.stderr.write(`已导出 ${n} 条记录。${check.ok ? '审计链完整。' : `警告：审计链断裂：${check.firstBroken!.zh}`}\n`);
      return check.ok ? EXIT.ok : EXIT.failure;
    }));

  audit
    .command('head')
    .description('显示审计链末条的序号与哈希（备份时记录）show the chain head')
    .action(action(async (_o: unknown, cmd: Command) => {
      const sec = await openSecurity(configFor(cmd));
      const h = await sec.audit.head();
      process.stdout.write(globalOptions(cmd).json ? `${JSON.stringify({ ok: true, head: h })}\n` : `${h.seq} ${h.hash}\n`);
    }));
}
