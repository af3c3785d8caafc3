import sharp from 'sharp';
import type { PageImage } from '../pdf/searchable-pdf.ts';
import type { OcrItemSession, RecognisedPage } from '../runner-deps.ts';
import { DEFAULT_LIMITS, openInputs, type DecodeLimits, type PageSource, type Pixels } from './decode.ts';
import { pdfPageText, renderPdfPageJpeg } from './pdf-text.ts';
import { placeOnRendered } from './pdf-text-boxes.ts';
import type { OcrPool } from './pool.ts';
import { flagForReview } from './line-quality.ts';
import { recognisePage, toGrey } from './recognise.ts';

/** Pages above this many pixels (an A4 page at 300 DPI has 8.7 million) are read and encoded in turn, not at once. */
const BIG_PAGE_PIXELS = 16_000_000;

/**
 * OCR of one item page by page, for the ingest runner: every input is opened and checked first
 * (corrupt files and decompression bombs fail the item before any page is read), then each page
 * is read on its own so a crash resumes at the page it stopped on.
 */
export async function openOcrSession(pool: OcrPool, files: string[], limits: DecodeLimits = DEFAULT_LIMITS): Promise<OcrItemSession> {
  const sources = await openInputs(files, limits);
  return {
    pageCount: sources.length,
    fileOf: (i: number) => sources[i].file,
    async recognise(i: number): Promise<RecognisedPage> {
      const src = sources[i];
      if (src.kind === 'pdf-text') {
        const viewer = await renderPdfPageJpeg(src.file, src.pdfPage ?? 0, src.dpi);
        const text = await placeOnRendered(await pdfPageText(src.file, src.pdfPage ?? 0, i + 1, src.dpi), viewer);
        return { text, viewer, pdf: { kind: 'copy', file: src.file, page: src.pdfPage ?? 0 } };
      }
      // A grey page saved as RGB is taken as grey once, here: the recogniser's grey copy is then
      // the same pixels without a conversion, and the PDF and viewer images are encoded grey.
      const px = greyIfColourless(await src.pixels());
      if (px.width * px.height > BIG_PAGE_PIXELS) {
        // A big scan (600 DPI, A3): one step at a time, and its colour pixels let go before OCR.
        const img = await pdfImage(src, px);
        const rec = await recognisePage(pool, src, i + 1, await toGrey(px));
        return { text: flagForReview(rec.text), viewer: img.viewer, pdf: img.image, skewDeg: rec.skewDeg };
      }
      const [rec, img] = await Promise.all([recognisePage(pool, src, i + 1, px), pdfImage(src, px)]);
      return { text: flagForReview(rec.text), viewer: img.viewer, pdf: img.image, skewDeg: rec.skewDeg };
    },
    async close() {},
  };
}

/** Raw pixels into sharp; grey stays one channel (sharp would otherwise write grey as RGB). */
const raw = (px: Pixels) => {
  const img = sharp(px.data, { raw: { width: px.width, height: px.height, channels: px.channels } });
  return px.channels === 1 ? img.toColourspace('b-w') : img;
};

/**
 * Optimised Huffman tables make libjpeg keep every coefficient of the image until the end: 210 MB
 * more for a 600-DPI colour page (measured). Big pages are written with the standard tables (a few
 * per cent larger), all others as before.
 */
const small = (px: Pixels) => px.width * px.height <= BIG_PAGE_PIXELS;

/**
 * A colour scan whose three channels are equal at every pixel (a grey page saved as RGB, as some
 * scanning software does and as bench/ocr-set's generated pages are) is the same picture in one
 * channel: its first channel, or the scan as it is at the first pixel that differs. Stored grey,
 * the pixels are the same and the encoding is cheaper: an A4 page at 300 DPI 244-288 → 137-154 ms
 * CPU for its PNG and viewer JPEG, the PNG 5.1 → 3.6 MB.
 */
export function greyIfColourless(px: Pixels): Pixels {
  if (px.channels !== 3) return px;
  const d = px.data;
  for (let i = 0; i < d.length; i += 3) if (d[i] !== d[i + 1] || d[i] !== d[i + 2]) return px;
  const grey = Buffer.alloc(px.width * px.height);
  for (let i = 0, j = 0; j < grey.length; i += 3, j++) grey[j] = d[i];
  return { data: grey, width: px.width, height: px.height, channels: 1 };
}

/** How the scan goes into the PDF: its own JPEG untouched, lossy sources as JPEG, lossless as PNG-Flate. */
export async function pdfImage(src: PageSource, scan: Pixels): Promise<{ image: PageImage; viewer: Uint8Array }> {
  if (src.jpeg) {
    const bytes = await src.jpeg();
    return { image: { kind: 'jpeg', bytes }, viewer: bytes };
  }
  const px = greyIfColourless(scan); // (a no-op on what openOcrSession already made grey)
  if (src.lossy) {
    // Already JPEG-compressed (inside a TIFF): a JPEG again keeps the size close to the input.
    const bytes = await raw(px)
      .jpeg({ quality: 90, chromaSubsampling: '4:4:4', optimiseCoding: small(px) })
      .toBuffer();
    return { image: { kind: 'jpeg', bytes }, viewer: bytes };
  }
  // One after the other: at once, a 600-DPI colour page's two encoders held 200 MB more.
  const png = await raw(px).png({ compressionLevel: 3 }).toBuffer();
  const viewer = await raw(px)
    .jpeg({ quality: 85, optimiseCoding: small(px) })
    .toBuffer();
  return { image: { kind: 'png', bytes: png }, viewer };
}
