import type { Command } from 'commander';
import { EXIT, action, configFor, globalOptions } from '../cli-common.ts';
import { readFile } from 'node:fs/promises';
import { get as httpsGet } from 'node:https';
import { type Config, type HealthReport, runningAppliance } from '../../core/index.ts';
import { applianceCaPath } from '../tls.ts';
import { readConsoleToken } from '../console-token.ts';

const LABEL: Record<string, string> = { ok: '正常', degraded: '降级', down: '故障' };

/** /api/health over the appliance's HTTPS, trusting its own CA (or the operator's certificate). */
async function httpsHealth(url: string, cfg: Config, headers: Record<string, string>): Promise<unknown> {
  const ca = await readFile(cfg.tls.cert ?? applianceCaPath(cfg.dataDir), 'utf8');
  return new Promise((resolve, reject) => {
    const req = httpsGet(`${url}api/health`, { ca, timeout: 10_000, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body));
        } catch (e) {
          reject(e);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('显示设备服务是否运行及各组件健康状况（退出码：0 正常，1 有问题，3 未运行）\nshow whether the appliance runs and the health of each component (exit 0 ok, 1 problem, 3 not running)')
    .action(
      action(async (_opts: unknown, cmd: Command) => {
        const cfg = configFor(cmd);
        const json = Boolean(globalOptions(cmd).json);
        const run = await runningAppliance(cfg.dataDir);
        if (!run) {
          if (json) process.stdout.write(`${JSON.stringify({ ok: false, running: false, dataDir: cfg.dataDir })}\n`);
          else process.stdout.write(`设备服务未运行（数据目录 ${cfg.dataDir}）。启动：npx archive serve\n`);
          return EXIT.notRunning;
        }
        if (run.httpAddr === 'console') {
          if (json) process.stdout.write(`${JSON.stringify({ ok: false, running: false, consolePid: run.pid, dataDir: cfg.dataDir })}\n`);
          else process.stdout.write(`设备服务未运行；控制台命令（进程 ${run.pid}）正在使用数据目录 ${cfg.dataDir}。\n`);
          return EXIT.notRunning;
        }
        // The console's token (run/console-token, 0600) unlocks the components; without it only ok/degraded/down.
        const token = await readConsoleToken(cfg.dataDir);
        const headers: Record<string, string> = token ? { 'x-archive-console': token } : {};
        const url = run.url ?? `http://${run.httpAddr}/`;
        const report = (
          url.startsWith('https:') ? await httpsHealth(url, cfg, headers) : await (await fetch(`${url}api/health`, { headers, signal: AbortSignal.timeout(10_000) })).json()
        ) as HealthReport;
        if (json) {
          process.stdout.write(`${JSON.stringify({ ok: report.status === 'ok', running: true, pid: run.pid, httpAddr: run.httpAddr, health: report })}\n`);
        } else {
          process.stdout.write(`设备服务运行中：进程 ${run.pid}，${url}，总体 ${LABEL[report.status]}\n`);
          if (!report.components) process.stdout.write('  （无法读取 run/console-token：各组件详情仅对能读取数据目录的用户显示）\n');
          for (const [name, c] of Object.entries(report.components ?? {})) process.stdout.write(`  ${name.padEnd(12)} ${LABEL[c.status]}  ${c.reason}\n`);
        }
        return report.status === 'ok' ? EXIT.ok : EXIT.failure;
      }),
    );
}
