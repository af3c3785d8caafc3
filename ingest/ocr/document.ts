import { ApplianceError, inLanes, type PageText } from '../../core/index.ts';
import { assembleItemPdf } from '../pdf/assemble-item.ts';
import type { RecognisedPage } from '../runner-deps.ts';
import { DEFAULT_LIMITS, type DecodeLimits } from './decode.ts';
import { openOcrSession } from './page-session.ts';
import type { OcrPool } from './pool.ts';

export interface OcrProgress {
  /** Pages finished so far (1..pages) and the document's page count. */
  done: number;
  pages: number;
  /** The page just finished (1-based), its file and how it was read. */
  page: number;
  file: string;
  source: PageText['source'];
  confidence: number;
}

export interface OcrDocumentOptions {
  pool: OcrPool;
  limits?: DecodeLimits;
  title?: string;
  onProgress?: (p: OcrProgress) => void;
}

export interface OcrDocumentResult {
  /** Per page, in input order: what was read, with boxes in page-image pixels. */
  pages: PageText[];
  /** The searchable PDF (scan images + invisible text). */
  pdf: Uint8Array;
  /** Per page, a JPEG for the viewer (pages/0001.jpg): the original bytes when the scan is a JPEG. */
  pageImages: Uint8Array[];
  /** Measured skew per page in degrees (0 for pages not OCR'd). */
  skew: number[];
}

/**
 * OCR a document given as page sources (image files, multi-page TIFFs, PDFs; in order) into
 * per-page text, a searchable PDF and viewer images. All inputs are opened and checked before the
 * first page is read, so a bad file fails the whole document early and nothing half-done comes back.
 * Pages run concurrently on the pool (one more page in flight than workers keeps them all busy),
 * through the same page session and PDF assembly as the ingest runner (`archive ocr`, bench/ocr).
 */
export async function ocrDocument(inputs: string[], opts: OcrDocumentOptions): Promise<OcrDocumentResult> {
  if (!inputs.length) throw new ApplianceError('OCR_NO_INPUT', '没有要识别的文件', 'no input files');
  const session = await openOcrSession(opts.pool, inputs, opts.limits ?? DEFAULT_LIMITS);
  const n = session.pageCount;
  const pages: RecognisedPage[] = new Array(n);
  let done = 0;
  try {
    await inLanes(n, opts.pool.size + 1, async (i) => {
      pages[i] = await session.recognise(i);
      done += 1;
      const text = pages[i].text;
      opts.onProgress?.({ done, pages: n, page: i + 1, file: session.fileOf(i), source: text.source, confidence: text.confidence });
    });
  } finally {
    await session.close();
  }
  const pdf = await assembleItemPdf(pages, opts.title);
  return { pages: pages.map((p) => p.text), pdf, pageImages: pages.map((p) => p.viewer), skew: pages.map((p) => p.skewDeg ?? 0) };
}
