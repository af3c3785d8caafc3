import sharp from 'sharp';
import type { Pixels } from './decode.ts';

/**
 * 3×3 median of a grey image (a copy; libvips' rank filter). On a dusty page (despeckle.ts
 * `isDusty`) it takes the smallest specks off and shrinks the rest, above all those the despeckler
 * had to leave because they touch or crowd a character; a stroke two pixels or more across stays.
 */
export async function median3(px: Pixels): Promise<Pixels> {
  if (px.channels !== 1) throw new Error('median3 needs a grey image');
  const data = await sharp(px.data, { raw: { width: px.width, height: px.height, channels: 1 } })
    .median(3)
    .extractChannel(0)
    .raw()
    .toBuffer();
  return { data, width: px.width, height: px.height, channels: 1 };
}
