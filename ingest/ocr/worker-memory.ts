import type Tesseract from 'tesseract.js';
import { log } from '../../core/index.ts';

/**
 * A started tesseract.js worker keeps each language's traineddata (chi_sim: 44 MB unpacked) as a
 * file in its in-memory file system, on top of the model Tesseract built from it in its own heap;
 * it is read once, by the worker's initialisation, and never again (the pool never re-initialises a
 * worker: a replaced worker is a new one). Removing the file lets the worker's JavaScript heap give
 * back that copy and the unpacked buffer it was written from (measured with bench/ocr-memory.ts: two
 * workers' four 43 MB buffers gone). Memory only: a failure is logged and the worker kept.
 */
export async function dropLanguageFiles(w: Tesseract.Worker, langs: string[]): Promise<void> {
  for (const l of langs) {
    try {
      await w.FS('unlink', [`${l}.traineddata`]);
    } catch (e) {
      log().warn({ err: e instanceof Error ? e.message : JSON.stringify(e), lang: l }, 'OCR worker: language file not removed from its memory');
    }
  }
}
