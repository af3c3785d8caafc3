// ingest/: from a file on a desk to an archived item: intake, virus gate, normalisation, OCR,
// searchable-PDF assembly, the item store and the job queue. Others import from here only.
export { ocrDataStatus } from './ocr/lang-data.ts';
export { ocrDocument } from './ocr/document.ts';
export { createOcrPool } from './ocr/pool.ts';
export { openInputs } from './ocr/decode.ts';
export { ItemStore, type ItemMetadataPatch } from './item-store.ts';
export { MANIFEST_NAME, parseManifest } from './manifest.ts';
export { ITEM_ID } from './item-schema.ts';
export { csvTemplate, CSV_TEMPLATE_NAME } from './csv-template.ts';
export { createIngestService, submitPaths, MAX_FILE_BYTES, type IngestService } from './service.ts';
export { JobStore, jobProgress, itemPages, type Job, type JobItem, type JobProgress } from './jobs.ts';
export { listTree } from './manifest.ts';
export { safeFileName } from './safe-name.ts';
