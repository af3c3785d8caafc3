import type { Command } from 'commander';
import { EXIT, action, configFor, globalOptions } from '../cli-common.ts';
import { compactMeili, formatBytes as gb, label } from '../meili-compact.ts';
import { openSecurity } from '../../security/index.ts';
import { consoleAudited } from './console-audit.ts';

export function registerCompact(program: Command): void {
  program
    .command('compact')
    .description(
      '停机维护时压缩检索引擎（Meilisearch）的数据文件：去掉删除与重建留下的空闲页，核对无误后替换；设备服务须已停止\ncompact the search engine files of a stopped appliance (free pages left out, copy verified, then swapped in)',
    )
    .action(
      action(async (_opts: unknown, cmd: Command) => {
        const cfg = configFor(cmd);
        const json = Boolean(globalOptions(cmd).json);
        const say = (line: string) => (json ? process.stderr : process.stdout).write(`${line}\n`);
        const sec = await openSecurity(cfg);
        const r = await consoleAudited(sec.audit, 'search.compact', '-', async () => {
          const r = await compactMeili(cfg, { progress: say });
          return {
            result: r,
            details: {
              beforeBytes: r.before,
              afterBytes: r.after,
              ms: Math.round(r.ms),
              files: r.files.map((f) => ({ file: f.rel, before: f.before, after: f.after })),
              recovered: r.recovered.length,
            },
          };
        });
        if (json) {
          process.stdout.write(`${JSON.stringify({ ok: true, ...r })}\n`);
          return EXIT.ok;
        }
        if (!r.files.length) {
          say('检索索引尚未建立，无需压缩。');
          return EXIT.ok;
        }
        const saved = r.before - r.after;
        say(`已压缩检索索引：${gb(r.before)} → ${gb(r.after)}，释放 ${gb(saved)}（${r.before ? Math.round((100 * saved) / r.before) : 0}%），用时 ${(r.ms / 1000).toFixed(1)} 秒。`);
        for (const f of r.files) say(`  ${label(f)}：${gb(f.before)} → ${gb(f.after ?? f.before)}`);
        say(
          `副本已核对（各库条目数、各索引文档数与检索结果与压缩前一致）：${Object.entries(r.indexes)
            .map(([k, n]) => `${k} ${n} 条`)
            .join('，')}。`,
        );
        return EXIT.ok;
      }),
    );
}
