import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Tesseract from 'tesseract.js';
import { ApplianceError, log } from '../../core/index.ts';
import { ensureLangDir } from './lang-dir.ts';
import { dropLanguageFiles } from './worker-memory.ts';

/** The part of tesseract.js's result this engine reads (blocks: block → paragraph → line → word → symbol). */
export type TessPage = Tesseract.Page;

export interface OcrPoolOptions {
  /** Recognition workers, one per core (config ocr.workers). */
  workers: number;
  /** Languages joined by '+', e.g. chi_sim+eng (config ocr.lang). */
  lang: string;
  /** Where the language folder of symlinks lives; default a folder under the OS temp dir. */
  cacheDir?: string;
  /** A page that takes longer than this is abandoned and its worker replaced (default 180 s). */
  pageTimeoutMs?: number;
}

export interface Orientation {
  /** Clockwise rotation that makes the page upright. */
  degrees: 0 | 90 | 180 | 270;
  confidence: number;
}

export interface OcrPool {
  readonly size: number;
  readonly lang: string;
  /** Recognise one page image (encoded bytes, e.g. PGM). */
  recognise(image: Uint8Array, params: { dpi: number; psm?: string }): Promise<TessPage>;
  /**
   * Where the recogniser's layout analysis puts the text lines of a page (their boxes), without
   * reading them: a fraction of a reading's cost.
   */
  layoutLines(image: Uint8Array, params: { dpi: number; psm?: string }): Promise<LineBox[]>;
  /** Orientation and script detection (Tesseract OSD, legacy engine; one lazily started worker). */
  detectOrientation(image: Uint8Array, dpi: number): Promise<Orientation>;
  close(): Promise<void>;
}

type Worker = Tesseract.Worker;

export interface LineBox {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/**
 * Options that keep tesseract.js on the machine: language data from a local folder (never the CDN
 * it falls back to without langPath), no cache copies written to the working directory, and an
 * errorHandler so a failed job rejects its promise instead of throwing an uncaught exception. The
 * worker script and wasm core are resolved by tesseract.js from node_modules in Node (workerPath
 * and corePath defaults are local files); images are always passed as bytes, never as URLs.
 */
function workerOptions(langPath: string, extra: Partial<Tesseract.WorkerOptions> = {}): Partial<Tesseract.WorkerOptions> {
  return {
    langPath,
    gzip: true,
    cacheMethod: 'none',
    errorHandler: (e: unknown) => log().debug({ err: String(e) }, 'tesseract job failed'),
    ...extra,
  };
}

export async function createOcrPool(opts: OcrPoolOptions): Promise<OcrPool> {
  const langs = opts.lang.split('+');
  const cacheDir = opts.cacheDir ?? join(tmpdir(), `archive-ocr-${process.getuid?.() ?? 0}`);
  const langPath = ensureLangDir(cacheDir, [...langs, 'osd']);
  const timeoutMs = opts.pageTimeoutMs ?? 180_000;
  const startTimeoutMs = 120_000;

  // tesseract.js may never settle createWorker when language data fails to load: bound the wait.
  const spawn = async (): Promise<Worker> => {
    let timer: NodeJS.Timeout | undefined;
    const starting = Tesseract.createWorker(langs, Tesseract.OEM.LSTM_ONLY, workerOptions(langPath));
    try {
      const w = await Promise.race([
        starting,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${startTimeoutMs} ms`)), startTimeoutMs);
        }),
      ]);
      await dropLanguageFiles(w, langs);
      return w;
    } catch (e) {
      void starting.then(
        (w) => w.terminate(),
        () => undefined,
      );
      throw new ApplianceError('OCR_ENGINE_START', `OCR 引擎无法启动：${String(e)}`, `OCR engine failed to start: ${String(e)}`, { status: 500 });
    } finally {
      clearTimeout(timer);
    }
  };

  const idle: Worker[] = await Promise.all(Array.from({ length: Math.max(1, opts.workers) }, spawn));
  const all = new Set<Worker>(idle);
  const waiting: Array<(w: Worker) => void> = [];
  let closed = false;
  let osd: Promise<Worker> | undefined;
  let osdQueue: Promise<unknown> = Promise.resolve();

  const acquire = (): Promise<Worker> => {
    if (closed) return Promise.reject(new ApplianceError('OCR_POOL_CLOSED', 'OCR 引擎已关闭', 'OCR pool is closed', { status: 500 }));
    const w = idle.pop();
    return w ? Promise.resolve(w) : new Promise((res) => waiting.push(res));
  };
  const release = (w: Worker): void => {
    const next = waiting.shift();
    if (next) next(w);
    else idle.push(w);
  };

  async function withTimeout<T>(w: Worker, job: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((res) => {
      timer = setTimeout(() => res('timeout'), timeoutMs);
    });
    try {
      const r = await Promise.race([job, timeout]);
      if (r === 'timeout') {
        all.delete(w);
        void w.terminate().catch(() => undefined);
        return { ok: false, error: new ApplianceError('OCR_TIMEOUT', `页面识别超时（超过 ${Math.round(timeoutMs / 1000)} 秒）`, `page OCR timed out after ${timeoutMs} ms`, { status: 500 }) };
      }
      return { ok: true, value: r as T };
    } catch (error) {
      return { ok: false, error };
    } finally {
      clearTimeout(timer);
    }
  }

  /** One job on a free worker (a worker that times out is replaced). */
  async function run(image: Uint8Array, params: { dpi: number; psm?: string }, output: Partial<Tesseract.OutputFormats>): Promise<Tesseract.Page> {
    const w = await acquire();
    const job = w.recognize(
      Buffer.from(image.buffer, image.byteOffset, image.byteLength),
      {
        user_defined_dpi: String(Math.round(params.dpi)),
        tessedit_pageseg_mode: (params.psm ?? '3') as Tesseract.PSM,
        // Tesseract's diagnostics ("Detected 120 diacritics") would otherwise land on our stdout,
        // in the middle of a console command's --json output.
        debug_file: '/dev/null',
      } as unknown as Partial<Tesseract.RecognizeOptions>,
      output,
    );
    const r = await withTimeout(w, job);
    if (all.has(w)) release(w);
    else if (!closed)
      spawn().then(
        (nw) => {
          all.add(nw);
          release(nw);
        },
        (e: unknown) => log().error({ err: String(e) }, 'OCR worker replacement failed'),
      );
    if (!r.ok) {
      if (r.error instanceof ApplianceError) throw r.error;
      throw new ApplianceError('OCR_FAILED', `页面识别失败：${String(r.error)}`, `page OCR failed: ${String(r.error)}`, { status: 422 });
    }
    return r.value.data;
  }

  return {
    size: idle.length,
    lang: opts.lang,
    recognise: (image, params) => run(image, params, { text: false, blocks: true }),
    async layoutLines(image, params) {
      // Every output that needs recognition off: tesseract.js then runs the layout analysis alone.
      // The layout comes back as blocks of the reading's shape, their lines and words without text.
      const page = (await run(image, params, { text: false, blocks: false, layoutBlocks: true })) as TessPage & { layoutBlocks?: Tesseract.Block[] | null };
      return (page.layoutBlocks ?? []).flatMap((b) => (b.paragraphs ?? []).flatMap((p) => (p.lines ?? []).map((l) => ({ ...l.bbox }))));
    },
    detectOrientation(image, dpi) {
      osd ??= Tesseract.createWorker('osd', Tesseract.OEM.TESSERACT_ONLY, workerOptions(langPath, { legacyCore: true, legacyLang: true })).then(async (w) => {
        await dropLanguageFiles(w, ['osd']);
        return w;
      });
      // One OSD worker: detection jobs run one at a time.
      const run = osdQueue.then(async () => {
        const w = await osd!;
        await w.setParameters({ user_defined_dpi: String(Math.round(dpi)), debug_file: '/dev/null' } as unknown as Partial<Tesseract.WorkerParams>);
        const r = await w.detect(Buffer.from(image.buffer, image.byteOffset, image.byteLength));
        const d = r.data as { orientation_degrees: number | null; orientation_confidence: number | null };
        const deg = d.orientation_degrees;
        return { degrees: (deg === 90 || deg === 180 || deg === 270 ? deg : 0) as Orientation['degrees'], confidence: d.orientation_confidence ?? 0 };
      });
      osdQueue = run.catch(() => undefined);
      return run;
    },
    async close() {
      closed = true;
      const ws = [...all];
      all.clear();
      await Promise.all(ws.map((w) => w.terminate().catch(() => undefined)));
      if (osd) await osd.then((w) => w.terminate()).catch(() => undefined);
    },
  };
}
