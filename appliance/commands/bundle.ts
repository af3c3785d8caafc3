import type { Command } from 'commander';
import { EXIT, action, globalOptions } from '../cli-common.ts';
import { buildBundle } from '../bundle.ts';

export function registerBundle(program: Command): void {
  program
    .command('bundle')
    .description(
      '构建离线安装包（在联网的 Debian 12 amd64 机器上运行）：程序、生产依赖、Node.js、Meilisearch、OCR 语言数据、Debian 软件包、systemd 单元、install.sh 与 SHA256SUMS\nbuild the offline installer bundle (on an internet-side Debian 12 amd64 machine)',
    )
    .requiredOption('--out <file>', '输出文件 output file, e.g. dist/archive-bundle.tar.gz（另写 FILE.sha256）')
    .action(
      action(async (opts: { out: string }, cmd: Command) => {
        const json = Boolean(globalOptions(cmd).json);
        const r = await buildBundle({
          out: opts.out,
          progress: (line) => {
            if (!json) process.stderr.write(`bundle: ${line}\n`);
          },
        });
        if (json) process.stdout.write(`${JSON.stringify({ ok: true, ...r })}\n`);
        else {
          process.stdout.write(`安装包已生成：${r.out}（${(r.bytes / 1024 / 1024).toFixed(1)} MiB，${r.files} 个文件，${r.debs.length} 个 Debian 软件包，用时 ${r.seconds} 秒）\n`);
          process.stdout.write(`SHA-256：${r.sha256}（已写入 ${r.out}.sha256，拷贝后请核对）\n`);
          process.stdout.write(`目标机器上：tar xzf ${r.out.split('/').pop()} && cd ${r.id} && sudo ./install.sh\n`);
        }
        return EXIT.ok;
      }),
    );
}
