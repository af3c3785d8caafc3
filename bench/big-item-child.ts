// The appliance's side of bench/big-item.ts, run in its own process so its peak RSS (VmHWM: the
// ingest service, its OCR workers and the PDF assembly; Meilisearch is a process of its own,
// reported apart) is this one item's. Prints one JSON line.
// Usage (by bench/big-item.ts): tsx bench/big-item-child.ts <data dir> <clamd address> <file> [--substitute-ocr]
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { pino } from 'pino';
import { loadConfig } from '../core/config.ts';
import { ensureDataDir, dataPath } from '../core/data-dir.ts';
import { MeiliSupervisor } from '../appliance/meili-supervisor.ts';
import { createIngestService, ItemStore } from '../ingest/index.ts';
import { createSearchService } from '../search/index.ts';
import { AuditLog } from '../security/index.ts';

const [dataDir, clamdAddress, file] = process.argv.slice(2);
const substitute = process.argv.includes('--substitute-ocr');
const hwm = (pid: number | string = 'self'): number => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;

const cfg = loadConfig({ env: { ARCHIVE_DATA_DIR: dataDir, ARCHIVE_MEILI_PORT: '0', ARCHIVE_CLAMD: clamdAddress } });
await ensureDataDir(cfg.dataDir);
const log = pino({ level: 'silent' });
const meili = new MeiliSupervisor(cfg, log);
await meili.start();
const search = createSearchService(meili.connection, cfg.dataDir);
await search.init();
// The substitute engine answers every page with no text at once: decoding, image encoding, PDF
// assembly, store and index are all real; only Tesseract's time (and its workers' memory) is left out.
const stub = async () => ({
  size: cfg.ocr.workers,
  lang: cfg.ocr.lang,
  recognise: async () => ({ blocks: [] }) as never,
  layoutLines: async () => [],
  detectOrientation: async () => ({ degrees: 0 as const, confidence: 0 }),
  close: async () => undefined,
});
const svc = await createIngestService(cfg, { log, audit: new AuditLog(dataPath(cfg.dataDir, 'audit')), search, ...(substitute ? { ocrPool: stub } : {}) });
const t0 = performance.now();
const cpu0 = process.cpuUsage();
const job = await svc.submitItems([{ label: 'big', files: [file], metadata: { posts: ['BENCH'], classification: '内部' } }], {
  via: 'cli',
  actor: { name: 'bench', role: 'bench', source: 'bench' },
  posts: ['BENCH'],
  classification: '内部',
});
await svc.drain();
const ingestMs = performance.now() - t0;
// CPU of the whole process (its OCR worker threads included) for the ingest: steadier than wall time on a shared machine.
const cpu = process.cpuUsage(cpu0);
const ingestCpuMs = (cpu.user + cpu.system) / 1000;
const done = await svc.jobs.load(job.id);
const item = done.items[0];
// The download as the web route serves it: a stream from the item store.
const t1 = performance.now();
const store = await ItemStore.open(cfg.dataDir);
const hash = createHash('sha256');
let bytes = 0;
for await (const chunk of createReadStream(store.documentPath(item.itemId)) as AsyncIterable<Buffer>) {
  hash.update(chunk);
  bytes += chunk.length;
}
const downloadMs = performance.now() - t1;
const meiliHwm = meili.pid ? hwm(meili.pid) : 0;
await svc.stop();
await meili.stop();
console.log(
  JSON.stringify({
    outcome: item.outcome,
    error: item.error,
    pages: item.pageCount,
    pdf: store.documentPath(item.itemId),
    pdfBytes: bytes,
    ingestMs,
    ingestCpuMs,
    downloadMs,
    timings: item.timings,
    hwm: hwm(),
    meiliHwm,
    substitute,
  }),
);
