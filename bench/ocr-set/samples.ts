import { readFile, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** One item to read and its ground truth: files in page order, printed lines per page. */
export interface BenchItem {
  id: string;
  files: string[];
  /** Per page, the printed lines. */
  lines: string[][];
  /** What the page was made of (generated set: font and damage), for the tables. */
  labels?: string[];
}

export const SAMPLES = resolve(import.meta.dirname, '../../../shared/samples');

/** The shared sample items (../shared/samples) with their ground truth. */
export async function sampleItems(dir = SAMPLES): Promise<BenchItem[]> {
  const out: BenchItem[] = [];
  for (const f of (await readdir(join(dir, 'gt'))).sort()) {
    const gt = JSON.parse(await readFile(join(dir, 'gt', f), 'utf8')) as { item_id: string; files: string[]; pages: Array<{ lines: string[] }> };
    out.push({ id: gt.item_id, files: gt.files.map((x) => join(dir, 'items', x)), lines: gt.pages.map((p) => p.lines) });
  }
  return out;
}
