import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PDFDocument } from 'pdf-lib';
import sharp from 'sharp';
import type { SyntheticPage } from './synthetic-page.ts';

/** The drawn page as each kind of scan the appliance takes: JPEG, PNG, TIFF and an image-only PDF. */
export async function writeInputs(page: SyntheticPage, dir: string, base = 'page'): Promise<Record<'jpeg' | 'png' | 'tiff' | 'pdf-image', string>> {
  const grey = () => sharp(page.png).greyscale().withMetadata({ density: page.dpi });
  const jpeg = await grey().jpeg({ quality: 92 }).toBuffer();
  const files = {
    jpeg: join(dir, `${base}.jpg`),
    png: join(dir, `${base}.png`),
    tiff: join(dir, `${base}.tif`),
    'pdf-image': join(dir, `${base}-scan.pdf`),
  };
  await writeFile(files.jpeg, jpeg);
  await writeFile(files.png, page.png);
  await writeFile(
    files.tiff,
    await grey()
      .tiff({ compression: 'lzw', xres: page.dpi / 25.4, yres: page.dpi / 25.4 })
      .toBuffer(),
  );
  // A scanner's PDF: one JPEG per page at the page's physical size.
  const doc = await PDFDocument.create();
  const img = await doc.embedJpg(jpeg);
  const k = 72 / page.dpi;
  const p = doc.addPage([page.width * k, page.height * k]);
  p.drawImage(img, { x: 0, y: 0, width: page.width * k, height: page.height * k });
  await writeFile(files['pdf-image'], await doc.save());
  return files;
}
