import type { Command } from 'commander';
import { EXIT, action, configFor, globalOptions } from '../cli-common.ts';
import { runningAppliance } from '../../core/index.ts';
import { runSelfcheck } from '../selfcheck-run.ts';
import { effectiveClamdAddress } from '../clamd-supervisor.ts';
import { consoleActor, openSecurity } from '../../security/index.ts';

const LABEL = { ok: '正常', warning: '警告', failure: '失败' } as const;

export function registerSelfcheck(program: Command): void {
  program
    .command('selfcheck')
    .description(
      '隔离自检：路由、网络接口、监听端口、遥测、文件权限、病毒库、OCR 数据、磁盘、时钟（只读本机状态，不发送任何数据包；退出码：0 无失败，1 有失败）\nisolation self-check; reads the machine only, never sends a packet (exit 0 no failures, 1 failures)',
    )
    .action(
      action(async (_opts: unknown, cmd: Command) => {
        // The appliance's own clamd (no systemd) answers in the data dir, not at the configured address.
        const configured = configFor(cmd);
        const cfg = { ...configured, clamd: effectiveClamdAddress(configured) };
        const json = Boolean(globalOptions(cmd).json);
        const run = await runningAppliance(cfg.dataDir);
        const serving = run && run.httpAddr !== 'console' ? run : undefined;
        const report = await runSelfcheck(cfg, { appPid: serving?.pid, httpAddr: serving?.httpAddr ?? cfg.httpAddr, configFile: globalOptions(cmd).config ?? process.env.ARCHIVE_CONFIG });
        const sec = await openSecurity(cfg);
        const failures = report.checks.filter((c) => c.status === 'failure');
        await sec.audit.append({
          ...consoleActor(),
          action: 'selfcheck.run',
          target: '-',
          outcome: failures.length ? 'failure' : 'success',
          details: { counts: report.counts, failures: failures.map((c) => ({ id: c.id, message: c.message })), warnings: report.checks.filter((c) => c.status === 'warning').map((c) => c.id) },
        });
        if (json) {
          process.stdout.write(`${JSON.stringify({ ok: failures.length === 0, ...report })}\n`);
        } else {
          process.stdout.write(`隔离自检（${report.time}）：正常 ${report.counts.ok}，警告 ${report.counts.warning}，失败 ${report.counts.failure}${serving ? '' : '（设备服务未运行）'}\n`);
          for (const c of report.checks) {
            process.stdout.write(`[${LABEL[c.status]}] ${c.title}：${c.message}\n`);
            if (c.action) process.stdout.write(`       处理：${c.action}\n`);
          }
        }
        return failures.length ? EXIT.failure : EXIT.ok;
      }),
    );
}
