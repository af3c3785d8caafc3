import type { Command } from 'commander';
import { action, globalOptions } from '../cli-common.ts';
import { startDemo, DEFAULT_SAMPLES_DIR } from '../demo.ts';
import { createLogger } from '../../core/index.ts';
import { underNpm, watchParent } from '../parent-watch.ts';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      '演示模式：临时数据目录、仅本机回环地址、ClamAV 测试特征库，建立三员、两个岗位及其人员并导入样例，打印地址与密码；Ctrl-C 停止并删除全部数据\nthrowaway demo appliance: temp data dir, loopback only, test signatures, accounts and samples; Ctrl-C stops it and deletes everything',
    )
    .option('--http-addr <host:port>', '监听地址，仅限回环地址 loopback listen address (default 127.0.0.1 on a free port)')
    .option('--samples <dir>', `样例目录 samples folder (default ${DEFAULT_SAMPLES_DIR})`)
    .option('--only <ids>', '只导入这些样例，逗号分隔 ingest only these samples, e.g. S0003,S0005')
    .action(
      action(async (opts: { httpAddr?: string; samples?: string; only?: string }, cmd: Command) => {
        const g = globalOptions(cmd);
        // Every log line says 演示模式: nobody mistakes this appliance's log for a real one.
        const log = createLogger({ level: process.env.ARCHIVE_LOG_LEVEL ?? 'warn', toStderr: true }).child({ mode: '演示模式' });
        const say = (line: string) => process.stderr.write(`${line}\n`);
        const demo = await startDemo({
          dataDir: g.dataDir,
          httpAddr: opts.httpAddr,
          samplesDir: opts.samples,
          only: opts.only
            ? opts.only
                .split(/[,，]/)
                .map((s) => s.trim())
                .filter(Boolean)
            : undefined,
          log,
          say,
        });
        const url = `http://${demo.running.httpAddr}/`;
        if (g.json) {
          process.stdout.write(
            `${JSON.stringify({ ok: true, demo: true, url, dataDir: demo.cfg.dataDir, accounts: demo.accounts, job: demo.job?.id, archived: demo.job?.items.filter((i) => i.outcome === 'archived').length ?? 0 })}\n`,
          );
        } else {
          const w = (s: string) => process.stdout.write(`${s}\n`);
          w('');
          w('══════════════════ 演示模式（数据为临时数据，停止后全部删除）══════════════════');
          w(`  地址：${url}`);
          w(`  数据目录：${demo.cfg.dataDir}（临时）`);
          w('  病毒库：仅 ClamAV 测试特征库，不是真实病毒库');
          w('  账户（用户名 / 密码 / 角色 / 岗位）：');
          for (const a of demo.accounts) w(`    ${a.username.padEnd(9)} ${a.password}  ${a.roleName}${a.posts.length ? `  ${a.posts.join('、')}` : ''}`);
          w(`  已导入样例：${demo.job?.items.filter((i) => i.outcome === 'archived').length ?? 0} 件`);
          w('  按 Ctrl-C 停止并删除全部演示数据。');
          w('══════════════════════════════════════════════════════════════════════════════');
        }
        await new Promise<void>((resolve) => {
          // Ctrl-C reaches npm, its shell and this process at once, and npm may signal again on its
          // way out: the first signal starts the stop, later ones must not cut the clean-up short.
          let stopping: Promise<void> | undefined;
          const onSignal = () => void (stopping ??= demo.stop().then(resolve));
          for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
          if (underNpm()) watchParent(onSignal);
        });
        say('演示已停止，临时数据已删除。');
        return 0;
      }),
    );
}
