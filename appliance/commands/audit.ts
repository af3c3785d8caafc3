import type { Command } from 'commander';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { EXIT, action, configFor, globalOptions } from '../cli-common.ts';
import { ApplianceError } from '../../core/index.ts';
import { auditRecords, consoleActor, exportAudit, exportRange, openSecurity, parseVerificationKeys, verifyAudit, type AuditRecord } from '../../security/index.ts';
import { auditCsv, auditJsonl, auditRows, auditXlsxStream, itemRefReader } from '../../web/index.ts';

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('审计日志 the audit trail');

  audit
    .command('verify')
    .description('校验审计链与封印（退出码 0 完整，1 有断裂并指出第一条）verify the hash chain and, with the verification key, every seal')
    .option('--verification-key <file>', "安全审计员的验证密钥文件（可含多把）：核验每个封印 the auditor's verification key file")
    .action(
      action(async (opts: { verificationKey?: string }, cmd: Command) => {
        const sec = await openSecurity(configFor(cmd));
        const keys = opts.verificationKey
          ? parseVerificationKeys(
              await readFile(opts.verificationKey, 'utf8').catch((e: NodeJS.ErrnoException) => {
                throw new ApplianceError('AUDIT_VKEY_UNREADABLE', `无法读取验证密钥文件 ${opts.verificationKey}：${e.code ?? e.message}`, `cannot read verification key file: ${e.message}`);
              }),
            )
          : [];
        const r = await verifyAudit(sec.audit.dir, { keys, requireSealKey: true });
        // The check itself is on record (after it ran, so it does not check its own entry). A trail
        // that refuses appends (lost head or key) still gets its verdict printed first.
        let refused: unknown;
        await sec.audit
          .append({
            ...consoleActor(),
            action: 'audit.verify',
            target: 'audit',
            outcome: r.ok ? 'success' : 'failure',
            details: { records: r.records, firstBroken: r.firstBroken ?? null, seals: r.seals?.status ?? null },
          })
          .catch((e: unknown) => {
            refused = e;
          });
        if (globalOptions(cmd).json) process.stdout.write(`${JSON.stringify({ ...r })}\n`);
        else if (r.ok) process.stdout.write(`审计链完整：${r.records} 条记录，${r.files.length} 个文件${r.head ? `，末条 ${r.head.seq} ${r.head.hash}` : ''}\n${r.seals?.zh ?? ''}\n`);
        else process.stderr.write(`审计链断裂：${r.firstBroken!.zh}\n`);
        if (refused) throw refused;
        return r.ok ? EXIT.ok : EXIT.failure;
      }),
    );

  audit
    .command('resume')
    .description('续接无法自行继续的审计链（恢复备份后、封印密钥或 head.json 丢失后），生成新的验证密钥并记入审计 continue a trail after a restore or a lost sealing key / head, on record')
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const sec = await openSecurity(configFor(cmd));
        const rec = await sec.audit.resume({ ...consoleActor(), action: 'audit.resume', target: 'audit', outcome: 'success', details: { reason: 'console' } });
        const d = rec.details as { headRebuilt?: boolean; newKey?: string };
        if (globalOptions(cmd).json) process.stdout.write(`${JSON.stringify({ ok: true, record: rec.seq, ...d })}\n`);
        else {
          process.stdout.write(
            `审计链已续接（记录 ${rec.seq}）。${d.headRebuilt ? '已按文件末尾重建 head.json。' : ''}${d.newKey ? `新的封印密钥指纹 ${d.newKey}：验证密钥已写入 ${sec.audit.verificationKeyFile}，请安全审计员在审计页取走并确认。` : ''}\n`,
          );
        }
        return EXIT.ok;
      }),
    );

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
    .action(
      action(async (opts: { from?: string; to?: string; out?: string; actor?: string; action?: string; outcome?: string; format: string }, cmd: Command) => {
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
        } else {
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
        await sec.audit.append({
          ...consoleActor(),
          action: 'audit.export',
          target: opts.out ?? 'stdout',
          outcome: 'success',
          details: {
            format: opts.format,
            from: opts.from ?? null,
            to: opts.to ?? null,
            actor: opts.actor ?? null,
            filterAction: opts.action ?? null,
            filterOutcome: opts.outcome ?? null,
            records: n,
            chainOk: check.ok,
          },
        });
        process.stderr.write(`已导出 ${n} 条记录。${check.ok ? '审计链完整。' : `警告：审计链断裂：${check.firstBroken!.zh}`}\n`);
        return check.ok ? EXIT.ok : EXIT.failure;
      }),
    );

  audit
    .command('head')
    .description('显示审计链末条的序号与哈希（备份时记录）show the chain head')
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const sec = await openSecurity(configFor(cmd));
        const h = await sec.audit.head();
        process.stdout.write(globalOptions(cmd).json ? `${JSON.stringify({ ok: true, head: h })}\n` : `${h.seq} ${h.hash}\n`);
      }),
    );
}
