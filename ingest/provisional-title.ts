import { extname } from 'node:path';
import type { IntakeMetadata } from './jobs.ts';

const SCAN_EXT = /^\.(jpe?g|png|tiff?|pdf)$/i;

/**
 * An item that arrives without a 题名 (no CSV, or a CSV row without one) would show as an opaque id
 * and nothing about it could be searched. The name it was given — the file or folder name, without
 * the scan extension — becomes its provisional 题名 (indexed like any title), and the item is
 * marked 待著录 so the archivist finds it on the 著录 page.
 */
export function provisionalTitle(label: string, md: IntakeMetadata): { title?: string; cataloguePending?: true } {
  if (md.title?.trim()) return {};
  const base = label.split(/[\\/]/).filter(Boolean).at(-1) ?? label;
  const ext = extname(base);
  const title = (SCAN_EXT.test(ext) ? base.slice(0, -ext.length) : base).trim();
  return title ? { title: title.slice(0, 500), cataloguePending: true } : { cataloguePending: true };
}
