import type { Command } from 'commander';
import { EXIT, action, configFor, globalOptions } from '../cli-common.ts';
import { ApplianceError } from '../../core/index.ts';
import { clamdHealth, consoleActor, openSecurity } from '../../security/index.ts';
import { importSignatures } from '../../custody/index.ts';
import { effectiveClamdAddress } from '../clamd-supervisor.ts';

/** The age limit: --max-age-days, else the configured signatureMaxAgeDays. */
function maxAge(opt: string | undefined, configured: number): number {
  if (opt === undefined) return configured;
  const n = Number(opt);
  if (!Number.isInteger(n) || n < 0) throw new ApplianceError('USAGE', '--max-age-days 须为非负整数。', 'bad --max-age-days');
  return n;
}

export function registerSignatures(program: Command): void {
  const sig = program.command('signatures').description('病毒库 virus signatures (offline update)');

  sig
    .command('import <path>')
    .description(
      '从介质导入病毒库（.cvd/.cld/.cud，测试用 .hdb/.ndb）：校验、试加载、原子替换、重载 clamd\nimport signature files carried in on media: validated, test-loaded, swapped, clamd reloaded',
    )
    .option('--database-dir <dir>', 'clamd 的 DatabaseDirectory（默认为配置 clamdDatabaseDir，即 /var/lib/clamav）')
    .option('--max-age-days <n>', `病毒库超过此天数时警告（默认为配置 signatureMaxAgeDays）`)
    .action(
      action(async (path: string, opts: { databaseDir?: string; maxAgeDays?: string }, cmd: Command) => {
        const cfg = configFor(cmd);
        const sec = await openSecurity(cfg);
        const r = await importSignatures(path, {
          databaseDir: opts.databaseDir ?? cfg.clamdDatabaseDir,
          clamd: effectiveClamdAddress(cfg),
          audit: sec.audit,
          actor: consoleActor(),
          maxAgeDays: maxAge(opts.maxAgeDays, cfg.signatureMaxAgeDays),
        });
        if (globalOptions(cmd).json) process.stdout.write(`${JSON.stringify({ ok: true, ...r })}\n`);
        else {
          process.stdout.write(
            r.loaded
              ? `病毒库已更新并生效（clamd 重载用时 ${(r.reloadMs / 1000).toFixed(1)} 秒）：\n`
              : '病毒库已安装（clamd 未运行，将在其启动时加载；无 systemd 时运行中的 archive serve 会自动启动 clamd）：\n',
          );
          for (const f of r.files)
            process.stdout.write(`  ${f.name}${f.version ? `  版本 ${f.version}` : ''}${f.buildTime ? `  构建于 ${f.buildTime}` : ''}${f.signatures ? `  ${f.signatures} 条特征` : ''}\n`);
          process.stdout.write(`  引擎 ${r.status.engine}${r.status.signatureVersion ? `，daily ${r.status.signatureVersion}（${r.status.ageDays} 天前）` : ''}\n`);
          if (r.ignored.length) process.stderr.write(`已忽略非病毒库文件：${r.ignored.join('、')}\n`);
        }
        for (const w of r.warnings) process.stderr.write(`警告：${w}\n`);
        return EXIT.ok;
      }),
    );

  sig
    .command('status')
    .description('病毒库版本与天数 signature version and age')
    .option('--max-age-days <n>', `超过此天数视为过旧（默认为配置 signatureMaxAgeDays）`)
    .action(
      action(async (opts: { maxAgeDays?: string }, cmd: Command) => {
        const cfg = configFor(cmd);
        const h = await clamdHealth(effectiveClamdAddress(cfg), { maxAgeDays: maxAge(opts.maxAgeDays, cfg.signatureMaxAgeDays) });
        if (globalOptions(cmd).json) process.stdout.write(`${JSON.stringify(h)}\n`);
        else process.stdout.write(`${h.status === 'ok' ? '正常' : h.status === 'degraded' ? '警告' : '不可用'}：${h.reason}\n`);
        return h.status === 'down' ? EXIT.failure : EXIT.ok;
      }),
    );
}
