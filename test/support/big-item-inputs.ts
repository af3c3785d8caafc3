import { open } from 'node:fs/promises';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { PdfStreamWriter } from '../../ingest/pdf/pdf-stream-writer.ts';
import { drawPage } from './synthetic-page.ts';

/**
 * Large scanned items made at test time: a multi-page TIFF and an image-only PDF of hundreds of
 * pages, and one big high-resolution scan. Written page by page, so making them needs no more
 * memory than a page either.
 */

export interface GreyPage {
  data: Buffer;
  width: number;
  height: number;
}

/** The words drawn on page n of a big item: its number and a phrase; `late` marks the one page that carries the phrase a test looks for. */
export function bigItemLine(n: number, late: number, phrase: string): string {
  const common = ['会议纪要', '工作总结', '人事任免', '财务报告', '档案移交'];
  return n === late ? `第${n}页${phrase}` : `第${n}页${common[n % common.length]}`;
}

/** One page drawn with its line of text, grey, then padded to the given size. */
export async function drawGreyPage(line: string, o: { width: number; height: number; fontPx: number; dpi: number }): Promise<GreyPage> {
  return fitPage(await drawPage([line], { width: o.width, fontPx: o.fontPx, left: o.fontPx, top: o.fontPx }).then((p) => p.png), o.width, o.height);
}

/** A drawn page as grey pixels of exactly this size: white added below, or cut off. */
async function fitPage(png: Buffer, width: number, height: number): Promise<GreyPage> {
  const meta = await sharp(png).metadata();
  const grown = await sharp(png)
    .greyscale()
    .extend({ bottom: Math.max(0, height - (meta.height ?? 0)), right: Math.max(0, width - (meta.width ?? 0)), background: '#ffffff' })
    .png({ compressionLevel: 1 })
    .toBuffer();
  const { data, info } = await sharp(grown).extract({ left: 0, top: 0, width, height }).greyscale().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/**
 * A multi-page grey TIFF, one Deflate-compressed strip per page (what many scanners write, and a
 * lossless input: the PDF gets PNG-Flate images). Written as it goes: header, then per page its
 * strip and its directory.
 */
export async function writeMultiPageTiff(file: string, pages: AsyncIterable<GreyPage>, dpi: number): Promise<number> {
  const fh = await open(file, 'w');
  try {
    let pos = 0;
    const put = async (b: Buffer) => {
      await fh.write(b, 0, b.length, pos);
      pos += b.length;
    };
    const header = Buffer.alloc(8);
    header.write('II', 0, 'latin1');
    header.writeUInt16LE(42, 2);
    await put(header);
    let prevNextPtr = 4; // where the offset of the next directory goes
    let count = 0;
    for await (const p of pages) {
      const strip = deflateSync(p.data, { level: 6 });
      const stripAt = pos;
      await put(strip);
      if (pos % 2) await put(Buffer.alloc(1));
      const rational = Buffer.alloc(8);
      rational.writeUInt32LE(dpi, 0);
      rational.writeUInt32LE(1, 4);
      const resAt = pos;
      await put(rational);
      const tags: Array<[number, number, number, number]> = [
        // [tag, type (3 SHORT, 4 LONG, 5 RATIONAL), count, value]
        [254, 4, 1, 2], // a page of a multi-page document
        [256, 4, 1, p.width],
        [257, 4, 1, p.height],
        [258, 3, 1, 8],
        [259, 3, 1, 8], // Adobe Deflate
        [262, 3, 1, 1], // black is zero
        [273, 4, 1, stripAt],
        [277, 3, 1, 1],
        [278, 4, 1, p.height],
        [279, 4, 1, strip.length],
        [282, 5, 1, resAt],
        [283, 5, 1, resAt],
        [296, 3, 1, 2], // inches
      ];
      const ifd = Buffer.alloc(2 + tags.length * 12 + 4);
      ifd.writeUInt16LE(tags.length, 0);
      tags.forEach(([tag, type, n, value], i) => {
        const e = 2 + i * 12;
        ifd.writeUInt16LE(tag, e);
        ifd.writeUInt16LE(type, e + 2);
        ifd.writeUInt32LE(n, e + 4);
        if (type === 3) ifd.writeUInt16LE(value, e + 8);
        else ifd.writeUInt32LE(value, e + 8);
      });
      const ifdAt = pos;
      await put(ifd);
      const ptr = Buffer.alloc(4);
      ptr.writeUInt32LE(ifdAt, 0);
      await fh.write(ptr, 0, 4, prevNextPtr);
      prevNextPtr = ifdAt + 2 + tags.length * 12;
      count++;
    }
    return count;
  } finally {
    await fh.close();
  }
}

/** An image-only PDF as a scanner makes it: one JPEG per page at the page's physical size. */
export async function writeImagePdf(file: string, pages: AsyncIterable<GreyPage>, dpi: number, quality = 85): Promise<number> {
  const w = await PdfStreamWriter.create(file);
  try {
    for await (const p of pages) {
      const jpeg = await sharp(p.data, { raw: { width: p.width, height: p.height, channels: 1 } })
        .jpeg({ quality })
        .toBuffer();
      const doc = await w.scratch();
      const img = await doc.embedJpg(jpeg);
      const k = 72 / dpi;
      const page = doc.addPage([p.width * k, p.height * k]);
      page.drawImage(img, { x: 0, y: 0, width: p.width * k, height: p.height * k });
      await w.add(doc);
    }
    const n = w.pageCount;
    await w.finish({ producer: 'test scanner' });
    return n;
  } catch (e) {
    await w.abort();
    throw e;
  }
}

/**
 * One A4 page at 600 DPI in colour (4960 × 7016), a few lines of text and a faint scanner noise
 * that makes it compress like a real scan: a TIFF of about 50 MB.
 */
export async function write600DpiScan(file: string, lines: string[]): Promise<void> {
  const width = 4960;
  const height = 7016;
  const page = await drawPage(lines, { width, fontPx: 120, left: 300, top: 300 });
  const base = (await fitPage(page.png, width, height)).data;
  // Paper tone and noise, row by row, in three channels.
  const rgb = Buffer.allocUnsafe(width * height * 3);
  let seed = 12345;
  for (let i = 0; i < width * height; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const v = Math.max(0, Math.min(255, base[i] - 24 + ((seed >> 16) % 25)));
    rgb[i * 3] = v;
    rgb[i * 3 + 1] = Math.max(0, v - 4);
    rgb[i * 3 + 2] = Math.max(0, v - 10);
  }
  await sharp(rgb, { raw: { width, height, channels: 3 } })
    .tiff({ compression: 'lzw', xres: 600 / 25.4, yres: 600 / 25.4 })
    .toFile(file);
}

/**
 * A4 at 300 DPI: a paper-toned, noisy sheet (so its JPEG is the size of a real scan's) with a few
 * lines of text. Ten different sheets are drawn and repeated, so making 500 takes seconds, not minutes.
 */
export async function* a4ScanPages(count: number): AsyncGenerator<GreyPage> {
  const width = 2480;
  const height = 3508;
  const paper = Buffer.allocUnsafe(width * height);
  let seed = 7;
  for (let i = 0; i < paper.length; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    paper[i] = 236 + ((seed >> 16) % 8);
  }
  const sheets: Buffer[] = [];
  for (let n = 1; n <= Math.min(10, count); n++) {
    const text = await drawPage([`第${n}页 关于库房温湿度检查的通知`, '各科室：请于本月底前完成档案整理工作。', `二〇一四年第${n}号`], { width: 1800, fontPx: 50 });
    sheets.push(
      await sharp(paper, { raw: { width, height, channels: 1 } })
        .composite([{ input: text.png, left: 300, top: 300, blend: 'multiply' }])
        .greyscale()
        .raw()
        .toBuffer(),
    );
  }
  for (let n = 0; n < count; n++) yield { data: sheets[n % sheets.length], width, height };
}
