import { spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../core/config.ts';
import { ItemStore } from '../../ingest/index.ts';
import { type ItemMetadata } from '../../core/index.ts';
import { exportAudit } from '../../security/index.ts';
import { integrityLatestPath, runIntegrityCheck, seriesGaps, type IntegrityReport } from '../../custody/integrity.ts';
import { msUntilHour, startDaily } from '../../custody/integrity-schedule.ts';
import { CLI, cleanup, tempDir } from '../support/appliance.ts';
import { makeItem } from './backup-support.ts';

describe('archive verify: the integrity report (四性检测)', () => {
  let root: string;
  let cfg: Config;
  let store: ItemStore;
  const items: ItemMetadata[] = [];

  beforeAll(async () => {
    root = await tempDir('integrity-');
    cfg = loadConfig({ overrides: { dataDir: join(root, 'data'), clamd: 'unix:/nonexistent/clamd.sock' } });
    store = await ItemStore.open(cfg.dataDir);
    // 件号 1, 2, 3, 5, 6: 4 is missing from the series.
    for (const n of [1, 2, 3, 5, 6]) items.push(await makeItem(store, root, { itemNo: n }));
    items.push(await makeItem(store, root, { badPdf: true, title: '扫描件' }));
  });
  afterAll(() => cleanup(root));

  const dir = (m: ItemMetadata) => store.itemDir(m.itemId);
  const find = (r: IntegrityReport, m: ItemMetadata) => r.items.find((i) => i.itemId === m.itemId);

  it('names a modified page, a deleted file, an extra file, a missing 件号 and an unopenable PDF', async () => {
    const [one, two, three] = items;
    const unopenable = items[5];
    await writeFile(join(dir(one), 'pages', '0001.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]));
    await rm(join(dir(two), 'pages', '0002.jpg'));
    await writeFile(join(dir(three), 'pages', 'extra.txt'), 'not part of the item');

    const r = await runIntegrityCheck(cfg);
    expect(r.ok).toBe(false);
    expect(find(r, one)).toMatchObject({ status: 'changed', archivalCode: 'J012-2014-Y-BGS-0001' });
    expect(find(r, one)!.problems.join()).toContain('pages/0001.jpg');
    expect(find(r, two)).toMatchObject({ status: 'missing' });
    expect(find(r, two)!.problems.join()).toContain('pages/0002.jpg');
    expect(find(r, three)).toMatchObject({ status: 'untracked' });
    expect(find(r, three)!.problems.join()).toContain('pages/extra.txt');
    expect(find(r, unopenable)).toMatchObject({ status: 'unusable' });
    expect(find(r, unopenable)!.problems.join()).toMatch(/document\.pdf 无法打开/);
    expect(r.completeness.gaps).toEqual([{ series: 'J012-2014-Y-BGS', missing: ['J012-2014-Y-BGS-0004'] }]);
    expect(r.problems.join('\n')).toContain('J012-2014-Y-BGS-0004');
    expect(find(r, items[3])).toBeUndefined(); // untouched items are only counted
    expect(r.counts).toMatchObject({ total: 6, ok: 2, changed: 1, missing: 1, untracked: 1, unusable: 1 });
    expect(r.authenticity.audit.ok).toBe(true);
    expect(r.warnings.join()).toMatch(/病毒扫描服务不可用/);

    // Saved for the web UI and on record in the audit trail.
    const saved = JSON.parse(await readFile(integrityLatestPath(cfg.dataDir), 'utf8')) as IntegrityReport;
    expect(saved.counts).toEqual(r.counts);
    const recs = [];
    for await (const rec of exportAudit(join(cfg.dataDir, 'audit'), {})) if (rec.action === 'integrity.check') recs.push(rec);
    expect(recs.at(-1)).toMatchObject({ outcome: 'failure', details: { counts: r.counts } });
  });

  it('names an item that vanished entirely, and the CLI exits non-zero with --json', async () => {
    const gone = items[4];
    await rm(dir(gone), { recursive: true });
    const r = await runIntegrityCheck(cfg);
    expect(find(r, gone)).toMatchObject({ status: 'missing' });
    expect(r.completeness.gaps[0].missing).toEqual(['J012-2014-Y-BGS-0004']); // 6 is gone too, so 0005 is now the last
    // Reported again the next day, not forgotten once the store's index forgot it.
    const again = await runIntegrityCheck(cfg);
    expect(find(again, gone)).toMatchObject({ status: 'missing' });

    const out = await new Promise<{ code: number | null; stdout: string }>((res) => {
      const p = spawn(process.execPath, [CLI, '--data-dir', cfg.dataDir, '--json', 'verify', '--no-index'], {
        env: { ...process.env, ARCHIVE_CLAMD: 'unix:/nonexistent/clamd.sock' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      p.stdout.on('data', (d) => (stdout += d));
      p.on('exit', (code) => res({ code, stdout }));
    });
    expect(out.code).toBe(1);
    const j = JSON.parse(out.stdout) as IntegrityReport;
    expect(j.items.map((i) => i.status).sort()).toEqual(['changed', 'missing', 'missing', 'untracked', 'unusable']);
  });

  it('reports an item above the classification ceiling as unsafe', async () => {
    const c2 = { ...cfg, classificationCeiling: '公开' as const };
    const r = await runIntegrityCheck(c2);
    expect(r.security.aboveCeiling.length).toBeGreaterThan(0);
    expect(find(r, items[3])).toMatchObject({ status: 'unsafe' });
  });

  it('series gaps and the daily timer', async () => {
    const no = (itemNo: number) => ({ fonds: 'A', year: 2014, retention: 'Y' as const, department: 'B', itemNo });
    // A series scanned from 0003 on is not a gap (a note), one with a hole inside is.
    expect(seriesGaps([no(3)])).toEqual([{ series: 'A-2014-Y-B', missing: [], firstNo: 3 }]);
    expect(seriesGaps([no(1), no(2)])).toEqual([]);
    expect(seriesGaps([no(7), no(3), no(5)])).toEqual([{ series: 'A-2014-Y-B', missing: ['A-2014-Y-B-0004', 'A-2014-Y-B-0006'], firstNo: 3 }]);
    expect(msUntilHour(new Date(2026, 0, 1, 1, 30), 2)).toBe(30 * 60_000);
    expect(msUntilHour(new Date(2026, 0, 1, 2, 0), 2)).toBe(24 * 3_600_000);
    // A clock 80 ms before 02:00: the task runs once, then the next run is a day later.
    const clock = new Date(2026, 0, 1, 1, 59, 59, 920).getTime();
    const t0 = Date.now();
    let runs = 0;
    const s = startDaily(
      2,
      async () => {
        runs++;
      },
      { now: () => new Date(clock + (Date.now() - t0)) },
    );
    await new Promise((r) => setTimeout(r, 400));
    expect(runs).toBe(1);
    expect(s.next().getHours()).toBe(2);
    await s.stop();
    // A wall clock that runs behind the timers (they fire "early" by its reading): still one run.
    const t1 = Date.now();
    let slowRuns = 0;
    const slow = startDaily(
      2,
      async () => {
        slowRuns++;
      },
      { now: () => new Date(clock + (Date.now() - t1) * 0.8) },
    );
    await new Promise((r) => setTimeout(r, 400));
    expect(slowRuns).toBe(1);
    expect(slow.next().getDate()).toBe(2);
    await slow.stop();
  });
});
