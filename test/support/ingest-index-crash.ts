// Child process for the ingest runner's crash test (test/ingest/index-batch-crash.test.ts): works the
// job queue with the real scanner, OCR pool, item store, index and audit log, holds index updates
// until every item of the job is stored (one batch), and at the moment `mode` names writes the batch's
// item ids to `marker` and stays there until the test kills it:
//   before: the batch is formed (its items stored, the journal says so), nothing sent to the index;
//   after:  the index has confirmed the update (the items are searchable), the journal not yet told.
import { writeFile } from 'node:fs/promises';
import { pino } from 'pino';
import { dataPath, loadConfig } from '../../core/index.ts';
import { ItemStore, JobStore } from '../../ingest/index.ts';
import { createOcrPool, type OcrPool } from '../../ingest/ocr/pool.ts';
import { IngestRunner } from '../../ingest/runner.ts';
import { ingestDeps } from '../../ingest/service.ts';
import { createSearchService } from '../../search/index.ts';
import { AuditLog } from '../../security/index.ts';

const [dataDir, host, apiKey, clamd, mode, marker] = process.argv.slice(2);
const cfg = loadConfig({ env: { ARCHIVE_DATA_DIR: dataDir, ARCHIVE_CLAMD: clamd, ARCHIVE_MEILI_PORT: '0' } });
const log = pino({ level: 'silent' });
const search = createSearchService({ host, apiKey }, dataDir);
let pool: Promise<OcrPool> | undefined;
const getPool = () => (pool ??= createOcrPool({ workers: cfg.ocr.workers, lang: cfg.ocr.lang, cacheDir: dataPath(dataDir, 'run', 'ocr-lang') }));
const real = ingestDeps(cfg, { log, audit: new AuditLog(dataPath(dataDir, 'audit')), search }, await ItemStore.open(dataDir), getPool);
const runner = new IngestRunner(
  new JobStore(dataDir),
  {
    ...real,
    indexItems: async (items) => {
      if (mode === 'after') await real.indexItems(items);
      await writeFile(marker, JSON.stringify(items.map((i) => i.meta.itemId)));
      setInterval(() => undefined, 60_000); // stay here until killed
      await new Promise(() => undefined);
    },
  },
  // No batch before the job's last item is stored.
  { pageConcurrency: cfg.ocr.workers + 1, indexBatch: { maxItems: 1_000, maxPages: 1_000_000, maxWaitMs: 3_600_000, firstAtOnce: false } },
);
await runner.drain();
