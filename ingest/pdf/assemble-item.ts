import { readFile } from 'node:fs/promises';
import type { RecognisedPage } from '../runner-deps.ts';
import { buildSearchablePdf, type PdfPageInput } from './searchable-pdf.ts';

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
