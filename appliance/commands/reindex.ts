import type { Command } from 'commander';
import { action, configFor, EXIT, globalOptions } from '../cli-common.ts';
import { consoleServices, storedItems as stored } from '../console-services.ts';
import { ItemStore } from '../../ingest/index.ts';
import { createSearchService, SharedIndexWriter } from '../../search/index.ts';
import { SharedIndex } from '../../federation/index.ts';
import { consoleActor, openSecurity } from '../../security/index.ts';

export function registerReindex(program: Command): void {
  program
    .command('reindex')
    .description('从条目库重建检索索引（索引只是派生数据）；--check 只核对索引与条目库是否一致\nrebuild the search index from the item store; --check only compares them')
    .option('--check', '只检查一致性（缺失、过期、多余），不重建 only check consistency')
    .action(
      action(async (opts: { check?: boolean }, cmd: Command) => {
        const cfg = configFor(cmd);
        const json = Boolean(globalOptions(cmd).json);
        const sec = await openSecurity(cfg);
        const services = await consoleServices(cfg);
        try {
          const search = createSearchService(services.conn, cfg.dataDir);
          await search.init();
          const store = await ItemStore.open(cfg.dataDir);
          if (opts.check) {
            const r = await search.consistency(stored(store));
            if (json) process.stdout.write(`${JSON.stringify(r)}\n`);
            else
              process.stdout.write(
                `${r.ok ? '索引与条目库一致' : '索引与条目库不一致'}：条目库 ${r.storeItems} 件，索引 ${r.indexedItems} 件；缺失 ${r.missing.length}，过期 ${r.stale.length}，多余 ${r.orphaned.length}，多余页 ${r.orphanedPages.length}\n`,
              );
            return r.ok ? EXIT.ok : EXIT.failure;
          }
          const r = await search.reindex(stored(store));
          // 联合检索's shared index is derived too: rebuilt from the store and the sharing policy.
          const shared = await new SharedIndex({ dataDir: cfg.dataDir, writer: new SharedIndexWriter(services.conn), store, office: cfg.office.code }).rebuild();
          await sec.audit.append({ ...consoleActor(), action: 'search.reindex', target: '-', outcome: 'success', details: { items: r.items, pages: r.pages, ms: r.ms, shared: shared.shared } });
          if (json) process.stdout.write(`${JSON.stringify({ ok: true, ...r, shared: shared.shared })}\n`);
          else
            process.stdout.write(
              `已重建索引：${r.items} 件，${r.pages} 页，用时 ${(r.ms / 1000).toFixed(1)} 秒${r.truncated.length ? `；${r.truncated.length} 件页数过多，尾部页面未编入` : ''}；联合检索共享 ${shared.shared} 件\n`,
            );
          return EXIT.ok;
        } finally {
          await services.release();
        }
      }),
    );
}
