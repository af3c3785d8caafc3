// Ingest benchmark: the eight sample items (16 pages) end to end — staging, virus scan against a
// real clamd, OCR, PDF assembly, store, index in a real Meilisearch — against the OCR engine alone
// on the same pages in the same run (the baseline: what the pipeline costs beyond reading).
// Prints pages/min for both, their ratio, and where the pipeline's time goes per stage.
// Run: npx tsx bench/ingest.ts
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

const SAMPLES = resolve(import.meta.dirname, '../../shared/samples');
const log = pino({ level: 'silent' });

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
  const pool = await createOcrPool({ workers: cfg.ocr.workers, lang: cfg.ocr.lang, cacheDir: dataPath(cfg.dataDir, 'run', 'ocr-lang') });
  const t0 = performance.now();
  for (const f of files) await ocrDocument(f, { pool });
  const ocrMs = performance.now() - t0;
  await pool.close();

  const meili = new MeiliSupervisor(cfg, log);
  await meili.start();
  const search = createSearchService(meili.connection, cfg.dataDir);
  await search.init();
  const svc = await createIngestService(cfg, { log, audit: new AuditLog(dataPath(cfg.dataDir, 'audit')), search });
  const t1 = performance.now();
  const jobPromise = svc.submit([join(SAMPLES, 'items')], { posts: ['BENCH'], actor: { name: 'bench', role: 'bench', source: 'bench' }, via: 'cli' });
  const job = await jobPromise;
  const intakeMs = performance.now() - t1;
  await svc.drain();
  const ingestMs = performance.now() - t1;
  const done = await svc.jobs.load(job.id);
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
} finally {
  await clamd.stop();
  await rm(dir, { recursive: true, force: true });
}
