// OCR workers let go of their language files once started (worker-memory.ts): with real
// tesseract.js, the file is gone from the worker's in-memory file system, the worker still reads,
// removing it twice does no harm, and the pool's recognition and orientation workers still work.
import { join } from 'node:path';
import sharp from 'sharp';
import Tesseract from 'tesseract.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOcrPool, type OcrPool } from '../../ingest/ocr/pool.ts';
import { ensureLangDir } from '../../ingest/ocr/lang-dir.ts';
import { dropLanguageFiles } from '../../ingest/ocr/worker-memory.ts';
import { cleanup, SHARED, tempDir } from '../support/appliance.ts';
import { drawPage } from '../support/synthetic-page.ts';

const LINES = ['关于库房温湿度检查的通知', '各科室请于本月底前完成档案整理工作', '二〇一四年十二月五日'];
const squash = (s: string) => s.replace(/\s+/g, '');

let dir: string;
let page: Buffer;
beforeAll(async () => {
  dir = await tempDir('ocr-worker-memory-');
  page = (await drawPage(LINES, { width: 1400, fontPx: 50 })).png;
});
afterAll(async () => {
  if (dir) await cleanup(dir);
});

describe('a started worker lets go of its language file (real tesseract.js)', () => {
  let w: Tesseract.Worker | undefined;
  afterAll(async () => {
    await w?.terminate();
  });

  it('the file is gone from the worker, which reads as before; removing it again does no harm', async () => {
    // As the pool starts its workers (errorHandler: a failed job rejects, it does not throw).
    const langPath = ensureLangDir(join(dir, 'lang'), ['chi_sim']);
    w = await Tesseract.createWorker(['chi_sim'], Tesseract.OEM.LSTM_ONLY, { langPath, gzip: true, cacheMethod: 'none', errorHandler: () => undefined });
    const files = async () => (await w!.FS('readdir', ['/'])).data as unknown as string[];
    expect(await files()).toContain('chi_sim.traineddata');
    await dropLanguageFiles(w, ['chi_sim']);
    expect(await files()).not.toContain('chi_sim.traineddata');
    const first = await w.recognize(page);
    expect(squash(first.data.text)).toContain(LINES[0]);
    // Already gone: logged, not thrown; the worker goes on reading.
    await dropLanguageFiles(w, ['chi_sim']);
    const again = await w.recognize(page);
    expect(squash(again.data.text)).toBe(squash(first.data.text));
  }, 180_000);
});

describe('the pool reads and finds orientation with its workers started this way (real tesseract.js)', () => {
  let pool: OcrPool;
  beforeAll(async () => {
    pool = await createOcrPool({ workers: 1, lang: 'chi_sim', cacheDir: join(dir, 'pool') });
  }, 120_000);
  afterAll(async () => {
    await pool?.close();
  });

  it('a page read twice reads the same; a sample page turned a quarter is found turned (the orientation worker)', async () => {
    const a = await pool.recognise(page, { dpi: 300 });
    const b = await pool.recognise(page, { dpi: 300 });
    const text = (p: Tesseract.Page) => squash((p.blocks ?? []).map((bl) => bl.text).join(''));
    expect(text(a)).toContain(LINES[1]);
    expect(text(b)).toBe(text(a));
    const sideways = await sharp(join(SHARED, 'samples/items/S0008/page-002.jpg')).rotate(90).jpeg({ quality: 90 }).toBuffer();
    const o = await pool.detectOrientation(sideways, 300);
    expect(o.degrees).toBe(270);
  }, 240_000);
});
