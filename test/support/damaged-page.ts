import sharp, { type Sharp } from 'sharp';
import { seeded } from './prng.ts';

/**
 * Pages rendered from known text in any installed font (SVG text through librsvg and fontconfig),
 * then damaged the way paper scans are: skew, blur, noise, speckle, stains, a dark shadow along
 * the binding edge, uneven background, low contrast, JPEG. The text is the ground truth; every
 * damage is seeded, so a page is the same on every run. Used by bench/ocr-set (the generated
 * bench set) and by tests that need a line damaged on purpose.
 */

export interface PageLine {
  /** The printed text (ground truth); for a table row, the cells joined by a space. */
  text: string;
  /** Table row: cells drawn at their own x (page pixels); `text` is then the cells joined. */
  cells?: Array<{ text: string; x: number }>;
  /** Font size in pixels (default the page's). */
  size?: number;
  /** Left edge in pixels, or 'center'. Default the page margin. */
  x?: number | 'center';
  font?: string;
  bold?: boolean;
}

export interface PageLayout {
  width: number;
  height: number;
  dpi: number;
  font: string;
  size: number;
  /** Baseline-to-baseline distance in pixels. */
  leading: number;
  top: number;
  left: number;
}

export interface RenderedPage {
  /** Grey pixels, one byte per pixel. */
  data: Buffer;
  width: number;
  height: number;
  dpi: number;
  /** Per line, the band it occupies (y0..y1 in pixels). */
  bands: Array<{ y0: number; y1: number }>;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export async function renderPage(lines: PageLine[], layout: PageLayout): Promise<RenderedPage> {
  const parts: string[] = [];
  const bands: RenderedPage['bands'] = [];
  let base = layout.top;
  for (const l of lines) {
    const size = l.size ?? layout.size;
    base += Math.round(Math.max(layout.leading, size * 1.6) * (size > layout.size ? 1.2 : 1));
    const font = `font-family="${l.font ?? layout.font}" font-size="${size}"${l.bold ? ' font-weight="bold"' : ''}`;
    if (l.cells) for (const c of l.cells) parts.push(`<text x="${c.x}" y="${base}" ${font}>${esc(c.text)}</text>`);
    else if (l.x === 'center') parts.push(`<text x="${layout.width / 2}" y="${base}" text-anchor="middle" ${font}>${esc(l.text)}</text>`);
    else parts.push(`<text x="${l.x ?? layout.left}" y="${base}" ${font} xml:space="preserve">${esc(l.text)}</text>`);
    bands.push({ y0: base - Math.round(size * 1.05), y1: base + Math.round(size * 0.3) });
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${layout.width}" height="${layout.height}"><rect width="100%" height="100%" fill="#fff"/><g fill="#000">${parts.join('')}</g></svg>`;
  const { data, info } = await sharp(Buffer.from(svg), { density: 72 }).greyscale().raw().toBuffer({ resolveWithObject: true });
  const grey = info.channels === 1 ? data : Buffer.from(Array.from({ length: info.width * info.height }, (_, i) => data[i * info.channels]));
  return { data: grey, width: info.width, height: info.height, dpi: layout.dpi, bands };
}

export interface Damage {
  /** Rotation in degrees (clockwise), paper colour filling the corners. */
  skewDeg?: number;
  /** Gaussian blur sigma in pixels. */
  blur?: number;
  /** Sensor noise, standard deviation in grey levels. */
  noise?: number;
  /** Dark specks per million pixels (radius 1-3). */
  speckles?: number;
  /** Stains: darkened ellipses (tea, damp). */
  stains?: number;
  /** A dark shadow along the binding edge: its side, width in pixels and darkest grey at the edge. */
  shadow?: { side: 'left' | 'right'; width: number; darkest: number };
  /** Uneven background: how much the paper darkens across the page (0..1). */
  uneven?: number;
  /** Ink and paper grey levels (low contrast: e.g. ink 120, paper 200). */
  contrast?: { ink: number; paper: number };
  /** Encode as JPEG at this quality (default PNG). */
  jpeg?: number;
  /** Damage only these bands (y0..y1); default the whole page. */
  band?: { y0: number; y1: number };
}

/** Seeded pseudo-random numbers (mulberry32), kept here for bench/ocr-set. */
export { seeded };

function gauss(rnd: () => number): number {
  return Math.sqrt(-2 * Math.log(rnd() || 1e-9)) * Math.cos(2 * Math.PI * rnd());
}

/** Damage a rendered page; returns the encoded image (PNG, or JPEG when asked) with its DPI. */
export async function damagePage(page: RenderedPage, d: Damage, seed: number): Promise<Buffer> {
  const rnd = seeded(seed);
  const { width: w, height: h } = page;
  const px: Buffer = Buffer.from(page.data);
  const y0 = d.band ? Math.max(0, d.band.y0) : 0;
  const y1 = d.band ? Math.min(h, d.band.y1) : h;
  if (d.blur) {
    const blurred = await sharp(px, { raw: { width: w, height: h, channels: 1 } })
      .blur(d.blur)
      .extractChannel(0)
      .raw()
      .toBuffer();
    blurred.copy(px, y0 * w, y0 * w, y1 * w);
  }
  const ink = d.contrast?.ink ?? 0;
  const paper = d.contrast?.paper ?? 255;
  const stains = Array.from({ length: d.stains ?? 0 }, () => ({ cx: rnd() * w, cy: y0 + rnd() * (y1 - y0), rx: 80 + rnd() * 260, ry: 60 + rnd() * 200, k: 0.55 + rnd() * 0.3 }));
  const sh = d.shadow;
  for (let y = y0; y < y1; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      let v = ink + (px[i] / 255) * (paper - ink);
      if (d.uneven) v *= 1 - d.uneven * (0.5 * (x / w) + 0.5 * (y / h)) * (0.6 + 0.4 * Math.sin((x + y) / (w * 0.35)));
      for (const s of stains) {
        const r = ((x - s.cx) / s.rx) ** 2 + ((y - s.cy) / s.ry) ** 2;
        if (r < 1) v *= s.k + (1 - s.k) * r * r;
      }
      if (sh) {
        const dist = sh.side === 'left' ? x : w - 1 - x;
        if (dist < sh.width) {
          const t = 1 - dist / sh.width;
          v *= 1 - (1 - sh.darkest / 255) * t * t;
        }
      }
      if (d.noise) v += gauss(rnd) * d.noise;
      px[i] = Math.max(0, Math.min(255, Math.round(v)));
    }
  }
  const specks = Math.round(((d.speckles ?? 0) * w * (y1 - y0)) / 1e6);
  for (let k = 0; k < specks; k++) {
    const cx = Math.floor(rnd() * w);
    const cy = y0 + Math.floor(rnd() * (y1 - y0));
    const r = 1 + Math.floor(rnd() * 3);
    const grey = Math.floor(rnd() * 60);
    for (let y = Math.max(0, cy - r); y <= Math.min(h - 1, cy + r); y++)
      for (let x = Math.max(0, cx - r); x <= Math.min(w - 1, cx + r); x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) px[y * w + x] = grey;
  }
  let img = sharp(px, { raw: { width: w, height: h, channels: 1 } });
  if (d.skewDeg) {
    // Sharp rotates the whole canvas; the corners take the paper's colour.
    const bg = Math.round(paper * (1 - (d.uneven ?? 0) * 0.25));
    img = sharp(
      await img
        .rotate(d.skewDeg, { background: { r: bg, g: bg, b: bg } })
        .png()
        .toBuffer(),
    );
  }
  return finish(img, d, page.dpi);
}

async function finish(img: Sharp, d: Damage, dpi: number): Promise<Buffer> {
  const out = img.extractChannel(0).toColourspace('b-w').withMetadata({ density: dpi });
  return d.jpeg ? out.jpeg({ quality: d.jpeg }).toBuffer() : out.png({ compressionLevel: 6 }).toBuffer();
}
