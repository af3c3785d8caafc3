// ingest/: from a file on a desk to an archived item: intake, virus gate, normalisation, OCR,
// searchable-PDF assembly, the item store and the job queue. Others import from here only.
export { ocrDataStatus, traineddataPath, type OcrDataStatus } from './ocr-data.ts';
export { RETENTIONS, type Retention, type Box, type OcrSymbol, type OcrWord, type OcrLine, type PageText, type ItemMetadata } from './item.ts';
export { ocrDocument, type OcrDocumentOptions, type OcrDocumentResult, type OcrProgress } from './ocr/document.ts';
export { createOcrPool, type OcrPool, type OcrPoolOptions } from './ocr/pool.ts';
export { openInputs, DEFAULT_LIMITS, type DecodeLimits, type PageSource } from './ocr/decode.ts';
export { normaliseText, normaliseLine } from './ocr/normalise-text.ts';
export { cer } from './ocr/cer.ts';
export { buildSearchablePdf, type PdfPageInput, type PageImage } from './pdf/searchable-pdf.ts';
export { ItemStore, type StagedItem, type ItemVerification, type ItemMetadataPatch, type PageFile } from './item-store.ts';
export { MANIFEST_NAME, formatManifest, parseManifest, type ManifestEntry } from './manifest.ts';
export { parseArchivalCode, requireArchivalCode, type ArchivalCodeParts } from './archival-code.ts';
export { ITEM_ID, checkItemMetadata, isSafeComponent } from './item-schema.ts';
export { readCsvManifest, parseCsvManifest, requireValidCsv, decodeCsv, checkRelativePath, parseDate, parseRetention, CSV_COLUMNS, type CsvManifest, type CsvManifestRow, type CsvProblem, type CsvCheckOptions, type CsvColumn } from './csv-manifest.ts';
export { csvTemplate, CSV_TEMPLATE_NAME } from './csv-template.ts';
export { createIngestService, submitPaths, submitIntake, planIntake, MAX_FILE_BYTES, type IngestService, type SubmitOptions } from './service.ts';
export { JobStore, jobProgress, itemPages, ITEM_STAGES, type Job, type JobItem, type JobActor, type JobProgress, type ItemStage, type ItemOutcome } from './jobs.ts';
export type { IntakeItem } from './intake.ts';
export { listTree, type TreeListing } from './manifest.ts';
