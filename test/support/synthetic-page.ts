import sharp from 'sharp';

/**
 * A page drawn with known character positions, for checking character boxes against something
 * other than the OCR: every character is placed on its own (SVG text in WenQuanYi Zen Hei, which
 * fonts-wqy-zenhei installs), so the ink of character i lies inside its own cell, and the reference
 * box of a character is the ink measured inside its cell on the rendered page.
 */

export interface SyntheticChar {
  ch: string;
  line: number;
  /** The ink box in page pixels (top-left origin), measured on the rendered page. */
  box: { x0: number; y0: number; x1: number; y1: number };
}

export interface SyntheticPage {
  /** Grey PNG of the page. */
  png: Buffer;
  width: number;
  height: number;
  dpi: number;
  lines: string[];
  chars: SyntheticChar[];
}

const WIDE = /[\p{Script=Han}\u3000-\u303f\uff00-\uffef\u2018-\u201f]/u;
const esc = (c: string) => c.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export async function drawPage(lines: string[], opts: { width?: number; dpi?: number; fontPx?: number; left?: number; top?: number; leading?: number } = {}): Promise<SyntheticPage> {
  const width = opts.width ?? 2000;
  const dpi = opts.dpi ?? 300;
  const size = opts.fontPx ?? 50;
  const left = opts.left ?? 150;
  const top = opts.top ?? 200;
  const leading = opts.leading ?? Math.round(size * 1.9);
  const height = top * 2 + leading * lines.length;
  const cells: Array<{ ch: string; line: number; x0: number; x1: number; y0: number; y1: number }> = [];
  const texts: string[] = [];
  lines.forEach((line, li) => {
    let x = left;
    const base = top + li * leading + size;
    for (const ch of line) {
      const adv = WIDE.test(ch) ? Math.round(size * 1.08) : Math.round(size * 0.58);
      if (ch !== ' ') {
        texts.push(`<text x="${x}" y="${base}">${esc(ch)}</text>`);
        cells.push({ ch, line: li, x0: x, x1: x + adv, y0: base - Math.round(size * 1.1), y1: base + Math.round(size * 0.35) });
      }
      x += adv;
    }
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="#fff"/><g font-family="WenQuanYi Zen Hei" font-size="${size}" fill="#000">${texts.join('')}</g></svg>`;
  const { data, info } = await sharp(Buffer.from(svg), { density: 72 }).greyscale().raw().toBuffer({ resolveWithObject: true });
  const chars: SyntheticChar[] = [];
  for (const c of cells) {
    let x0 = Infinity;
    let y0 = Infinity;
    let x1 = -1;
    let y1 = -1;
    for (let y = Math.max(0, c.y0); y < Math.min(info.height, c.y1); y++) {
      for (let x = c.x0; x < Math.min(info.width, c.x1); x++) {
        if (data[y * info.width * info.channels + x * info.channels] < 128) {
          if (x < x0) x0 = x;
          if (x + 1 > x1) x1 = x + 1;
          if (y < y0) y0 = y;
          if (y + 1 > y1) y1 = y + 1;
        }
      }
    }
    if (x1 < 0) throw new Error(`no ink drawn for ${c.ch}: is fonts-wqy-zenhei installed?`);
    chars.push({ ch: c.ch, line: c.line, box: { x0, y0, x1, y1 } });
  }
  const png = await sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } })
    .greyscale()
    .withMetadata({ density: dpi })
    .png()
    .toBuffer();
  return { png, width: info.width, height: info.height, dpi, lines, chars };
}

/** Intersection over union of two boxes. */
export function iou(a: { x0: number; y0: number; x1: number; y1: number }, b: { x0: number; y0: number; x1: number; y1: number }): number {
  const ix = Math.max(0, Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0));
  const iy = Math.max(0, Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0));
  const inter = ix * iy;
  const area = (r: typeof a) => Math.max(0, r.x1 - r.x0) * Math.max(0, r.y1 - r.y0);
  const u = area(a) + area(b) - inter;
  return u > 0 ? inter / u : 0;
}

/** The union of some characters' boxes (a phrase on one line). */
export function unionOf(boxes: Array<{ x0: number; y0: number; x1: number; y1: number }>): { x0: number; y0: number; x1: number; y1: number } {
  return { x0: Math.min(...boxes.map((b) => b.x0)), y0: Math.min(...boxes.map((b) => b.y0)), x1: Math.max(...boxes.map((b) => b.x1)), y1: Math.max(...boxes.map((b) => b.y1)) };
}
