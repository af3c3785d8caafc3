import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { PDFContext, PDFDict, PDFDocument, PDFHexString, PDFName, PDFRawStream, PDFRef, type PDFObject } from 'pdf-lib';
import { fsyncDir } from '../../core/index.ts';

/**
 * A PDF written to disk object by object, so a document of any length is assembled in the memory
 * of one page: pdf-lib keeps a whole document (every page's image) in memory until `save()`, and
 * a 500-page 案卷 of 300-DPI scans is hundreds of megabytes.
 *
 * Each page is built by pdf-lib as before, in a small scratch document whose new objects are
 * numbered after everything already written; its objects go to the file and the scratch document
 * is dropped. Object 1 is the page tree and object 2 the catalog in every scratch document
 * (PDFDocument.create registers them first), and the same numbers are kept for the real ones here,
 * so a page's /Parent needs no rewriting. The page tree, catalog, document info, cross-reference
 * table and trailer are written at the end.
 */

const PAGES = PDFRef.of(1);
const CATALOG = PDFRef.of(2);
const INFO = PDFRef.of(3);
const FIRST_FREE = 4;
const CHUNK = 1 << 20;

export interface PdfInfo {
  title?: string;
  producer?: string;
  creator?: string;
}

export class PdfStreamWriter {
  private pos = 0;
  private next = FIRST_FREE;
  private readonly offsets = new Map<number, number>();
  private readonly kids: PDFRef[] = [];
  private buf = Buffer.allocUnsafe(CHUNK);
  private used = 0;
  private closed = false;

  private constructor(
    private readonly fh: FileHandle,
    private readonly tmp: string,
    private readonly out: string,
  ) {}

  /** Starts `out` (written under a temporary name; it appears only at `finish`). */
  static async create(out: string): Promise<PdfStreamWriter> {
    const tmp = `${out}.tmp-${process.pid}`;
    const fh = await open(tmp, 'w', 0o600);
    const w = new PdfStreamWriter(fh, tmp, out);
    // A binary comment after the header, as PDF 1.7 §7.5.2 recommends for files with binary data.
    await w.write(Buffer.from([...Buffer.from('%PDF-1.7\n%'), 0xe2, 0xe3, 0xcf, 0xd3, 0x0a]));
    return w;
  }

  get pageCount(): number {
    return this.kids.length;
  }

  private async flush(): Promise<void> {
    let off = 0;
    while (off < this.used) off += (await this.fh.write(this.buf, off, this.used - off)).bytesWritten;
    this.used = 0;
  }

  private async write(bytes: Uint8Array | string): Promise<void> {
    const b = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
    if (b.length >= CHUNK) {
      // Large (an image): straight from its own buffer, never copied.
      await this.flush();
      let off = 0;
      while (off < b.length) off += (await this.fh.write(b, off, b.length - off)).bytesWritten;
    } else {
      if (this.used + b.length > CHUNK) await this.flush();
      this.buf.set(b, this.used);
      this.used += b.length;
    }
    this.pos += b.length;
  }

  private static bytesOf(obj: PDFObject): Uint8Array {
    const b = new Uint8Array(obj.sizeInBytes());
    obj.copyBytesInto(b, 0);
    return b;
  }

  private async writeObject(ref: PDFRef, obj: PDFObject): Promise<void> {
    if (this.offsets.has(ref.objectNumber)) throw new Error(`PDF object ${ref.objectNumber} written twice`);
    this.offsets.set(ref.objectNumber, this.pos);
    await this.write(`${ref.objectNumber} ${ref.generationNumber} obj\n`);
    if (obj instanceof PDFRawStream) {
      // The dictionary, then the contents from their own buffer (an image may be tens of MB).
      obj.updateDict();
      await this.write(PdfStreamWriter.bytesOf(obj.dict));
      await this.write('\nstream\n');
      await this.write(obj.contents);
      await this.write('\nendstream');
    } else {
      await this.write(PdfStreamWriter.bytesOf(obj));
    }
    await this.write('\nendobj\n');
  }

  /**
   * A scratch document for the next page(s): objects it registers are numbered after everything
   * written so far. Hand it back to `add` when its page is built.
   */
  async scratch(): Promise<PDFDocument> {
    const doc = await PDFDocument.create({ updateMetadata: false });
    const pages = doc.catalog.get(PDFName.of('Pages'));
    if (pages !== PAGES || doc.context.trailerInfo.Root !== CATALOG) throw new Error('pdf-lib numbered its page tree or catalog unexpectedly');
    doc.context.largestObjectNumber = this.next - 1;
    return doc;
  }

  /** Writes every object of a scratch document (its pages join the document, in order). */
  async add(doc: PDFDocument): Promise<void> {
    if (this.closed) throw new Error('PDF already finished');
    // pdf-lib embeds images and fonts only when a document is saved: do it now.
    await doc.flush();
    const ctx = doc.context;
    for (const page of doc.getPages()) {
      page.node.set(PDFName.of('Parent'), PAGES);
      this.kids.push(page.ref);
    }
    const objects = ctx.enumerateIndirectObjects().filter(([ref]) => ref !== PAGES && ref !== CATALOG);
    for (const [ref, obj] of objects) {
      if (ref.objectNumber < this.next) throw new Error(`scratch PDF object ${ref.objectNumber} collides with one already written`);
      await this.writeObject(ref, obj);
    }
    this.next = Math.max(this.next, ctx.largestObjectNumber + 1);
  }

  /** The page tree, catalog, info, cross-reference table and trailer; then the file is synced and put in place. */
  async finish(info: PdfInfo = {}): Promise<void> {
    this.closed = true;
    try {
      const ctx = PDFContext.create();
      const pages = ctx.obj({ Type: 'Pages', Kids: this.kids, Count: this.kids.length });
      await this.writeObject(PAGES, pages);
      await this.writeObject(CATALOG, ctx.obj({ Type: 'Catalog', Pages: PAGES }));
      const infoDict = PDFDict.withContext(ctx);
      if (info.title) infoDict.set(PDFName.of('Title'), PDFHexString.fromText(info.title));
      if (info.producer) infoDict.set(PDFName.of('Producer'), PDFHexString.fromText(info.producer));
      if (info.creator) infoDict.set(PDFName.of('Creator'), PDFHexString.fromText(info.creator));
      await this.writeObject(INFO, infoDict);
      const size = this.next;
      const xrefAt = this.pos;
      const lines: string[] = ['xref', `0 ${size}`, '0000000000 65535 f\r'];
      for (let n = 1; n < size; n++) {
        const at = this.offsets.get(n);
        // Numbers a scratch document used and then dropped (the sanitiser's unreachable objects).
        lines.push(at === undefined ? '0000000000 00001 f\r' : `${String(at).padStart(10, '0')} 00000 n\r`);
      }
      await this.write(lines.join('\n') + '\n');
      const trailer = ctx.obj({ Size: size, Root: CATALOG, Info: INFO });
      await this.write('trailer\n');
      await this.write(PdfStreamWriter.bytesOf(trailer));
      await this.write(`\nstartxref\n${xrefAt}\n%%EOF\n`);
      await this.flush();
      await this.fh.sync();
      await this.fh.close();
      await rename(this.tmp, this.out);
      await fsyncDir(dirname(this.out));
    } catch (e) {
      await this.abort();
      throw e;
    }
  }

  /** Stops and removes the partial file. */
  async abort(): Promise<void> {
    this.closed = true;
    await this.fh.close().catch(() => undefined);
    await rm(this.tmp, { force: true });
  }
}
