// The items of bench/backup.ts and bench/restore.ts: `targetMb` of 8-page items whose scans and
// page images are random bytes behind a JPEG header (incompressible, like real scan data), stored
// through the real item store. Returns how many items were made.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PDFDocument } from 'pdf-lib';
import type { ItemMetadata, PageText } from '../core/index.ts';
import { newItemId } from '../ingest/intake.ts';
import type { ItemStore } from '../ingest/index.ts';

const PAGE_BYTES = 480 * 1024; // a 300-DPI A4 grey JPEG
const PAGES = 8;

function jpegish(n: number): Buffer {
  const b = randomBytes(n);
  b[0] = 0xff;
  b[1] = 0xd8;
  b[2] = 0xff;
  return b;
}

export async function fillStore(store: ItemStore, root: string, targetMb: number): Promise<number> {
  const d = await PDFDocument.create();
  for (let i = 0; i < PAGES; i++) d.addPage([595, 842]);
  const pdf = Buffer.from(await d.save());
  let written = 0;
  let n = 0;
  process.stderr.write(`generating ~${targetMb} MB of items in ${root} …\n`);
  while (written < targetMb * 1e6) {
    n++;
    const itemId = newItemId();
    const dir = join(root, 'stage', itemId);
    await mkdir(join(dir, 'original'), { recursive: true });
    await mkdir(join(dir, 'pages'));
    const scan = jpegish(PAGE_BYTES * 2);
    await writeFile(join(dir, 'original', 'scan.tif'), scan);
    const text: PageText[] = [];
    for (let p = 1; p <= PAGES; p++) {
      await writeFile(join(dir, 'pages', `${String(p).padStart(4, '0')}.jpg`), jpegish(PAGE_BYTES));
      text.push({ page: p, width: 2480, height: 3508, dpi: 300, rotation: 0, text: `第${p}页`, confidence: 90, lines: [], source: 'ocr' });
    }
    await writeFile(join(dir, 'text.json'), JSON.stringify(text));
    await writeFile(join(dir, 'document.pdf'), pdf);
    const now = new Date().toISOString();
    const meta: ItemMetadata = {
      itemId,
      archivalCode: `J012-2014-Y-BGS-${String(n).padStart(4, '0')}`,
      classification: '内部',
      posts: ['BGS-KY'],
      pageCount: PAGES,
      originals: [{ name: 'scan.tif', sha256: createHash('sha256').update(scan).digest('hex'), bytes: scan.length }],
      createdAt: now,
      updatedAt: now,
    };
    await store.putItem({ meta, dir });
    written += scan.length + PAGES * PAGE_BYTES + pdf.length;
  }
  await rm(join(root, 'stage'), { recursive: true, force: true });
  return n;
}
