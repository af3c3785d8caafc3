// ingest/: from a file on a desk to an archived item: intake, virus gate, normalisation, OCR,
// searchable-PDF assembly, the item store and the job queue. Others import from here only.
export { ocrDataStatus, traineddataPath, type OcrDataStatus } from './ocr-data.ts';
export { RETENTIONS, type Retention, type Box, type OcrSymbol, type OcrWord, type OcrLine, type PageText, type ItemMetadata } from './item.ts';
