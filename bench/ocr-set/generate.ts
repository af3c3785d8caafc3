/**
 * The generated bench set: documents composed by compose.ts, set in five installed fonts (Song,
 * Kai, two Noto CJK, WenQuanYi Hei), each page damaged in one of ten ways. Rendered on first use
 * into a cache folder (never committed), laid out like ../shared/samples (items/G0001/page-001.png,
 * gt/G0001.json), so the same code reads both.
 *   npx tsx bench/ocr-set/generate.ts   renders the set and prints where it is
 * OCR_SET_SEED=N (default 0) renders another set of the same ten damages from other text, in other
 * fonts and with other specks and stains (into its own folder), to check that a rule measured on
 * the set is not tuned to it.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { damagePage, renderPage, type Damage, type PageLine } from '../../test/support/damaged-page.ts';
import { composeDocument, type ComposedLine } from './compose.ts';
import type { BenchItem } from './samples.ts';

const VERSION = 3;
const SEED = Number(process.env.OCR_SET_SEED ?? 0);
export const GENERATED_DIR = process.env.OCR_SET_DIR ?? join(tmpdir(), `archive-ocr-set-v${VERSION}${SEED ? `-s${SEED}` : ''}`);

/** Installed CJK fonts (fonts-arphic-uming, fonts-arphic-ukai, fonts-noto-cjk, fonts-wqy-zenhei). */
export const FONTS = ['AR PL UMing CN', 'AR PL UKai CN', 'Noto Serif CJK SC', 'Noto Sans CJK SC', 'WenQuanYi Zen Hei'];

/** The damages, one per page (each twice in the set, in different fonts). */
export const PROFILES: Array<{ name: string; dpi: number; damage: Damage }> = [
  { name: 'clean', dpi: 300, damage: { noise: 4 } },
  { name: 'skew', dpi: 300, damage: { skewDeg: 1.3, noise: 5 } },
  { name: 'blur', dpi: 300, damage: { blur: 1.7, noise: 4 } },
  { name: 'speckle', dpi: 300, damage: { speckles: 450, noise: 7 } },
  { name: 'stains', dpi: 300, damage: { stains: 5, noise: 4 } },
  { name: 'binding shadow', dpi: 300, damage: { shadow: { side: 'left', width: 420, darkest: 45 }, noise: 5 } },
  { name: 'uneven background', dpi: 300, damage: { uneven: 0.5, noise: 5 } },
  { name: 'low contrast', dpi: 300, damage: { contrast: { ink: 125, paper: 205 }, noise: 6 } },
  { name: 'shadow+skew+speckle+faded', dpi: 300, damage: { skewDeg: -0.9, shadow: { side: 'right', width: 320, darkest: 70 }, speckles: 160, contrast: { ink: 70, paper: 225 }, blur: 0.8, noise: 5 } },
  { name: '200dpi jpeg stains blur', dpi: 200, damage: { skewDeg: 0.6, blur: 1.0, stains: 3, noise: 5, jpeg: 55 } },
];
const ITEMS = 10;

function fontOf(k: number): string {
  return FONTS[(k + Math.floor(k / FONTS.length) * 2) % FONTS.length];
}

/** A page of composed lines laid out at a resolution: sizes, margins, where each kind of line goes. */
function layoutFor(dpi: number, sizePt: number, font: string) {
  const s = dpi / 300;
  const size = Math.round((sizePt / 72) * dpi);
  const width = Math.round(2480 * s);
  const height = Math.round(3508 * s);
  const left = Math.round(300 * s);
  return { width, height, dpi, font, size, leading: Math.round(size * 1.9), top: Math.round(260 * s), left, em: Math.floor((width - 2 * left) / size) };
}

function toPageLine(l: ComposedLine, lay: ReturnType<typeof layoutFor>): PageLine {
  switch (l.kind) {
    case 'title':
      return { text: l.text, size: Math.round(lay.size * 1.45), x: 'center', bold: true };
    case 'first':
      return { text: l.text, x: lay.left + 2 * lay.size };
    case 'sign':
      return { text: l.text, x: lay.width - lay.left - Math.round([...l.text].length * lay.size * 1.05) };
    case 'row': {
      // Columns clear of each other: the longest title (档案管理员) is 5 em from 6 (set v2 put the
      // year at 10.5, so its first digit was printed over 员 and could not be read).
      const cols = [0, 2.2, 6, 11.5, 16].map((c) => lay.left + Math.round(c * lay.size));
      return { text: l.text, cells: l.cells!.map((t, i) => ({ text: t, x: cols[i] })) };
    }
    default:
      return { text: l.text };
  }
}

export async function generateSet(dir = GENERATED_DIR): Promise<void> {
  if (
    await readdir(join(dir, 'gt'))
      .then((f) => f.length === ITEMS)
      .catch(() => false)
  )
    return;
  assertFonts();
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'gt'), { recursive: true });
  for (let k = 0; k < ITEMS; k++) {
    const id = `G${String(k + 1).padStart(4, '0')}`;
    await mkdir(join(dir, 'items', id), { recursive: true });
    const pages = await renderItem(k);
    for (const [p, pg] of pages.entries()) await writeFile(join(dir, 'items', `${id}/page-${String(p + 1).padStart(3, '0')}.${pg.ext}`), pg.bytes);
    // Folder items: the folder is the item (its pages in name order), as ingest takes them.
    const gt = { item_id: id, format: 'generated', files: [id], n_pages: pages.length, pages: pages.map(({ lines, label }) => ({ lines, label })), generator_version: VERSION };
    await writeFile(join(dir, 'gt', `${id}.json`), JSON.stringify(gt, null, 1));
  }
}

/**
 * Every font of FONTS installed: a missing one is silently replaced by another CJK font when the page
 * is drawn, which renders a set of other pages under the same name (and other figures).
 */
function assertFonts(): void {
  let families = '';
  try {
    families = execFileSync('fc-list', [':', 'family'], { encoding: 'utf8' });
  } catch {
    // No fontconfig tools: every font counts as missing.
  }
  const missing = FONTS.filter((f) => !families.includes(f));
  if (missing.length) throw new Error(`the generated set needs the fonts ${missing.join(', ')}: install them with  bash appliance/provision.sh --bench`);
}

/** The pages of the set's item k (0-based) as image bytes with their printed lines (also used by tests that need one such page). */
export async function renderItem(k: number, seed = SEED): Promise<Array<{ bytes: Buffer; ext: 'png' | 'jpg'; lines: string[]; label: string }>> {
  const font = fontOf(k + seed);
  const sizePt = [12, 14, 16, 13, 15][k % 5];
  const profiles = [PROFILES[(2 * k + Math.floor(k / 5)) % PROFILES.length], PROFILES[(2 * k + 1 + Math.floor(k / 5)) % PROFILES.length]];
  const pages: Array<{ bytes: Buffer; ext: 'png' | 'jpg'; lines: string[]; label: string }> = [];
  const doc = composeDocument(1000 + k + 100 * seed, layoutFor(300, sizePt, font).em, 48);
  let at = 0;
  for (let p = 0; p < 2 && at < doc.length; p++) {
    const prof = profiles[p];
    const lay = layoutFor(prof.dpi, sizePt, font);
    // As many lines as fit (the title and headings take more room than body lines).
    const room = lay.height - 2 * lay.top;
    let used = 0;
    const lines: ComposedLine[] = [];
    while (at < doc.length) {
      const l = doc[at];
      const step = l.kind === 'title' ? Math.round(Math.max(lay.leading, lay.size * 1.45 * 1.6) * 1.2) : lay.leading;
      if (used + step > room) break;
      used += step;
      lines.push(l);
      at++;
    }
    const page = await renderPage(
      lines.map((l) => toPageLine(l, lay)),
      lay,
    );
    const bytes = await damagePage(page, prof.damage, 7919 * (k + 1) + p + 104729 * seed);
    pages.push({ bytes, ext: prof.damage.jpeg ? 'jpg' : 'png', lines: lines.map((l) => l.text), label: `${font}, ${sizePt}pt, ${prof.name}` });
  }
  return pages;
}

/** The generated set as bench items (rendered first if the cache folder is empty). */
export async function generatedItems(dir = GENERATED_DIR): Promise<BenchItem[]> {
  await generateSet(dir);
  const out: BenchItem[] = [];
  for (const f of (await readdir(join(dir, 'gt'))).sort()) {
    const gt = JSON.parse(await readFile(join(dir, 'gt', f), 'utf8')) as { item_id: string; files: string[]; pages: Array<{ lines: string[]; label: string }> };
    const files = (await readdir(join(dir, 'items', gt.item_id))).sort().map((x) => join(dir, 'items', gt.item_id, x));
    out.push({ id: gt.item_id, files, lines: gt.pages.map((p) => p.lines), labels: gt.pages.map((p) => p.label) });
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await generateSet();
  console.log(GENERATED_DIR);
}
