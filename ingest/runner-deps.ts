import type { Classification, Logger, ItemMetadata, PageText } from '../core/index.ts';
import type { ScanVerdict } from '../security/index.ts';

/** How a page goes into the searchable PDF: a scan image, or a page of a PDF that already had text. */
export type PdfSource = { kind: 'jpeg' | 'png'; bytes: Uint8Array } | { kind: 'copy'; file: string; page: number };

/** One page read by OCR: its text, the JPEG the viewer shows, and what the PDF page is made of. */
export interface RecognisedPage {
  text: PageText;
  viewer: Uint8Array;
  pdf: PdfSource;
  /** Skew measured for OCR, in degrees (absent for pages that already had text). */
  skewDeg?: number;
}

/** OCR of one item's files, page by page, so a crash resumes at the page it stopped on. */
export interface OcrItemSession {
  pageCount: number;
  /** The input file page `index` (0-based) comes from. */
  fileOf(index: number): string;
  recognise(index: number): Promise<RecognisedPage>;
  close(): Promise<void>;
}

export interface AuditEvent {
  actor: { name: string; role: string; source: string };
  action: string;
  target?: string;
  outcome: 'success' | 'failure' | 'refused';
  details?: Record<string, unknown>;
}

/** Everything the ingest runner needs from the rest of the appliance. */
export interface IngestDeps {
  dataDir: string;
  ceiling: Classification;
  log: Logger;
  /** The verdict, and the SHA-256 of exactly the bytes the scanner was sent (security/clamav.ts scanFileDigest). */
  scan(path: string): Promise<{ verdict: ScanVerdict; sha256: string }>;
  /** Scanner errors worth waiting out (clamd down, slow); others refuse the item. */
  scanRetryable(e: unknown): boolean;
  openOcr(files: string[]): Promise<OcrItemSession>;
  /** Start the OCR engine now (it takes seconds), so it is ready when the first item has passed the gate. */
  warmOcr?(): void;
  /** Pages of scanned files from their headers (no pixels decoded); undefined when they cannot be opened. */
  countPages(files: string[]): Promise<number | undefined>;
  /** Writes the item's searchable PDF to `out` (atomically), reading the pages one at a time. */
  assemblePdf(pages: AsyncIterable<RecognisedPage>, out: string): Promise<void>;
  /** Items already archived with exactly these source hashes (duplicate detection). */
  findDuplicate(sha256s: string[]): Promise<string | undefined>;
  archivalCodeTaken(code: string): Promise<string | undefined>;
  storeItem(staged: { meta: ItemMetadata; dir: string }): Promise<void>;
  /** Re-OCR: swap an archived item's pages, text and PDF for the new reading. */
  replaceItem(staged: { meta: ItemMetadata; dir: string }): Promise<void>;
  itemExists(itemId: string): Promise<boolean>;
  loadStored(itemId: string): Promise<{ meta: ItemMetadata; pages: PageText[] }>;
  /** Make stored items searchable in one index update; resolves once they all are. */
  indexItems(items: Array<{ meta: ItemMetadata; pages: PageText[] }>): Promise<void>;
  audit(event: AuditEvent): Promise<void>;
}
