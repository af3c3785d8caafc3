// Input checks, text normalisation, CER and rotation geometry: no OCR engine needed, so fast.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PDFDocument, PDFName, PDFRawStream } from 'pdf-lib';
import { crc32, deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { isApplianceError } from '../../core/errors.ts';
import { openInputs } from '../../ingest/index.ts';
import { cer } from '../../ingest/ocr/cer.ts';
import { normaliseText } from '../../ingest/ocr/tidy-text.ts';
import { sensibleDpi } from '../../ingest/ocr/decode.ts';
import { turnGeometry, turnImage } from '../../ingest/ocr/orient.ts';
import { tidyChinese } from '../../ingest/ocr/recognise.ts';
import type { OcrWord } from '../../core/item.ts';
import { SHARED, tempDir } from '../support/appliance.ts';

const ITEMS = join(SHARED, 'samples/items');

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

function bombPng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // 8-bit grey, no interlace
  const rows = deflateSync(Buffer.alloc((width + 1) * 64, 0));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', rows), chunk('IEND', Buffer.alloc(0))]);
}

async function codeOf(p: Promise<unknown>): Promise<{ code: string; zh: string }> {
  try {
    await p;
  } catch (e) {
    if (isApplianceError(e)) return { code: e.code, zh: e.zh };
    throw e;
  }
  throw new Error('expected a rejection');
}

describe('OCR input decoding', () => {
  it('opens every sample format with its pages, size and DPI', async () => {
    const tif = await openInputs([join(ITEMS, 'S0007.tif')]);
    expect(tif.map((p) => [p.width, p.height, p.dpi, p.channels, p.lossy])).toEqual([
      [1654, 2339, 200, 1, true],
      [1654, 2339, 200, 1, true],
    ]);
    const lzw = await openInputs([join(ITEMS, 'S0001.tif')]);
    expect(lzw.map((p) => [p.dpi, p.channels, p.lossy])).toEqual([
      [300, 3, false],
      [300, 3, false],
    ]);
    const [jpg] = await openInputs([join(ITEMS, 'S0003/page-001.jpg')]);
    expect(await jpg.jpeg?.()).toEqual(await readFile(join(ITEMS, 'S0003/page-001.jpg')));
    const pdf = await openInputs([join(ITEMS, 'S0005.pdf')]);
    expect(pdf.map((p) => [p.kind, p.width, p.height, p.dpi, Boolean(p.jpeg)])).toEqual([
      ['raster', 2480, 3508, 300, true],
      ['raster', 2480, 3508, 300, true],
    ]);
    // The DCT stream copied out of the PDF decodes to the page's pixels.
    const px = await pdf[0].pixels();
    expect([px.width, px.height, px.channels]).toEqual([2480, 3508, 3]);
    // Each page's JPEG is read from the file when asked for, byte for byte the PDF's image stream.
    const doc = await PDFDocument.load(await readFile(join(ITEMS, 'S0005.pdf')));
    const streams = doc.context
      .enumerateIndirectObjects()
      .map(([, o]) => o)
      .filter((o): o is PDFRawStream => o instanceof PDFRawStream && o.dict.get(PDFName.of('Subtype')) === PDFName.of('Image'))
      .map((o) => Buffer.from(o.contents).toString('base64'));
    for (const p of pdf) expect(streams).toContain(Buffer.from((await p.jpeg?.()) ?? []).toString('base64'));
    expect((await pdf[0].jpeg?.())?.length).toBeGreaterThan(10_000);
  });

  it('guesses DPI sensibly when the file has none', () => {
    expect(sensibleDpi(undefined, 2480, 3508)).toBe(300);
    expect(sensibleDpi(72, 1654, 2339)).toBe(200);
    expect(sensibleDpi(0, 1000, 1000)).toBe(300);
    expect(sensibleDpi(400, 10, 10)).toBe(400);
  });

  it('rejects empty, corrupt, unsupported, bomb and too-long inputs with clear codes', async () => {
    const dir = await tempDir('ocr-bad-');
    const empty = join(dir, 'empty.jpg');
    await writeFile(empty, '');
    expect(await codeOf(openInputs([empty]))).toMatchObject({ code: 'OCR_INPUT_EMPTY', zh: expect.stringContaining('文件为空') });

    expect((await codeOf(openInputs([join(dir, 'missing.png')]))).code).toBe('OCR_INPUT_MISSING');

    const text = join(dir, 'notes.txt');
    await writeFile(text, '这不是图像');
    expect((await codeOf(openInputs([text]))).code).toBe('OCR_INPUT_UNSUPPORTED');
    // A .jpg whose bytes are no image at all is a damaged scan, not an unsupported format (issue 22).
    const notJpeg = join(dir, '关于召开会议的通知.jpg');
    await writeFile(notJpeg, '这不是图像，是损坏的扫描件');
    expect(await codeOf(openInputs([notJpeg]))).toMatchObject({ code: 'OCR_INPUT_CORRUPT', zh: expect.stringContaining('文件已损坏') });

    // A JPEG cut off after its header: the header opens, the pixels do not.
    const jpeg = await readFile(join(ITEMS, 'S0003/page-001.jpg'));
    const cut = join(dir, 'cut.jpg');
    await writeFile(cut, jpeg.subarray(0, 20_000));
    const [cutPage] = await openInputs([cut]);
    expect((await codeOf(cutPage.pixels())).code).toBe('OCR_INPUT_CORRUPT');

    const garbage = join(dir, 'garbage.png');
    await writeFile(garbage, Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64, 7)]));
    expect((await codeOf(openInputs([garbage]))).code).toBe('OCR_INPUT_CORRUPT');

    const badPdf = join(dir, 'bad.pdf');
    await writeFile(badPdf, '%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n');
    expect((await codeOf(openInputs([badPdf]))).code).toBe('OCR_INPUT_CORRUPT');

    // Decompression bomb: a PNG declaring 20000 x 20000 grey pixels (400 MP) in a few hundred bytes.
    const bomb = join(dir, 'bomb.png');
    await writeFile(bomb, bombPng(20_000, 20_000));
    const b = await codeOf(openInputs([bomb]));
    expect(b.code).toBe('OCR_IMAGE_TOO_LARGE');
    expect(b.zh).toContain('解压炸弹');

    // A PDF bomb: one page of 200 x 200 inches.
    const big = await PDFDocument.create();
    big.addPage([200 * 72, 200 * 72]);
    const bigPdf = join(dir, 'big.pdf');
    await writeFile(bigPdf, await big.save());
    expect((await codeOf(openInputs([bigPdf]))).code).toBe('OCR_IMAGE_TOO_LARGE');

    const many = await PDFDocument.create();
    for (let i = 0; i < 5; i++) many.addPage([595, 842]);
    const manyPdf = join(dir, 'many.pdf');
    await writeFile(manyPdf, await many.save());
    expect((await codeOf(openInputs([manyPdf], { maxPixels: 100e6, maxPages: 4 }))).code).toBe('OCR_TOO_MANY_PAGES');
  });
});

describe('OCR text normalisation and CER', () => {
  it('removes spaces around Chinese and punctuation, keeps them between Latin words, keeps punctuation as printed', () => {
    // OCR's ASCII marks beside Chinese are the full-width ones printed; 12345,PC and 3.5 stay narrow;
    // full-width letters and digits are the half-width ones they print as.
    expect(normaliseText('关 于 推 进 档 案 , 5 月 12 日\n\n 登 录 QQ 12345 , PC 机 ： Ｖ４.８')).toBe('关于推进档案，5月12日\n登录QQ 12345，PC机：V4.8');
    expect(normaliseText('经 研 究 , 决 定 ( 试 行 ) : 增 长 3.5 % . 见 " 通 知 " ; 好 吗 ?')).toBe('经研究，决定（试行）：增长3.5%。见“通知”；好吗？');
    // In a Chinese line a comma or colon between Latin and digits was printed wide; a URL keeps its own.
    expect(normaliseText('联 系 电 话 : 0851-8740001,QQ:820050376')).toBe('联系电话：0851-8740001，QQ：820050376');
    expect(normaliseText('登 录 地 址 : http://10.2.63.235:9000/oa , 共 1,000 份')).toBe('登录地址：http://10.2.63.235:9000/oa，共1,000份');
    expect(normaliseText('2014 年 3 月')).toBe('2014年3月');
    expect(normaliseText('Hello  world')).toBe('Hello world');
  });

  it('computes CER over code points ignoring whitespace and width', () => {
    expect(cer('关于 推进', '关于推进')).toBe(0);
    expect(cer('关于推进,', '关于推进，')).toBe(0);
    expect(cer('关于推近', '关于推进')).toBeCloseTo(0.25);
    expect(cer('', '关于')).toBe(1);
  });
});

describe('Chinese print fixes on OCR words', () => {
  const word = (text: string, confidence = 90): OcrWord => ({
    text,
    confidence,
    box: { x0: 0, y0: 0, x1: 1, y1: 1 },
    symbols: [...text].map((c) => ({ text: c, confidence, box: { x0: 0, y0: 0, x1: 1, y1: 1 } })),
  });
  const tidy = (...ws: OcrWord[]) => {
    tidyChinese(ws);
    return ws.map((w) => w.text).join('|');
  };
  it('fixes periods, leading specks, rules, stray quotes and document-number brackets', () => {
    expect(tidy(word('执'), word('行'), word('.'))).toBe('执|行|。');
    expect(tidy(word('V4'), word('.'), word('8'))).toBe('V4|.|8');
    expect(tidy(word('如'), word('下'), word('-'))).toBe('如|下|。');
    expect(tidy(word('下'), word('。'), word(':'), word('-'))).toBe('下|。|:');
    expect(tidy(word('e'), word('-'))).toBe('e|-');
    expect(tidy(word(','), word('第'), word('三'))).toBe('第|三');
    // A half-width mark joined to what follows at a line's start is a web address or a number
    // wrapped there, and stays.
    expect(tidy(word('.cn。'), word('各级'))).toBe('.cn。|各级');
    expect(tidy(word('如'), word('下'), word('|'))).toBe('如|下');
    expect(tidy(word('第'), word('二'), word('章'), word('“', 60), word('公'))).toBe('第|二|章|公');
    expect(tidy(word('“', 60), word('公'), word('文'), word('”'))).toBe('“|公|文|”');
    expect(tidy(word('发'), word('[2021]18'), word('号'))).toBe('发|〔2021〕18|号');
    expect(tidy(word('发'), word('['), word('2021'), word(']'), word('18'))).toBe('发|〔|2021|〕|18');
  });
});

describe('rotation geometry', () => {
  it('maps points on a turned image back to the original scan', async () => {
    // A black dot at (30,10) on a 100x50 white image, turned 90° clockwise and then by 2°.
    const w = 100;
    const h = 50;
    const data = Buffer.alloc(w * h, 255);
    for (let y = 8; y < 12; y++) for (let x = 28; x < 32; x++) data[y * w + x] = 0;
    for (const deg of [90, 180, 270, 88, -1.5]) {
      const { pixels, turn } = await turnImage({ data, width: w, height: h, channels: 1 }, deg);
      let sx = 0;
      let sy = 0;
      let n = 0;
      for (let y = 0; y < pixels.height; y++)
        for (let x = 0; x < pixels.width; x++)
          if (pixels.data[y * pixels.width + x] < 128) {
            sx += x + 0.5;
            sy += y + 0.5;
            n++;
          }
      const [ox, oy] = turn.toOriginal(sx / n, sy / n);
      expect(Math.abs(ox - 30)).toBeLessThan(1.5);
      expect(Math.abs(oy - 10)).toBeLessThan(1.5);
    }
    expect(turnGeometry(10, 20, 0, 10, 20).toOriginal(3, 4)).toEqual([3, 4]);
  });
});
