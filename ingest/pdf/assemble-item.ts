import { readFile } from 'node:fs/promises';
import type { RecognisedPage } from '../runner-deps.ts';
import { buildSearchablePdf, writeSearchablePdf, type PdfPageInput } from './searchable-pdf.ts';

/**
 * The PDF page inputs of recognised pages, one at a time. A PDF that pages are copied from is read
 * once for its run of pages and let go when the pages move on to another file.
 */
async function* pageInputs(pages: AsyncIterable<RecognisedPage> | Iterable<RecognisedPage>): AsyncGenerator<PdfPageInput> {
  let source: { file: string; bytes: Uint8Array } | undefined;
  for await (const p of pages) {
    if (p.pdf.kind === 'copy') {
      if (source?.file !== p.pdf.file) source = { file: p.pdf.file, bytes: await readFile(p.pdf.file) };
      yield { text: p.text, copyOf: { pdf: source.bytes, page: p.pdf.page } };
    } else yield { text: p.text, image: p.pdf };
  }
}

/** The searchable PDF of an item, written to `out` page by page from its recognised pages (read lazily). */
export async function writeItemPdf(pages: AsyncIterable<RecognisedPage> | Iterable<RecognisedPage>, out: string, title?: string): Promise<number> {
  return writeSearchablePdf(pageInputs(pages), out, { title });
}

/** The searchable PDF of an item from its recognised pages, in memory (`archive ocr`). */
export async function assembleItemPdf(pages: RecognisedPage[], title?: string): Promise<Uint8Array> {
  const inputs: PdfPageInput[] = [];
  for await (const p of pageInputs(pages)) inputs.push(p);
  return buildSearchablePdf(inputs, { title });
}
