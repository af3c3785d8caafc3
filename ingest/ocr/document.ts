import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { ApplianceError, inLanes, type PageText } from '../../core/index.ts';
import { buildSearchablePdf, type PageImage, type PdfPageInput } from '../pdf/searchable-pdf.ts';
import { DEFAULT_LIMITS, openInputs, type DecodeLimits, type PageSource, type Pixels } from './decode.ts';
import { pdfPageText, renderPdfPageJpeg } from './pdf-text.ts';
import { placeOnRendered } from './pdf-text-boxes.ts';
import type { OcrPool } from './pool.ts';
import { recognisePage } from './recognise.ts';

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

/** Raw pixels into sharp; grey stays one channel (sharp would otherwise write grey as RGB). */
const raw = (px: Pixels) => {
  const img = sharp(px.data, { raw: { width: px.width, height: px.height, channels: px.channels } });
  return px.channels === 1 ? img.toColourspace('b-w') : img;
};

/** How the scan goes into the PDF: its own JPEG untouched, lossy sources as JPEG, lossless as PNG-Flate. */
export async function pdfImage(src: PageSource, px: Pixels): Promise<{ image: PageImage; viewer: Uint8Array }> {
  if (src.jpeg) return { image: { kind: 'jpeg', bytes: src.jpeg }, viewer: src.jpeg };
  if (src.lossy) {
    // Already JPEG-compressed (inside a TIFF): a JPEG again keeps the size close to the input.
    const bytes = await raw(px).jpeg({ quality: 90, chromaSubsampling: '4:4:4' }).toBuffer();
    return { image: { kind: 'jpeg', bytes }, viewer: bytes };
  }
  const [png, viewer] = await Promise.all([raw(px).png({ compressionLevel: 3 }).toBuffer(), raw(px).jpeg({ quality: 85 }).toBuffer()]);
  return { image: { kind: 'png', bytes: png }, viewer };
}

/**
 * OCR a document given as page sources (image files, multi-page TIFFs, PDFs; in order) into
 * per-page text, a searchable PDF and viewer images. All inputs are opened and checked before the
 * first page is read, so a bad file fails the whole document early and nothing half-done comes back.
 * Pages run concurrently on the pool (one more page in flight than workers keeps them all busy).
 */
export async function ocrDocument(inputs: string[], opts: OcrDocumentOptions): Promise<OcrDocumentResult> {
  if (!inputs.length) throw new ApplianceError('OCR_NO_INPUT', '没有要识别的文件', 'no input files');
  const sources = await openInputs(inputs, opts.limits ?? DEFAULT_LIMITS);
  const n = sources.length;
  const texts: PageText[] = new Array(n);
  const images: Uint8Array[] = new Array(n);
  const pdfPages: PdfPageInput[] = new Array(n);
  const skew: number[] = new Array(n).fill(0);
  const pdfBytes = new Map<string, Uint8Array>();
  let done = 0;

  const one = async (i: number): Promise<void> => {
    const src = sources[i];
    if (src.kind === 'pdf-text') {
      const text = await pdfPageText(src.file, src.pdfPage ?? 0, i + 1, src.dpi);
      let bytes = pdfBytes.get(src.file);
      if (!bytes) {
        bytes = await readFile(src.file);
        pdfBytes.set(src.file, bytes);
      }
      images[i] = await renderPdfPageJpeg(src.file, src.pdfPage ?? 0, src.dpi);
      texts[i] = await placeOnRendered(text, images[i]);
      pdfPages[i] = { text, copyOf: { pdf: bytes, page: src.pdfPage ?? 0 } };
    } else {
      const px = await src.pixels();
      const [rec, img] = await Promise.all([recognisePage(opts.pool, src, i + 1, px), pdfImage(src, px)]);
      texts[i] = rec.text;
      skew[i] = rec.skewDeg;
      images[i] = img.viewer;
      pdfPages[i] = { text: rec.text, image: img.image };
    }
    done += 1;
    opts.onProgress?.({ done, pages: n, page: i + 1, file: src.file, source: texts[i].source, confidence: texts[i].confidence });
  };

  await inLanes(n, opts.pool.size + 1, one);
  const pdf = await buildSearchablePdf(pdfPages, { title: opts.title });
  return { pages: texts, pdf, pageImages: images, skew };
}
