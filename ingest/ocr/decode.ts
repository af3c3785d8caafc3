import { execFile } from 'node:child_process';
import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { promisify } from 'node:util';
import { PDFArray, PDFDict, PDFDocument, PDFName, PDFNumber, PDFRawStream, type PDFPage } from 'pdf-lib';
import sharp, { type Metadata } from 'sharp';
import { ApplianceError } from '../../core/index.ts';

const run = promisify(execFile);

export interface DecodeLimits {
  /** Largest page in pixels (decompression bombs stop here). */
  maxPixels: number;
  /** Most pages per document. */
  maxPages: number;
}

export const DEFAULT_LIMITS: DecodeLimits = { maxPixels: 100_000_000, maxPages: 1000 };

/** Page pixels: 1 channel (grey) or 3 (sRGB), 8 bits, row-major. */
export interface Pixels {
  data: Buffer;
  width: number;
  height: number;
  channels: 1 | 3;
}

/** One page of an input, opened (header read) but not yet decoded. */
export interface PageSource {
  file: string;
  /** 0-based page within its file. */
  index: number;
  /** 'raster': a scan to OCR; 'pdf-text': a PDF page that already carries text (kept, not OCR'd). */
  kind: 'raster' | 'pdf-text';
  width: number;
  height: number;
  dpi: number;
  channels: 1 | 3;
  /**
   * The page's own JPEG bytes (a JPEG file, or a DCTDecode image copied out of a PDF), read from
   * the file when asked for: a source holds no page's bytes in memory.
   */
  jpeg?: () => Promise<Uint8Array>;
  /** Source pixels already went through lossy compression (JPEG inside TIFF): re-encode as JPEG. */
  lossy: boolean;
  /** For PDF inputs: the 0-based page in that PDF. */
  pdfPage?: number;
  pixels(): Promise<Pixels>;
}

function err(code: string, zh: string, en: string, file: string, extra: Record<string, unknown> = {}): ApplianceError {
  return new ApplianceError(code, `${zh}：${basename(file)}`, `${en}: ${file}`, { status: 422, details: { file: basename(file), ...extra } });
}

const corrupt = (file: string, e: unknown, page?: number): ApplianceError =>
  err(
    'OCR_INPUT_CORRUPT',
    page === undefined ? '文件已损坏，无法解码' : `第 ${page + 1} 页已损坏，无法解码`,
    `corrupt or undecodable file (${String((e as Error)?.message ?? e)})`,
    file,
    page === undefined ? {} : { page: page + 1 },
  );

type Kind = 'jpeg' | 'png' | 'tiff' | 'pdf';

const SCAN_EXT = /\.(jpe?g|png|tiff?|pdf)$/i;

function sniff(head: Buffer): Kind | undefined {
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'jpeg';
  if (head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'png';
  const t = head.subarray(0, 4).toString('latin1');
  if (t === 'II*\0' || t === 'MM\0*' || t === 'II+\0' || t === 'MM\0+') return 'tiff';
  if (head.subarray(0, 1024).includes('%PDF-')) return 'pdf';
  return undefined;
}

/**
 * Scanners often leave resolution out (or write JFIF's 72). A4 is by far the commonest paper, so
 * an A4-shaped page gets the DPI that makes it A4; anything else is taken as 300 DPI.
 */
export function sensibleDpi(density: number | undefined, width: number, height: number): number {
  if (density && density > 72 && density <= 2400) return density;
  const long = Math.max(width, height);
  const short = Math.min(width, height);
  if (Math.abs(long / short - 297 / 210) < 0.03) return Math.round(long / (297 / 25.4));
  return 300;
}

/** `length` bytes at `at` (fewer at the end of the file). */
async function readAt(fh: FileHandle, at: number, length: number): Promise<Buffer> {
  const b = Buffer.alloc(length);
  const { bytesRead } = await fh.read(b, 0, length, at);
  return b.subarray(0, bytesRead);
}

/**
 * Compression per TIFF frame (tag 259), to know which frames already went through JPEG. Only the
 * directories are read (a few hundred bytes per frame), not the image data.
 */
async function tiffCompressions(file: string, size: number): Promise<number[]> {
  const out: number[] = [];
  const fh = await open(file, 'r');
  try {
    const head = await readAt(fh, 0, 8);
    if (head.length < 8) return out;
    const le = head.toString('latin1', 0, 2) === 'II';
    const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    if (u16(head, 2) !== 42) return out; // BigTIFF: not parsed, treated as lossless
    let ifd = u32(head, 4);
    const seen = new Set<number>();
    while (ifd && ifd + 2 <= size && !seen.has(ifd) && out.length < 100_000) {
      seen.add(ifd);
      const n = u16(await readAt(fh, ifd, 2), 0);
      const dir = await readAt(fh, ifd + 2, n * 12 + 4);
      let comp = 1;
      for (let i = 0; i < n; i++) {
        const e = i * 12;
        if (e + 12 > dir.length) break;
        if (u16(dir, e) === 259) comp = u16(dir, e + 8);
      }
      out.push(comp);
      ifd = n * 12 + 4 <= dir.length ? u32(dir, n * 12) : 0;
    }
    return out;
  } finally {
    await fh.close();
  }
}

/**
 * Images are read by libvips from the file, a page at a time (a multi-page TIFF of 500 scans is
 * never in memory whole): the headers here, the pixels of one page when that page is read.
 */
async function openImage(file: string, size: number, kind: Kind, limits: DecodeLimits): Promise<PageSource[]> {
  let meta: Metadata;
  try {
    meta = await sharp(file, { limitInputPixels: false }).metadata();
  } catch (e) {
    throw corrupt(file, e);
  }
  const pages = kind === 'tiff' ? (meta.pages ?? 1) : 1;
  if (pages > limits.maxPages) throw err('OCR_TOO_MANY_PAGES', `页数过多（${pages} 页，上限 ${limits.maxPages} 页）`, `too many pages (${pages} > ${limits.maxPages})`, file);
  const comps = kind === 'tiff' ? await tiffCompressions(file, size) : [];
  const out: PageSource[] = [];
  for (let index = 0; index < pages; index++) {
    // Frames of a TIFF may differ in size: read each frame's own header.
    const m =
      index === 0
        ? meta
        : await sharp(file, { page: index, limitInputPixels: false })
            .metadata()
            .catch((e: unknown) => {
              throw corrupt(file, e, index);
            });
    const width = m.width ?? 0;
    const height = m.height ?? 0;
    if (!width || !height) throw corrupt(file, new Error('no image size'), index);
    if (width * height > limits.maxPixels) {
      throw err(
        'OCR_IMAGE_TOO_LARGE',
        `图像过大（${width}×${height} 像素，上限 ${Math.round(limits.maxPixels / 1e6)} 百万像素），疑似解压炸弹`,
        `image too large (${width}x${height} px > ${limits.maxPixels}), possible decompression bomb`,
        file,
        { page: index + 1, width, height },
      );
    }
    const channels: 1 | 3 = (m.channels ?? 1) >= 3 && m.space !== 'b-w' ? 3 : 1;
    const comp = comps[index] ?? 1;
    out.push({
      file,
      index,
      kind: 'raster',
      width,
      height,
      dpi: sensibleDpi(m.density, width, height),
      channels,
      jpeg: kind === 'jpeg' && (m.orientation ?? 1) === 1 ? () => readFile(file) : undefined,
      lossy: kind === 'jpeg' || comp === 6 || comp === 7 || comp === 34712,
      pixels: async () => {
        try {
          let img = sharp(file, { page: index, limitInputPixels: limits.maxPixels, failOn: 'error' });
          // A JPEG with an EXIF rotation is shown upright by viewers: OCR (and re-encode) it that way.
          if (kind === 'jpeg') img = img.autoOrient();
          img = channels === 3 ? img.removeAlpha().toColourspace('srgb') : img.greyscale();
          const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
          return { data, width: info.width, height: info.height, channels: info.channels === 3 ? 3 : 1 };
        } catch (e) {
          throw corrupt(file, e, index);
        }
      },
    });
  }
  return out;
}

function pdfImages(page: PDFPage): PDFRawStream[] {
  const res = page.node.Resources();
  const xo = res?.lookup(PDFName.of('XObject'));
  if (!(xo instanceof PDFDict)) return [];
  const out: PDFRawStream[] = [];
  for (const [, ref] of xo.entries()) {
    const s = page.doc.context.lookup(ref);
    if (s instanceof PDFRawStream && s.dict.get(PDFName.of('Subtype')) === PDFName.of('Image')) out.push(s);
  }
  return out;
}

function isPlainJpeg(s: PDFRawStream): boolean {
  const f = s.dict.lookup(PDFName.of('Filter'));
  const filters = f instanceof PDFArray ? f.asArray() : [f];
  const cs = s.dict.lookup(PDFName.of('ColorSpace'));
  return (
    filters.length === 1 &&
    filters[0] === PDFName.of('DCTDecode') &&
    (cs === PDFName.of('DeviceGray') || cs === PDFName.of('DeviceRGB')) &&
    !s.dict.has(PDFName.of('Decode')) &&
    !s.dict.has(PDFName.of('SMask'))
  );
}

const num = (d: PDFDict, key: string): number => {
  const v = d.lookup(PDFName.of(key));
  return v instanceof PDFNumber ? v.asNumber() : 0;
};

/** Rasterise one PDF page with poppler at the given DPI (grey when the page's scan is grey). */
async function pdftoppm(file: string, page: number, dpi: number, grey: boolean): Promise<Pixels> {
  const args = ['-r', String(dpi), '-f', String(page + 1), '-l', String(page + 1), ...(grey ? ['-gray'] : [])];
  const { stdout } = await run('pdftoppm', [...args, file], { encoding: 'buffer', maxBuffer: 1 << 30 });
  const m = /^P([56])\s+(\d+)\s+(\d+)\s+255\s/.exec(stdout.subarray(0, 64).toString('latin1'));
  if (!m) throw new Error('pdftoppm gave no image');
  const width = Number(m[2]);
  const height = Number(m[3]);
  const channels = m[1] === '5' ? 1 : 3;
  return { data: stdout.subarray(m[0].length, m[0].length + width * height * channels), width, height, channels };
}

/** Per-page text of a PDF (pdftotext splits pages with form feeds). */
async function pdfPageTexts(file: string): Promise<string[]> {
  const { stdout } = await run('pdftotext', ['-q', '-enc', 'UTF-8', file, '-'], { maxBuffer: 1 << 28 });
  return stdout.split('\f');
}

async function openPdf(file: string, buf: Buffer, limits: DecodeLimits): Promise<PageSource[]> {
  let doc: PDFDocument;
  try {
    doc = await PDFDocument.load(buf, { updateMetadata: false });
  } catch (e) {
    if (/encrypted/i.test(String(e))) throw err('OCR_INPUT_ENCRYPTED', 'PDF 已加密，无法处理', 'encrypted PDF', file);
    throw corrupt(file, e);
  }
  let pages: PDFPage[];
  try {
    pages = doc.getPages();
  } catch (e) {
    throw corrupt(file, e);
  }
  if (pages.length === 0) throw corrupt(file, new Error('no pages'));
  if (pages.length > limits.maxPages) throw err('OCR_TOO_MANY_PAGES', `页数过多（${pages.length} 页，上限 ${limits.maxPages} 页）`, `too many pages (${pages.length} > ${limits.maxPages})`, file);
  let texts: string[];
  try {
    texts = await pdfPageTexts(file);
  } catch (e) {
    throw corrupt(file, e);
  }
  try {
    const at = { hint: 0 };
    return pages.map((page, index) => pdfPageSource(file, buf, at, page, index, texts[index] ?? '', limits));
  } catch (e) {
    if (e instanceof ApplianceError) throw e;
    throw corrupt(file, e);
  }
}

/**
 * Where a stream's bytes lie in the file. Given a Buffer, pdf-lib hands out views into it, and the
 * offset is read off. Otherwise (a copy) the bytes are found by their middle (scanners' JPEG
 * headers are all alike), searching on from the last page's image, and checked byte for byte, so
 * what is read back later is exactly these bytes wherever they were found.
 */
function locate(buf: Buffer, bytes: Uint8Array, at: { hint: number }): number | undefined {
  const len = bytes.length;
  // pdf-lib hands out views into the buffer it parsed when given a Buffer: the offset is exact.
  if (bytes.buffer === buf.buffer) {
    const start = bytes.byteOffset - buf.byteOffset;
    if (start >= 0 && start + len <= buf.length) return start;
  }
  const mid = Math.floor(len / 2);
  const probe = Buffer.from(bytes.buffer, bytes.byteOffset + mid, Math.min(64, len - mid));
  for (const from of [at.hint, 0]) {
    for (let i = buf.indexOf(probe, from + mid); i >= 0; i = buf.indexOf(probe, i + 1)) {
      const start = i - mid;
      if (start >= 0 && buf.subarray(start, start + len).equals(bytes)) {
        at.hint = start + len;
        return start;
      }
    }
  }
  return undefined;
}

async function readRange(file: string, start: number, length: number): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const b = await readAt(fh, start, length);
    if (b.length !== length) throw new Error('file shorter than when it was opened');
    return b;
  } finally {
    await fh.close();
  }
}

function pdfPageSource(file: string, buf: Buffer, at: { hint: number }, page: PDFPage, index: number, pageText: string, limits: DecodeLimits): PageSource {
  {
    const { width: wPt, height: hPt } = page.getSize();
    const hasText = pageText.replace(/\s+/g, '').length >= 8;
    const images = pdfImages(page).sort((a, b) => num(b.dict, 'Width') * num(b.dict, 'Height') - num(a.dict, 'Width') * num(a.dict, 'Height'));
    const main = images[0];
    const imgW = main ? num(main.dict, 'Width') : 0;
    const imgH = main ? num(main.dict, 'Height') : 0;
    // The scan's own resolution: its pixels over the page's width in inches.
    const native = imgW > 0 && wPt > 0 ? Math.round(imgW / (wPt / 72)) : 0;
    const dpi = hasText ? 150 : native >= 100 && native <= 1200 ? native : 300;
    const width = Math.round((wPt / 72) * dpi);
    const height = Math.round((hPt / 72) * dpi);
    if (width * height > limits.maxPixels || imgW * imgH > limits.maxPixels) {
      throw err('OCR_IMAGE_TOO_LARGE', `第 ${index + 1} 页过大，疑似解压炸弹`, `page ${index + 1} too large, possible decompression bomb`, file, { page: index + 1, width, height });
    }
    const grey = main ? main.dict.lookup(PDFName.of('ColorSpace')) === PDFName.of('DeviceGray') : false;
    const dct = !hasText && images.length === 1 && main && isPlainJpeg(main) && Math.abs(imgW / imgH - wPt / hPt) < 0.01 && page.getRotation().angle % 360 === 0 ? main.contents : undefined;
    // The page keeps only where its JPEG lies, not the bytes: a 500-page PDF's images stay on disk.
    const start = dct ? locate(buf, dct, at) : undefined;
    const length = dct?.length ?? 0;
    // Only plain values from here on: a closure that kept the page or its image stream would keep
    // the whole parsed file (pdf-lib's streams are views into it) for as long as the page source.
    const renderGrey = grey || !main;
    const jpeg = dct && start !== undefined ? () => readRange(file, start, length) : undefined;
    return {
      file,
      index,
      pdfPage: index,
      kind: hasText ? 'pdf-text' : 'raster',
      width: jpeg ? imgW : width,
      height: jpeg ? imgH : height,
      dpi,
      channels: renderGrey ? 1 : 3,
      jpeg,
      lossy: Boolean(main && isPlainJpeg(main)),
      pixels: async () => {
        try {
          if (jpeg) {
            const { data, info } = await sharp(await jpeg(), { limitInputPixels: limits.maxPixels, failOn: 'error' })
              .raw()
              .toBuffer({ resolveWithObject: true });
            return { data, width: info.width, height: info.height, channels: info.channels === 3 ? 3 : 1 };
          }
          return await pdftoppm(file, index, dpi, renderGrey);
        } catch (e) {
          throw corrupt(file, e, index);
        }
      },
    };
  }
}

/**
 * Open every input and list its pages, reading headers only, so a corrupt file, a decompression
 * bomb or an unsupported format is refused before any page is OCR'd.
 */
export async function openInputs(files: string[], limits: DecodeLimits = DEFAULT_LIMITS): Promise<PageSource[]> {
  const all: PageSource[] = [];
  for (const file of files) {
    let size: number;
    try {
      size = (await stat(file)).size;
    } catch {
      throw err('OCR_INPUT_MISSING', '文件不存在或无法读取', 'input file not found or unreadable', file);
    }
    if (size === 0) throw err('OCR_INPUT_EMPTY', '文件为空（0 字节）', 'empty file (0 bytes)', file);
    const head = await open(file, 'r').then(async (fh) => {
      try {
        return await readAt(fh, 0, 1024);
      } finally {
        await fh.close();
      }
    });
    const kind = sniff(head);
    if (!kind) {
      // A .jpg that is not a JPEG is a damaged scan (truncated copy, bad sector), not a format the
      // archivist chose: tell them to scan it again, not that the format is unsupported.
      if (SCAN_EXT.test(file)) throw err('OCR_INPUT_CORRUPT', '文件已损坏（内容不是有效的扫描图像）', 'corrupt file (content is not a valid scan image)', file);
      throw err('OCR_INPUT_UNSUPPORTED', '不支持的文件格式（支持 JPEG、PNG、TIFF、PDF）', 'unsupported file format (JPEG, PNG, TIFF, PDF are supported)', file);
    }
    // A PDF is parsed whole once here (pdf-lib), then let go; images are read page by page.
    const pages = kind === 'pdf' ? await openPdf(file, await readFile(file), limits) : await openImage(file, size, kind, limits);
    all.push(...pages);
    if (all.length > limits.maxPages) throw err('OCR_TOO_MANY_PAGES', `页数过多（上限 ${limits.maxPages} 页）`, `too many pages (> ${limits.maxPages})`, file);
  }
  return all;
}
