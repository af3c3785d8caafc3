/**
 * Speckle (dust, toner dots, a dirty platen) removed from the recogniser's copy of a page by
 * connected components, sized by the page's own print rather than by fixed pixel counts.
 *
 * The ink (darker than `INK` on the flattened page) is cut into runs per row and the runs joined
 * into 8-connected components. From the components the page's print is measured: its stroke width
 * (the median run length inside characters) and its character height (the upper quartile of the
 * heights of character-sized components). A component is a speck when it is small against those
 * (`speckLimits`) AND lies outside the neighbourhood of the characters: further than about a
 * character to the side, or a fifth of one above or below, from every character-sized component.
 * So a full stop, a comma, a 、, the dots of a colon or of 氵 and the dot over 亠 — all beside or
 * inside characters — stay however small they are, while the specks between lines, in the margins
 * and in the gaps at the ends of lines go. Among the characters, a small speck with no other ink
 * within a third of a character all round (in the gap between table cells or words) goes too,
 * unless a partner makes it punctuation (the other dot of a colon, the comma of a semicolon, the
 * next dot of an ellipsis, or a glyph beside it whose foot is level with it: a full stop or a
 * decimal point on the baseline, set in a wide cell of a monospaced font), or, off a dusty page, a
 * glyph within a character on either side with the mark below their top third (a 、 or ， between
 * two words: PDF、OFD; `BETWEEN_WORDS`). A speck touching a character, or in the narrow gap between
 * two, stays: nothing on the page tells it from a dot of the character or from a 、.
 * On a dusty page (`DUSTY_PER_MP`) chance partners are everywhere, so the partners must fit print
 * closely and other specks do not count as ink beside a speck: on the generated sets' speckled
 * pages this halved the marks read from specks.
 */

/** On the flattened page (paper about 255), darker than this is ink. */
export const INK = 150;

export interface SpeckStats {
  /** Components found, and how many were removed as specks. */
  components: number;
  removed: number;
  /** Of those, specks among the characters (isolated in a gap of a line). */
  inLines: number;
  /** Small components per million pixels (removed or not): how speckled the page is. */
  smallPerMp: number;
  /** Specks removed away from the characters per million pixels: how dusty the page is. */
  awayPerMp: number;
  /** Measured stroke width and character height in pixels (0 when the page had no characters). */
  stroke: number;
  charHeight: number;
}

/**
 * A dusty page: this many specks or more per million pixels removed away from the characters (in
 * the margins and between lines). Measured on the samples at most 18, on the generated sets' pages
 * without speckle 0-2, with light speckle on a faded page 76-131, with heavy speckle 272-344. On a
 * dusty page chance specks lie beside every speck, so the partners that keep a small dot as
 * punctuation must fit print closely (see `removeSpecks`); on other pages that would cost real
 * marks for nothing.
 */
export const DUSTY_PER_MP = 50;
/** Is the page dusty (its specks measured by `removeSpecks`)? */
export function isDusty(s: SpeckStats | undefined): boolean {
  return !!s && s.awayPerMp >= DUSTY_PER_MP;
}

/**
 * Specks a megapixel removed away from the characters from which a dusty page is densely speckled:
 * specks then lie on and beside every few characters, and every line is read again (recognise.ts).
 * Measured over the generated sets of seeds 0-3: the 'speckle' pages 272-344, the faded pages with
 * lighter speckle 76-131.
 */
export const SPECKLED_PER_MP = 200;
export function isSpeckled(s: SpeckStats | undefined): boolean {
  return !!s && s.awayPerMp >= SPECKLED_PER_MP;
}

/** On a dusty page, a full stop or decimal point lies at most this many character heights beside its glyph. */
const DUSTY_SIDE = 0.6;
/**
 * A small mark with a glyph within this much (in characters) on either side, below the top third of
 * both and not below their feet, is punctuation between two words: a 、 between Latin words
 * (PDF、OFD) leaves more than a third of a character blank round it. Measured on the generated sets'
 * blurred UKai page, where the 、 (13×12 px, its foot blurred away) went as a speck 0.95 of a
 * character from F's stem and 0.55 from O.
 */
const BETWEEN_WORDS = 1;

export interface SpeckOptions {
  /** Apply the dusty page's stricter partners when the page is dusty (default); false only to measure what they bring. */
  dustyRules?: boolean;
}

/** Components as runs of ink per row, joined by union-find. */
interface Components {
  runY: Int32Array;
  runX0: Int32Array;
  runX1: Int32Array;
  /** Component (root run index) of each run. */
  root: Int32Array;
  n: number;
}

function findRuns(px: Buffer, w: number, h: number): Components {
  let cap = 1 << 16;
  let runY = new Int32Array(cap);
  let runX0 = new Int32Array(cap);
  let runX1 = new Int32Array(cap);
  let parent = new Int32Array(cap);
  let n = 0;
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]];
      i = parent[i];
    }
    return i;
  };
  let prevStart = 0;
  let prevEnd = 0;
  for (let y = 0; y < h; y++) {
    const off = y * w;
    const start = n;
    let x = 0;
    let p = prevStart;
    while (x < w) {
      if (px[off + x] >= INK) {
        x++;
        continue;
      }
      const x0 = x;
      while (x < w && px[off + x] < INK) x++;
      const x1 = x - 1;
      if (n === cap) {
        cap *= 2;
        const grow = (a: Int32Array) => {
          const b = new Int32Array(cap);
          b.set(a);
          return b;
        };
        runY = grow(runY);
        runX0 = grow(runX0);
        runX1 = grow(runX1);
        parent = grow(parent);
      }
      runY[n] = y;
      runX0[n] = x0;
      runX1[n] = x1;
      parent[n] = n;
      // Runs of the row above touching this one (8-connected: one pixel diagonally counts).
      while (p < prevEnd && runX1[p] < x0 - 1) p++;
      for (let q = p; q < prevEnd && runX0[q] <= x1 + 1; q++) {
        const a = find(q);
        const b = find(n);
        if (a !== b) parent[Math.max(a, b)] = Math.min(a, b);
      }
      n++;
    }
    prevStart = start;
    prevEnd = n;
  }
  const root = new Int32Array(n);
  for (let i = 0; i < n; i++) root[i] = find(i);
  return { runY, runX0, runX1, root, n };
}

/** The size below which a component may be a speck, from the page's stroke width (pixels). */
export function speckLimits(stroke: number, charHeight: number): { area: number; side: number } {
  // A speck is a blot about a stroke or two across; anything larger, or half a character long, is print.
  return { area: Math.round(4 * stroke * stroke), side: Math.max(3, Math.min(Math.round(2.5 * stroke), Math.round(charHeight * 0.4))) };
}

/**
 * Remove specks from `px` (grey, paper white; changed in place). `dpi` only sets the floor of what
 * counts as a character when the page is nearly empty.
 */
export function removeSpecks(px: Buffer, w: number, h: number, dpi: number, opts: SpeckOptions = {}): SpeckStats {
  const c = findRuns(px, w, h);
  const { runY, runX0, runX1, root, n } = c;
  // Per component (indexed by its root run): area and box.
  const area = new Int32Array(n);
  const bx0 = new Int32Array(n).fill(w);
  const by0 = new Int32Array(n).fill(h);
  const bx1 = new Int32Array(n).fill(-1);
  const by1 = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    const r = root[i];
    area[r] += runX1[i] - runX0[i] + 1;
    if (runX0[i] < bx0[r]) bx0[r] = runX0[i];
    if (runX1[i] > bx1[r]) bx1[r] = runX1[i];
    if (runY[i] < by0[r]) by0[r] = runY[i];
    if (runY[i] > by1[r]) by1[r] = runY[i];
  }
  const roots: number[] = [];
  for (let i = 0; i < n; i++) if (root[i] === i) roots.push(i);
  const k = dpi / 300;
  // Character-sized: at least a third of a 10-point character high or wide at this resolution.
  const minChar = Math.max(6, Math.round(14 * k));
  const isChar = (r: number) => Math.max(bx1[r] - bx0[r], by1[r] - by0[r]) + 1 >= minChar && area[r] >= minChar * 2;
  // Histograms of run lengths inside characters and of character heights, for their quantiles.
  const lens = new Float64Array(w + 1);
  const heights = new Float64Array(h + 1);
  let chars = 0;
  for (let i = 0; i < n; i++) if (isChar(root[i])) lens[runX1[i] - runX0[i] + 1]++;
  for (const r of roots)
    if (isChar(r)) {
      heights[by1[r] - by0[r] + 1]++;
      chars++;
    }
  const stats: SpeckStats = { components: roots.length, removed: 0, inLines: 0, smallPerMp: 0, awayPerMp: 0, stroke: 0, charHeight: 0 };
  if (chars < 10) return stats;
  const stroke = (stats.stroke = quantile(lens, 0.5));
  const charH = (stats.charHeight = quantile(heights, 0.75));
  const lim = speckLimits(stroke, charH);
  const small = (r: number) => area[r] <= lim.area && Math.max(bx1[r] - bx0[r], by1[r] - by0[r]) + 1 <= lim.side;
  // Where characters are: a grid of cells, each marked when it lies within a character's
  // neighbourhood (its box grown by a character sideways and a fifth of one up and down).
  const cell = Math.max(4, Math.round(stroke * 2));
  const gw = Math.ceil(w / cell);
  const gh = Math.ceil(h / cell);
  const near = new Uint8Array(gw * gh);
  const dx = Math.round(charH);
  const dy = Math.round(charH * 0.2);
  let smallCount = 0;
  for (const r of roots) {
    if (small(r)) {
      smallCount++;
      continue;
    }
    const cx0 = Math.max(0, Math.floor((bx0[r] - dx) / cell));
    const cx1 = Math.min(gw - 1, Math.floor((bx1[r] + dx) / cell));
    const cy0 = Math.max(0, Math.floor((by0[r] - dy) / cell));
    const cy1 = Math.min(gh - 1, Math.floor((by1[r] + dy) / cell));
    for (let y = cy0; y <= cy1; y++) near.fill(1, y * gw + cx0, y * gw + cx1 + 1);
  }
  stats.smallPerMp = Math.round((smallCount * 1e6) / (w * h));
  // A dusty page (decided below, from the specks away from the characters): chance specks lie
  // beside every speck there, so a partner must fit print closely (a colon's dots one above the
  // other, an ellipsis's dots three in a row, a full stop close beside its glyph) and only print,
  // not another speck, counts as ink near a speck among the characters.
  let dusty = false;
  // Dots and commas, and glyphs (a character or digit high), by a grid of about a character.
  const dotLike = (r: number) => area[r] <= 3 * lim.area && Math.max(bx1[r] - bx0[r], by1[r] - by0[r]) + 1 <= 2 * lim.side;
  const pc = Math.max(4, charH);
  const pw = Math.ceil(w / pc);
  const dots = new Map<number, number[]>();
  const glyphs = new Map<number, number[]>();
  for (const r of roots) {
    const tall = by1[r] - by0[r] + 1 >= 0.4 * charH;
    if (!dotLike(r) && !tall) continue;
    const into = tall ? glyphs : dots;
    const key = Math.floor((by0[r] + by1[r]) / 2 / pc) * pw + Math.floor((bx0[r] + bx1[r]) / 2 / pc);
    const list = into.get(key);
    if (list) list.push(r);
    else into.set(key, [r]);
  }
  const hasPartner = (r: number, levelOnly = false) => {
    const cx = (bx0[r] + bx1[r]) / 2;
    const cy = (by0[r] + by1[r]) / 2;
    const gx = Math.floor(cx / pc);
    const gy = Math.floor(cy / pc);
    let levels = 0;
    let left = false;
    let right = false;
    for (let y = gy - 1; y <= gy + 1; y++)
      for (let x = gx - 1; x <= gx + 1; x++) {
        for (const q of dots.get(y * pw + x) ?? []) {
          if (q === r) continue;
          const qx = (bx0[q] + bx1[q]) / 2;
          const qy = (by0[q] + by1[q]) / 2;
          const alike = area[q] * 2 >= area[r] && area[q] <= 2 * area[r];
          const above = dusty
            ? Math.abs(qx - cx) <= Math.max(1, stroke * 0.5) && alike && Math.abs(qy - cy) >= 0.15 * charH && Math.abs(qy - cy) <= 0.6 * charH
            : bx0[q] <= bx1[r] + stroke && bx1[q] >= bx0[r] - stroke && Math.abs(qy - cy) <= 0.7 * charH;
          const level = Math.abs(qy - cy) <= Math.max(2, stroke * 0.6) && Math.abs(qx - cx) <= (dusty ? 1.2 : 0.6) * charH && alike;
          if (level && dusty) levels++;
          if ((level && (!dusty || levels >= 2)) || (above && !levelOnly)) return true;
        }
        if (levelOnly) continue;
        // A full stop or a decimal point: on the baseline of a glyph beside it.
        for (const q of glyphs.get(y * pw + x) ?? []) {
          const side = Math.max(bx0[q] - bx1[r], bx0[r] - bx1[q]);
          if (side <= (dusty ? DUSTY_SIDE : 1) * charH && Math.abs(by1[q] - by1[r]) <= Math.max(2, 0.12 * charH)) return true;
          // A 、 or ， between two words: a glyph close on either side, the mark below the top third of both.
          if (!dusty && side <= BETWEEN_WORDS * charH && cy >= by0[q] + 0.35 * (by1[q] - by0[q]) && by1[r] <= by1[q] + Math.max(2, 0.12 * charH)) {
            if (bx1[q] < bx0[r]) left = true;
            else if (bx0[q] > bx1[r]) right = true;
          }
        }
      }
    return left && right;
  };
  const remove = new Uint8Array(n);
  const inText: number[] = [];
  const keptAway: number[] = [];
  for (const r of roots) {
    if (!small(r)) continue;
    const cx = Math.floor((bx0[r] + bx1[r]) / 2 / cell);
    const cy = Math.floor((by0[r] + by1[r]) / 2 / cell);
    if (near[cy * gw + cx]) {
      inText.push(r);
      continue;
    }
    // Away from characters only an ellipsis's dots, level in a row, are print.
    if (hasPartner(r, true)) {
      keptAway.push(r);
      continue;
    }
    remove[r] = 1;
    stats.removed++;
  }
  // How dusty the page is, from the specks away from the characters; on a dusty page the dots kept
  // there for a partner are judged again by the stricter partners.
  stats.awayPerMp = Math.round((stats.removed * 1e6) / (w * h));
  dusty = opts.dustyRules !== false && isDusty(stats);
  if (dusty) {
    for (const r of keptAway) {
      if (hasPartner(r, true)) continue;
      remove[r] = 1;
      stats.removed++;
    }
  }
  // Among the characters: a small component with no other ink within a third of a character all
  // round is a speck in a gap (between table cells, words, or at a line's end), unless it has a
  // partner that makes it punctuation: a dot or comma straight above or below it (：；), a dot of
  // its size level with it (……), or a glyph beside it standing on the same baseline (. ，).
  if (inText.length) {
    const gap = Math.max(2, Math.round(charH * 0.3));
    const c2 = Math.max(2, Math.round(stroke));
    const iw = Math.ceil(w / c2);
    const ih = Math.ceil(h / c2);
    const inkGrid = new Uint32Array(iw * ih);
    for (let i = 0; i < n; i++) {
      if (dusty && small(root[i])) continue;
      const row = Math.floor(runY[i] / c2) * iw;
      for (let x = runX0[i]; x <= runX1[i];) {
        const cx = Math.floor(x / c2);
        const end = Math.min(runX1[i], (cx + 1) * c2 - 1);
        inkGrid[row + cx] += end - x + 1;
        x = end + 1;
      }
    }
    const otherInk = (r: number) => {
      let sum = 0;
      const x0 = Math.max(0, Math.floor((bx0[r] - gap) / c2));
      const x1 = Math.min(iw - 1, Math.floor((bx1[r] + gap) / c2));
      const y0 = Math.max(0, Math.floor((by0[r] - gap) / c2));
      const y1 = Math.min(ih - 1, Math.floor((by1[r] + gap) / c2));
      for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) sum += inkGrid[y * iw + x];
      return dusty ? sum : sum - area[r];
    };
    for (const r of inText) {
      if (otherInk(r) > 0 || hasPartner(r)) continue;
      remove[r] = 1;
      stats.removed++;
      stats.inLines++;
    }
  }
  if (!stats.removed) return stats;
  // Whiten the speck and the grey fringe round it: any ink a pixel away from a run is 8-connected
  // to it, so part of the same speck, and the rest is the grey of its edge.
  for (let i = 0; i < n; i++) {
    if (!remove[root[i]]) continue;
    const a = Math.max(0, runX0[i] - 1);
    const b = Math.min(w, runX1[i] + 2);
    for (let yy = Math.max(0, runY[i] - 1); yy <= Math.min(h - 1, runY[i] + 1); yy++) px.fill(255, yy * w + a, yy * w + b);
  }
  return stats;
}

/** The q-quantile of values given as a histogram (index = value). */
function quantile(hist: Float64Array, q: number): number {
  let total = 0;
  for (let i = 0; i < hist.length; i++) total += hist[i];
  const want = q * total;
  let cum = 0;
  for (let i = 0; i < hist.length; i++) {
    cum += hist[i];
    if (cum >= want && cum > 0) return i;
  }
  return 0;
}
