import { readFile } from 'node:fs/promises';
import { DEFAULT_LIMITS, openInputs, type DecodeLimits } from './decode.ts';
import { pdfImage } from './document.ts';
import { pdfPageText, renderPdfPageJpeg } from './pdf-text.ts';
import { placeOnRendered } from './pdf-text-boxes.ts';
import type { OcrPool } from './pool.ts';
import { recognisePage } from './recognise.ts';
import { buildSearchablePdf, type PdfPageInput } from '../pdf/searchable-pdf.ts';
import type { OcrItemSession, RecognisedPage } from '../runner-deps.ts';

/**
 * OCR of one item page by page, for the ingest runner: every input is opened and checked first
 * (corrupt files and decompression bombs fail the item before any page is read), then each page
 * is read on its own so a crash resumes at the page it stopped on.
 */
export async function openOcrSession(pool: OcrPool, files: string[], limits: DecodeLimits = DEFAULT_LIMITS): Promise<OcrItemSession> {
  const sources = await openInputs(files, limits);
  return {
    pageCount: sources.length,
    async recognise(i: number): Promise<RecognisedPage> {
      const src = sources[i];
      if (src.kind === 'pdf-text') {
        const viewer = await renderPdfPageJpeg(src.file, src.pdfPage ?? 0, src.dpi);
        const text = await placeOnRendered(await pdfPageText(src.file, src.pdfPage ?? 0, i + 1, src.dpi), viewer);
        return { text, viewer, pdf: { kind: 'copy', file: src.file, page: src.pdfPage ?? 0 } };
      }
      const px = await src.pixels();
      const [rec, img] = await Promise.all([recognisePage(pool, src, i + 1, px), pdfImage(src, px)]);
      return { text: rec.text, viewer: img.viewer, pdf: img.image };
    },
    async close() {},
  };
}

/** The searchable PDF of an item from its recognised pages. */
export async function assembleItemPdf(pages: RecognisedPage[], title?: string): Promise<Uint8Array> {
  const pdfs = new Map<string, Uint8Array>();
  const inputs: PdfPageInput[] = [];
  for (const p of pages) {
    if (p.pdf.kind === 'copy') {
      let bytes = pdfs.get(p.pdf.file);
      if (!bytes) pdfs.set(p.pdf.file, (bytes = await readFile(p.pdf.file)));
      inputs.push({ text: p.text, copyOf: { pdf: bytes, page: p.pdf.page } });
    } else inputs.push({ text: p.text, image: p.pdf });
  }
  return buildSearchablePdf(inputs, { title });
}
