import type { Command } from 'commander';
import { EXIT, action, configFor, globalOptions } from '../cli-common.ts';
import { consoleServices } from '../console-services.ts';
import { ApplianceError } from '../../core/index.ts';
import { consoleActor } from '../../security/index.ts';
import { runIntegrityCheck, type IntegrityReport } from '../../custody/index.ts';
import { createSearchService } from '../../search/index.ts';

const STATUS_ZH: Record<string, string> = { changed: '被改动', missing: '缺失', untracked: '多出文件', unusable: '不可用', unsafe: '不安全', ok: '完好' };

function print(r: IntegrityReport): void {
  const c = r.counts;
  const mark = (ok: boolean) => (ok ? '通过' : '未通过');
  process.stdout.write(
    [
      `四性检测：${r.ok ? '全部通过' : '发现问题'}（${c.total} 个条目：完好 ${c.ok}，被改动 ${c.changed}，缺失 ${c.missing}，多出文件 ${c.untracked}，不可用 ${c.unusable}，不安全 ${c.unsafe}；用时 ${(r.ms / 1000).toFixed(1)} 秒）`,
      `  真实性 ${mark(r.authenticity.ok)}：审计链${r.authenticity.audit.ok ? `完整（${r.authenticity.audit.records} 条）` : `断裂：${r.authenticity.audit.firstBroken}`}`,
      `  完整性 ${mark(r.completeness.ok)}：件号缺号 ${r.completeness.gaps.reduce((n, g) => n + g.missing.length, 0)}，未登记内容 ${r.completeness.untrackedPaths.length}，索引${'skipped' in r.completeness.index ? '未检查' : r.completeness.index.ok ? '一致' : '不一致'}`,
      `  可用性 ${mark(r.usability.ok)}`,
      `  安全性 ${mark(r.security.ok)}：${r.security.scanned === null ? '未做病毒复扫（--scan）' : `复扫 ${r.security.scanned} 个条目，发现病毒 ${r.security.infected.length}`}；${'unavailable' in r.security.signatures ? '病毒库版本未知' : r.security.signatures.ageDays === undefined ? '病毒库日期未知（无官方病毒库）' : `病毒库 ${r.security.signatures.ageDays} 天前`}`,
      '',
    ].join('\n'),
  );
  for (const i of r.items) process.stdout.write(`${STATUS_ZH[i.status]}  ${i.archivalCode ?? '-'}  ${i.itemId}\n${i.problems.map((p) => `    ${p}`).join('\n')}\n`);
  for (const p of r.problems.filter((p) => !p.startsWith('条目 '))) process.stdout.write(`问题：${p}\n`);
  for (const w of r.warnings) process.stderr.write(`警告：${w}\n`);
}

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('四性检测（真实性、完整性、可用性、安全性）；有任何问题时退出码非 0\nintegrity report: authenticity, completeness, usability, security; non-zero exit on any problem')
    .option('--scan', '用 ClamAV 复扫全部文件 full ClamAV re-scan')
    .option('--no-index', '不检查检索索引（不启动 Meilisearch）skip the index consistency check')
    .option('--max-signature-age-days <n>', '病毒库最大天数 signature age warning threshold')
    .action(
      action(async (opts: { scan?: boolean; index: boolean; maxSignatureAgeDays?: string }, cmd: Command) => {
        const cfg = configFor(cmd);
        const maxAge = opts.maxSignatureAgeDays === undefined ? cfg.signatureMaxAgeDays : Number(opts.maxSignatureAgeDays);
        if (maxAge !== undefined && !(Number.isInteger(maxAge) && maxAge >= 0)) throw new ApplianceError('USAGE', '--max-signature-age-days 须为非负整数。', 'bad --max-signature-age-days');
        const services = opts.index ? await consoleServices(cfg) : undefined;
        let r: IntegrityReport;
        try {
          const search = services ? createSearchService(services.conn, cfg.dataDir) : undefined;
          await search?.init();
          r = await runIntegrityCheck(cfg, { search, scan: opts.scan, maxSignatureAgeDays: maxAge, actor: consoleActor() });
        } finally {
          await services?.release();
        }
        if (globalOptions(cmd).json) process.stdout.write(`${JSON.stringify({ ...r, itemIds: undefined })}\n`);
        else print(r);
        return r.ok ? EXIT.ok : EXIT.failure;
      }),
    );
}
