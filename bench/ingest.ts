// Ingest benchmark: the eight sample items (16 pages) end to end — staging, virus scan against a
// real clamd, OCR, PDF assembly, store, index in a real Meilisearch — against the OCR engine alone
// on the same pages in the same run (the baseline: what the pipeline costs beyond reading).
// Prints pages/min for both, their ratio, and where the pipeline's time goes per stage.
// Run: npx tsx bench/ingest.ts. Before/after a change: run this same file in a checkout of the older
// commit (it uses only the ingest and search services), alternating runs; on a loaded machine the
// wall-clock ratio swings with the load between the two phases, the CPU ratio much less.
import { readFileSync } from 'node:fs';
import { readFile, readdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../core/config.ts';
import { ensureDataDir, dataPath } from '../core/data-dir.ts';
import { MeiliSupervisor } from '../appliance/meili-supervisor.ts';
import { createIngestService, createOcrPool, ocrDocument } from '../ingest/index.ts';
import { createSearchService } from '../search/index.ts';
import { AuditLog } from '../security/index.ts';
import { startTestClamd } from '../test/support/clamd.ts';
import { tempDir } from '../test/support/appliance.ts';
import { makeItem } from './search-corpus.ts';

const SAMPLES = resolve(import.meta.dirname, '../../shared/samples');
const log = pino({ level: 'silent' });

/** CPU time (user + system) a process has used so far, from /proc. */
function procCpuMs(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

interface TaskRow {
  type: string;
  indexUid?: string;
  enqueuedAt: string;
  startedAt: string;
  finishedAt: string;
  details?: { receivedDocuments?: number };
}

/** Document tasks Meilisearch ran (index creation and settings left out). */
async function meiliTasks(host: string, apiKey: string): Promise<TaskRow[]> {
  const res = await fetch(`${host}/tasks?limit=1000&types=documentAdditionOrUpdate,documentDeletion`, { headers: { authorization: `Bearer ${apiKey}` } });
  return ((await res.json()) as { results: TaskRow[] }).results;
}

async function sampleFiles(): Promise<string[][]> {
  const out: string[][] = [];
  for (const f of (await readdir(join(SAMPLES, 'gt'))).sort()) {
    const gt = JSON.parse(await readFile(join(SAMPLES, 'gt', f), 'utf8')) as { files: string[] };
    out.push(gt.files.map((x) => join(SAMPLES, 'items', x)));
  }
  return out;
}

const dir = await tempDir('archive-bench-ingest-');
const clamd = await startTestClamd({ maxFileSize: 64 * 1024 * 1024 });
try {
  const cfg = loadConfig({ env: { ARCHIVE_DATA_DIR: join(dir, 'data'), ARCHIVE_MEILI_PORT: '0', ARCHIVE_CLAMD: clamd.address } });
  await ensureDataDir(cfg.dataDir);
  const files = await sampleFiles();
  const pages = 16;

  // Baseline: the OCR engine alone, same pages, same worker count.
  const startCpu0 = process.cpuUsage();
  const pool = await createOcrPool({ workers: cfg.ocr.workers, lang: cfg.ocr.lang, cacheDir: dataPath(cfg.dataDir, 'run', 'ocr-lang') });
  const startCpu = process.cpuUsage(startCpu0);
  const ocrCpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (const f of files) await ocrDocument(f, { pool });
  const ocrMs = performance.now() - t0;
  const ocrCpu = process.cpuUsage(ocrCpu0);
  await pool.close();

  const meili = new MeiliSupervisor(cfg, log);
  await meili.start();
  const search = createSearchService(meili.connection, cfg.dataDir);
  await search.init();
  // --warm N: the appliance has been running and holds N items already (synthetic, indexed before the
  // clock starts), so Meilisearch's first-update costs (its Chinese dictionary, empty tables) are
  // paid, as on an appliance in daily use; without it the ingest is the first work of a new appliance.
  const warmAt = process.argv.indexOf('--warm');
  const warm = warmAt > 0 ? Number(process.argv[warmAt + 1]) : 0;
  if (warm > 0) await search.indexItems(Array.from({ length: warm }, (_, i) => makeItem(i)));
  if (warm > 0) console.log(`warm start: ${warm} synthetic items indexed before the ingest`);
  const svc = await createIngestService(cfg, { log, audit: new AuditLog(dataPath(cfg.dataDir, 'audit')), search });
  const cpu0 = { node: process.cpuUsage(), meili: procCpuMs(meili.pid), clamd: procCpuMs(clamd.pid) };
  const t1 = performance.now();
  const jobPromise = svc.submit([join(SAMPLES, 'items')], { posts: ['BENCH'], actor: { name: 'bench', role: 'bench', source: 'bench' }, via: 'cli' });
  const job = await jobPromise;
  const intakeMs = performance.now() - t1;
  // The critical path as the journal tells it: until OCR opens the first item, the span of OCR,
  // and what is left after the last page is read (the last item's assembly and store, the index).
  const marks: { firstOcr?: number; lastPage?: number } = {};
  svc.runner.on('journal', (_j, item) => {
    if (!item || item.stage !== 'ocr') return;
    marks.firstOcr ??= performance.now() - t1;
    if (item.pageCount !== undefined && item.pagesDone === item.pageCount) marks.lastPage = performance.now() - t1;
  });
  await svc.drain();
  const ingestMs = performance.now() - t1;
  const done = await svc.jobs.load(job.id);
  const cpu = { node: process.cpuUsage(cpu0.node), meili: procCpuMs(meili.pid) - cpu0.meili, clamd: procCpuMs(clamd.pid) - cpu0.clamd };
  const tasks = await meiliTasks(meili.connection.host, meili.connection.apiKey);
  await svc.stop();
  await meili.stop();

  const archived = done.items.filter((i) => i.outcome === 'archived').length;
  const stages = ['scan', 'ocr', 'assemble', 'store', 'index'] as const;
  const totals = Object.fromEntries(stages.map((s) => [s, done.items.reduce((n, i) => n + (i.timings?.[s] ?? 0), 0)])) as Record<(typeof stages)[number], number>;
  const summed = intakeMs + Object.values(totals).reduce((a, b) => a + b, 0);
  const ppm = (ms: number) => (pages / ms) * 60_000;
  console.log(`items archived: ${archived}/${done.items.length}, pages: ${pages}, OCR workers: ${cfg.ocr.workers}, lang: ${cfg.ocr.lang}`);
  console.log(`OCR engine alone (baseline): ${ppm(ocrMs).toFixed(1)} pages/min (${(ocrMs / 1000).toFixed(1)} s)`);
  console.log(`ingest end to end:           ${ppm(ingestMs).toFixed(1)} pages/min (${(ingestMs / 1000).toFixed(1)} s)`);
  console.log(`ratio ingest / OCR alone:    ${(ocrMs / ingestMs).toFixed(2)}`);
  // Indexing runs beside the next item's OCR, so stage times add up to more than the wall time.
  console.log('share of stage time (summed over items; indexing overlaps OCR):');
  console.log(`  ${'intake'.padEnd(9)} ${((intakeMs / summed) * 100).toFixed(1).padStart(5)}%  (${(intakeMs / 1000).toFixed(1)} s: copy + hash into the job)`);
  for (const s of stages) console.log(`  ${s.padEnd(9)} ${((totals[s] / summed) * 100).toFixed(1).padStart(5)}%  (${(totals[s] / 1000).toFixed(1)} s)`);
  const sec = (ms?: number) => (ms === undefined ? '?' : (ms / 1000).toFixed(1));
  console.log(
    `wall time: ${sec(ingestMs)} s — before OCR opens the first item ${sec(marks.firstOcr)} s (intake, virus gate, engine start), OCR ${sec(marks.lastPage! - marks.firstOcr!)} s, after the last page ${sec(ingestMs - marks.lastPage!)} s (last item's PDF and store, index, journal)`,
  );
  // CPU seconds do not depend on what else the machine runs: on 2 busy cores the ingest can go at
  // most (OCR-alone CPU / ingest CPU) of the engine's speed.
  const cpuS = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;
  const ingestCpu = cpuS(cpu.node) + cpu.meili / 1000 + cpu.clamd / 1000;
  console.log(`CPU, OCR engine alone: ${cpuS(ocrCpu).toFixed(1)} s (its start, ${cpuS(startCpu).toFixed(1)} s, not counted; the ingest's own start is)`);
  console.log(
    `CPU during ingest: ${ingestCpu.toFixed(1)} s — node (OCR, PDF, store, journal) ${cpuS(cpu.node).toFixed(1)} s, meilisearch ${(cpu.meili / 1000).toFixed(1)} s, clamd ${(cpu.clamd / 1000).toFixed(1)} s`,
  );
  console.log(`CPU ratio OCR alone / ingest: ${(cpuS(ocrCpu) / ingestCpu).toFixed(2)}`);
  const byType = new Map<string, { n: number; docs: number; wait: number; run: number }>();
  for (const t of tasks) {
    const k = `${t.type} ${t.indexUid ?? ''}`;
    const e = byType.get(k) ?? { n: 0, docs: 0, wait: 0, run: 0 };
    e.n++;
    e.docs += t.details?.receivedDocuments ?? 0;
    e.wait += Date.parse(t.startedAt) - Date.parse(t.enqueuedAt);
    e.run += Date.parse(t.finishedAt) - Date.parse(t.startedAt);
    byType.set(k, e);
  }
  console.log('meilisearch tasks during ingest (count, documents, summed queue wait, summed processing):');
  for (const [k, e] of byType) console.log(`  ${k.padEnd(32)} ${String(e.n).padStart(4)} ${String(e.docs).padStart(5)} docs  wait ${(e.wait / 1000).toFixed(1)} s  run ${(e.run / 1000).toFixed(1)} s`);
} finally {
  await clamd.stop();
  await rm(dir, { recursive: true, force: true });
}
