import type { Classification } from '../appliance/config.ts';
import type { Logger } from '../appliance/log.ts';
import type { ItemMetadata, PageText } from './item.ts';

/** Verdict of the virus gate; anything that is not a clean scan is thrown as an ApplianceError. */
export type ScanVerdict = { verdict: 'clean' } | { verdict: 'infected'; signature: string };

/** One page read by OCR, with the image the viewer shows. */
export interface RecognisedPage {
  text: PageText;
  image: { bytes: Uint8Array; ext: 'jpg' | 'png' };
}

/** OCR of one item's files, page by page, so a crash resumes at the page it stopped on. */
export interface OcrItemSession {
  pageCount: number;
  recognise(index: number): Promise<RecognisedPage>;
  close(): Promise<void>;
}

export interface AuditEvent {
  actor: string;
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
  scan(path: string): Promise<ScanVerdict>;
  openOcr(files: string[]): Promise<OcrItemSession>;
  assemblePdf(pages: RecognisedPage[]): Promise<Uint8Array>;
  /** Items already archived with exactly these source hashes (duplicate detection). */
  findDuplicate(sha256s: string[]): Promise<string | undefined>;
  archivalCodeTaken(code: string): Promise<string | undefined>;
  storeItem(staged: { meta: ItemMetadata; dir: string }): Promise<void>;
  itemExists(itemId: string): Promise<boolean>;
  loadStored(itemId: string): Promise<{ meta: ItemMetadata; pages: PageText[] }>;
  index(meta: ItemMetadata, pages: PageText[]): Promise<void>;
  audit(event: AuditEvent): Promise<void>;
}
