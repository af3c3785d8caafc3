import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ItemMetadata, PageText } from '../../core/item.ts';
import { newItemId } from '../../ingest/intake.ts';

export interface StageOptions {
  pages?: number;
  /** Original files: name and content (random bytes when omitted). */
  originals?: Array<{ name: string; bytes?: Buffer }>;
  meta?: Partial<ItemMetadata>;
  /** Page texts (page n gets texts[n-1]; `第n页` when omitted). */
  texts?: string[];
}

/**
 * Lay out an item the way the ingest runner does (original/, pages/NNNN.jpg, text.json,
 * document.pdf) in a fresh folder under parent, with matching metadata. Content is random:
 * the store checks layout and hashes, not image formats.
 */
export async function stageItem(parent: string, opts: StageOptions = {}): Promise<{ dir: string; meta: ItemMetadata }> {
  const itemId = opts.meta?.itemId ?? newItemId();
  const dir = join(parent, `staged-${itemId}`);
  const pages = opts.pages ?? 2;
  await mkdir(join(dir, 'original'), { recursive: true });
  await mkdir(join(dir, 'pages'), { recursive: true });
  const originals = [];
  for (const o of opts.originals ?? [{ name: 'scan.tif' }]) {
    const bytes = o.bytes ?? randomBytes(2048);
    await writeFile(join(dir, 'original', o.name), bytes);
    originals.push({ name: o.name, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length });
  }
  const text: PageText[] = [];
  for (let n = 1; n <= pages; n++) {
    await writeFile(join(dir, 'pages', `${String(n).padStart(4, '0')}.jpg`), Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), randomBytes(500)]));
    text.push({ page: n, width: 100, height: 100, dpi: 300, rotation: 0, text: opts.texts?.[n - 1] ?? `第${n}页`, confidence: 90, lines: [], source: 'ocr' });
  }
  await writeFile(join(dir, 'text.json'), JSON.stringify(text));
  await writeFile(join(dir, 'document.pdf'), Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(300)]));
  const now = new Date().toISOString();
  const meta: ItemMetadata = { itemId, classification: '内部', posts: ['BGS-KY'], pageCount: pages, originals, createdAt: now, updatedAt: now, ...opts.meta };
  return { dir, meta };
}
