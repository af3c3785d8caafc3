import type { Command } from 'commander';
import { action, configFor } from '../cli-common.ts';
import { createLogger } from '../../core/index.ts';
import { startAppliance } from '../server.ts';
import { underNpm, watchParent } from '../parent-watch.ts';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('启动设备服务：Meilisearch、网页与接口（Ctrl-C 或 SIGTERM 停止）\nstart the appliance: Meilisearch, web UI and API (stop with Ctrl-C or SIGTERM)')
    .option('--http-addr <host:port>', '网页监听地址 web listen address (default 127.0.0.1:8080)')
    .action(
      action(async (opts: { httpAddr?: string }, cmd: Command) => {
        const cfg = configFor(cmd);
        if (opts.httpAddr) cfg.httpAddr = opts.httpAddr;
        const log = createLogger({ level: cfg.logLevel });
        const running = await startAppliance(cfg, log);
        process.stderr.write(`档案检索一体机已启动：${running.url}  数据目录 ${cfg.dataDir}\n`);
        await new Promise<void>((resolve) => {
          // Ctrl-C reaches npm, its shell and this process at once, and npm may signal again on its
          // way out: the first signal starts the stop, later ones must not cut it short.
          let stopping: Promise<void> | undefined;
          const stop = () => void (stopping ??= running.stop().then(resolve));
          const onSignal = (sig: NodeJS.Signals) => {
            log.info({ signal: sig }, stopping ? 'already shutting down' : 'shutting down');
            stop();
          };
          // SIGHUP: a closed terminal or SSH session stops cleanly instead of orphaning Meilisearch.
          for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
          // Under npx/npm, the signal goes to npm, which dies without passing it on (appliance/parent-watch.ts).
          if (underNpm()) {
            watchParent((was, now) => {
              log.info({ parentWas: was, parentNow: now }, 'npm wrapper ended; shutting down');
              stop();
            });
          }
        });
        return 0;
      }),
    );
}
