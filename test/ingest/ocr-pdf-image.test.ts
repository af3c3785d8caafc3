// The image that goes into the searchable PDF and the viewer: a grey page saved as RGB (every
// pixel's three channels equal) is stored in one channel with the same pixels; a page with any
// colour stays in colour, its pixels unchanged; the recogniser's grey copy is the same either way.
// Real sharp (decode and encode), no OCR.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openInputs, type Pixels } from '../../ingest/ocr/decode.ts';
import { greyIfColourless, pdfImage } from '../../ingest/ocr/page-session.ts';
import { toGrey } from '../../ingest/ocr/recognise.ts';
import { cleanup, tempDir } from '../support/appliance.ts';

let dir: string;
beforeAll(async () => {
  dir = await tempDir('ocr-pdf-image-');
});
afterAll(async () => {
  if (dir) await cleanup(dir);
});

/** An RGB page: grey strokes on paper, one pixel tinted when `tint`. */
function page(tint: boolean): Pixels {
  const width = 300;
  const height = 200;
  const data = Buffer.alloc(width * height * 3, 250);
  for (let y = 40; y < 160; y++) for (let x = 30; x < 270; x += 7) data.fill(((x * 13 + y) % 120) + 10, (y * width + x) * 3, (y * width + x) * 3 + 3);
  if (tint) data[(199 * width + 299) * 3 + 2] = 200;
  return { data, width, height, channels: 3 };
}

/** The stored image's channel count and its pixels as stored (sharp would widen grey to RGB unless told). */
const rawOf = async (bytes: Uint8Array) => {
  const { channels } = await sharp(bytes).metadata();
  const img = sharp(bytes);
  return { channels, data: await (channels === 1 ? img.toColourspace('b-w') : img).raw().toBuffer() };
};

describe('greyIfColourless', () => {
  it('takes one channel of a page whose channels are equal everywhere, and leaves a page with one coloured pixel as it is', () => {
    const grey = page(false);
    const out = greyIfColourless(grey);
    expect(out.channels).toBe(1);
    expect(out.data.length).toBe(grey.width * grey.height);
    for (let i = 0; i < out.data.length; i += 97) expect(out.data[i]).toBe(grey.data[i * 3]);
    const colour = page(true);
    expect(greyIfColourless(colour)).toBe(colour);
  });

  it('gives the recogniser the very pixels it read before: the grey conversion of (v, v, v) is v for every v', async () => {
    const n = 256 * 16;
    const rgb = Buffer.alloc(n * 3);
    for (let i = 0; i < n; i++) rgb.fill(i % 256, i * 3, i * 3 + 3);
    const px: Pixels = { data: rgb, width: 256, height: 16, channels: 3 };
    expect((await toGrey(px)).data.equals(greyIfColourless(px).data)).toBe(true);
  });
});

describe('pdfImage', () => {
  it('stores a grey page saved as RGB in one channel with every pixel the same; a colour page stays RGB, pixels unchanged', async () => {
    for (const tint of [false, true]) {
      const px = page(tint);
      const file = join(dir, `page-${tint}.png`);
      await writeFile(
        file,
        await sharp(px.data, { raw: { width: px.width, height: px.height, channels: 3 } })
          .png()
          .toBuffer(),
      );
      const [src] = await openInputs([file]);
      const scan = await src.pixels();
      const { image, viewer } = await pdfImage(src, scan);
      expect(image.kind).toBe('png');
      if (image.kind !== 'png') continue;
      const { data, channels } = await rawOf(image.bytes);
      expect(channels).toBe(tint ? 3 : 1);
      // The same pixels: the grey image's value is each pixel's (equal) channels.
      if (tint) expect(data.equals(scan.data)).toBe(true);
      else for (let i = 0; i < data.length; i++) if (data[i] !== scan.data[i * scan.channels]) expect.fail(`pixel ${i} differs`);
      expect((await sharp(viewer).metadata()).format).toBe('jpeg');
    }
  });
});
