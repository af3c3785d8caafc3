// bench/shared-reconcile: what the shared index's periodic reconcile (federation/shared-index.ts,
// every 20 s in serve) costs on an item store of N items, a share of them shared: the first run
// (everything written), a run with nothing to do (the steady state), and a run after a change of
// scope of 1% of the items; and, since passes read only the items the store told of, the full pass
// with nothing to do (at start, after a change of policy, once a day). Prints figures; asserts nothing.
//   npx tsx bench/shared-reconcile.ts [--items 2000] [--shared 0.3]
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../core/config.ts';
import { ensureDataDir } from '../core/data-dir.ts';
import { MeiliSupervisor } from '../appliance/meili-supervisor.ts';
import { ItemStore } from '../ingest/index.ts';
import { SharedIndexWriter } from '../search/index.ts';
import { SharedIndex } from '../federation/index.ts';
import { cleanup, tempDir } from '../test/support/appliance.ts';
import { stageItem } from '../test/support/staged-item.ts';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const N = arg('items', 2000);
const SHARE = arg('shared', 0.3);

const dir = await tempDir('bench-shared-');
try {
  const dataDir = join(dir, 'data');
  await ensureDataDir(dataDir);
  const cfg = loadConfig({ env: { ARCHIVE_DATA_DIR: dataDir, ARCHIVE_MEILI_PORT: '0' } });
  const meili = new MeiliSupervisor(cfg, pino({ level: 'silent' }));
  await meili.start();
  try {
    const store = await ItemStore.open(dataDir);
    const text = '根据工作需要经研究决定核定机构编制事项如下各单位要认真贯彻执行确保机构编制工作规范有序'.repeat(20);
    const ids: string[] = [];
    let t0 = Date.now();
    for (let i = 0; i < N; i++) {
      const { dir: staged, meta } = await stageItem(join(dir, 'stage'), {
        pages: 3,
        texts: [text, text, text],
        meta: { title: `机构编制通知第${i}号`, posts: ['ZH'], classification: '内部', ...(i < N * SHARE ? { sharing: i % 2 ? 'all' : 'parent' } : {}) },
      });
      ids.push((await store.putItem({ meta, dir: staged })).itemId);
    }
    console.log(`store: ${N} items of 3 pages (${Math.round(N * SHARE)} shared) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const sharing = new SharedIndex({ dataDir, writer: new SharedIndexWriter(meili.connection), store, office: 'BENCH' });
    t0 = Date.now();
    const first = await sharing.reconcile();
    console.log(`first reconcile (${first.kind}, all shared items written): ${first.ms} ms, ${first.checked} items read, added ${first.added}`);
    const median = async (what: string, opts: { full?: boolean }) => {
      const runs = [];
      for (let i = 0; i < 5; i++) runs.push(await sharing.reconcile(opts));
      const ms = runs.map((r) => r.ms).sort((a, b) => a - b);
      console.log(`${what} (${runs[0].kind}, ${runs[0].checked} items read): median ${ms[2]} ms (min ${ms[0]}, max ${ms[4]})`);
    };
    await median('reconcile with nothing to do, every 20 s', {});
    await median('full reconcile with nothing to do (at start, policy change, daily)', { full: true });
    const changed = ids.slice(0, Math.max(1, Math.round(N * 0.01)));
    for (const id of changed) await store.updateMetadata(id, { sharing: 'all' });
    const after = await sharing.reconcile();
    console.log(
      `reconcile after ${changed.length} scope changes (${after.kind}, ${after.checked} items read): ${after.ms} ms (added ${after.added}, updated ${after.updated}, removed ${after.removed})`,
    );
    console.log(
      `load average at the end: ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} on ${cpus().length} cores`,
    );
  } finally {
    await meili.stop();
  }
} finally {
  await cleanup(dir);
}
