// How the lines of a dusty page (despeckle.ts `isDusty`: many specks away from the print) are best
// read, measured against the ground truth so that rules compare without reading again: every dusty
// page is read as the engine reads it up to its first reading (cleaned and median-filtered,
// deskewed, PSM 3, the unread-print re-read), then every line (not only the weak ones) is read again
// in every way recover-lines.ts knows — its median-filtered Sauvola crop (SPECKLED_VARIANT), the local,
// rescaled and plain crops, and the median-filtered crop alone — each reading kept with its
// characters and their confidences. Rules: which reading each line keeps (the page's, the best
// evidence, a fixed way, or a vote per character among several readings), and the line reads each
// costs. Page CER is of the raw lines (before table rows, lost lines and tidying), so it is higher
// than bench/ocr's on table pages; every rule is measured on the same readings.
// Run: OCR_SET_SEED=N npx tsx bench/ocr-dusty.ts [--set generated|samples|all] [--save F.json]
//      npx tsx bench/ocr-dusty.ts --from F1.json[,F2.json...]
// The samples hold no dusty page; the generated sets of each seed hold four (the two 'speckle'
// pages and the two 'shadow+skew+speckle+faded' pages).
import { readFile, writeFile } from 'node:fs/promises';
import type Tesseract from 'tesseract.js';
import { cer } from '../ingest/ocr/cer.ts';
import { createOcrPool, openInputs } from '../ingest/index.ts';
import { cleanWithSpecks } from '../ingest/ocr/clean-page.ts';
import { isDusty, isSpeckled } from '../ingest/ocr/despeckle.ts';
import { measureLayout, toPgm, turnImage } from '../ingest/ocr/orient.ts';
import { toGrey } from '../ingest/ocr/recognise.ts';
import { CROP, SPECKLED_VARIANT, VARIANTS, evidence, isWeak, linesOf, recoverLines, type Variant } from '../ingest/ocr/recover-lines.ts';
import { rereadIfUnread } from '../ingest/ocr/unread-ink.ts';
import { benchItems } from './ocr-set/index.ts';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

/** A character read, its confidence. */
type Sym = { t: string; c: number };
interface Reading {
  name: string;
  text: string;
  score: number;
  syms: Sym[];
}
interface Line {
  page: Reading;
  weak: boolean;
  others: Reading[];
}
interface PageRec {
  item: string;
  page: number;
  label: string;
  /** Densely speckled (despeckle.ts `isSpeckled`), or only dusty. */
  speckled: boolean;
  truth: string;
  lines: Line[];
}

const symsOf = (l: Tesseract.Line | undefined): Sym[] => (l ? l.words.flatMap((w) => w.symbols.filter((s) => s.text.trim()).map((s) => ({ t: s.text, c: s.confidence }))) : []);

async function measure(): Promise<PageRec[]> {
  const pool = await createOcrPool({ workers: Number(arg('--workers') ?? 2), lang: 'chi_sim' });
  const out: PageRec[] = [];
  const ways: Variant[] = [SPECKLED_VARIANT, ...VARIANTS, CROP, { name: 'median', psm: '7' as const, median: true }].map((v) => ({ ...v, always: true }));
  try {
    for (const { set, items } of await benchItems(arg('--set') ?? 'generated')) {
      for (const item of items) {
        const sources = await openInputs(item.files);
        for (let i = 0; i < sources.length; i++) {
          const src = sources[i];
          const { pixels: clean, specks } = await cleanWithSpecks(await toGrey(await src.pixels()), src.dpi);
          if (!isDusty(specks)) continue;
          const layout = await measureLayout(clean);
          const { pixels } = await turnImage(clean, Math.abs(layout.skewDeg) >= 0.1 ? -layout.skewDeg : 0);
          const page = await rereadIfUnread(pool, await pool.recognise(toPgm(pixels), { dpi: src.dpi, psm: '3' }), pixels, src.dpi);
          const before = linesOf(page).map((l) => ({ l, rec: { name: 'page', text: l.text.trim(), score: evidence(l), syms: symsOf(l) }, weak: isWeak(l) }));
          const others = new Map<object, Reading[]>();
          await recoverLines(pool, page, pixels, src.dpi, {
            weak: () => true,
            maxLines: Infinity,
            variants: ways,
            specks,
            onCandidates: (o, cs) =>
              others.set(
                o,
                cs.map((c) => ({ name: c.name, text: c.line?.text.trim() ?? '', score: c.score, syms: symsOf(c.line) })),
              ),
          });
          out.push({
            item: `${set} ${item.id}`,
            page: i + 1,
            label: item.labels?.[i] ?? '',
            speckled: isSpeckled(specks),
            truth: item.lines[i].join('\n'),
            lines: before.map((b) => ({ page: b.rec, weak: b.weak, others: others.get(b.l) ?? [] })),
          });
          process.stderr.write(`${item.id} p${i + 1}: ${before.length} lines\n`);
        }
      }
    }
  } finally {
    await pool.close();
  }
  return out;
}

/** For each character of `a`, the character of `b` aligned with it ('' when none), and what `b` inserts before it (the last entry: after the end). */
function align(a: string[], b: string[]): { sub: number[]; ins: string[] } {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Int32Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  const sub = new Array<number>(a.length).fill(-1);
  const ins = new Array<string>(a.length + 1).fill('');
  for (let i = a.length, j = b.length; i > 0 || j > 0;) {
    if (i > 0 && j > 0 && d[i][j] === d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)) sub[--i] = --j;
    else if (i > 0 && d[i][j] === d[i - 1][j] + 1) i--;
    else ins[i] = b[--j] + ins[i];
  }
  return { sub, ins };
}

/**
 * A vote per character among readings (ROVER): each reading aligned with the one of best evidence;
 * at each place the character (or none) with the most weight wins, a reading's weight for a character
 * its confidence / 100 (0.9 for an insertion or a gap).
 */
function vote(rs: Reading[]): string {
  const pivot = [...rs].sort((x, y) => y.score - x.score)[0];
  const a = pivot.syms.map((s) => s.t);
  const at = a.map(() => new Map<string, number>());
  const before = Array.from({ length: a.length + 1 }, () => new Map<string, number>());
  const add = (m: Map<string, number>, k: string, w: number) => m.set(k, (m.get(k) ?? 0) + w);
  for (const r of rs) {
    const { sub, ins } = align(
      a,
      r.syms.map((s) => s.t),
    );
    sub.forEach((j, i) => add(at[i], j < 0 ? '' : r.syms[j].t, j < 0 ? 0.9 : r.syms[j].c / 100));
    ins.forEach((s, i) => add(before[i], s, 0.9));
  }
  const top = (m: Map<string, number>, first: string) => [...m].reduce((best, kv) => (kv[1] > best[1] + 1e-9 ? kv : best), [first, m.get(first) ?? -1] as [string, number])[0];
  return a.map((c, i) => top(before[i], '') + top(at[i], c)).join('') + top(before[a.length], '');
}

/** A rule: the text a line keeps, and the re-readings it needed. */
type Rule = { name: string; line: (l: Line) => { text: string; reads: number } };
const way = (l: Line, name: string) => l.others.find((r) => r.name === name && r.text);
const best = (l: Line, names: string[], weakOnly: boolean) => {
  if (weakOnly && !l.weak) return { text: l.page.text, reads: 0 };
  const rs = names.map((n) => way(l, n)).filter((r): r is Reading => !!r);
  const b = rs.sort((x, y) => y.score - x.score)[0];
  return { text: b && b.score > l.page.score ? b.text : l.page.text, reads: names.length };
};
const voted = (names: string[]) => (l: Line) => ({ text: vote([l.page, ...names.map((n) => way(l, n)).filter((r): r is Reading => !!r)]), reads: names.length });
const rules: Rule[] = [
  { name: "the page's reading", line: (l) => ({ text: l.page.text, reads: 0 }) },
  { name: 'weak lines: best evidence of local, scaled (other pages)', line: (l) => best(l, ['local', 'scaled'], true) },
  { name: 'weak lines: best evidence of speckled, local', line: (l) => best(l, ['speckled', 'local'], true) },
  { name: 'every line: best evidence of speckled', line: (l) => best(l, ['speckled'], false) },
  { name: 'every line: best evidence of speckled, local', line: (l) => best(l, ['speckled', 'local'], false) },
  { name: 'every line: best evidence of all five', line: (l) => best(l, ['speckled', 'local', 'scaled', 'crop', 'median'], false) },
  ...['local', 'scaled', 'crop', 'median'].map((n) => ({ name: `every line: the ${n} reading`, line: (l: Line) => ({ text: way(l, n)?.text ?? l.page.text, reads: 1 }) })),
  { name: "every line: the speckled reading (the engine's rule there)", line: (l) => ({ text: way(l, 'speckled')?.text ?? l.page.text, reads: 1 }) },
  { name: 'every line: vote of page, speckled, local', line: voted(['speckled', 'local']) },
  { name: 'every line: vote of page and all five', line: voted(['speckled', 'local', 'scaled', 'crop', 'median']) },
];

const from = arg('--from');
const load = async (f: string) => (JSON.parse(await readFile(f, 'utf8')) as PageRec[]).map((p) => ({ ...p, item: `${f.replace(/^.*\//, '').replace(/\.json$/, '')}:${p.item}` }));
const pages = from ? (await Promise.all(from.split(',').map(load))).flat() : await measure();
if (arg('--save')) await writeFile(arg('--save')!, JSON.stringify(pages));
if (!pages.length) {
  console.log('no dusty page in this set');
  process.exit(0);
}
const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
for (const speckled of [true, false]) {
  const group = pages.filter((p) => p.speckled === speckled);
  if (!group.length) continue;
  console.log(
    `\n${speckled ? 'densely speckled' : 'dusty, lighter speckle'}: ${group.length} pages, ${group.reduce((a, p) => a + p.lines.length, 0)} lines (${group.map((p) => `${p.item} p${p.page}`).join(', ')})`,
  );
  const base = group.map((p) => cer(p.lines.map((l) => l.page.text).join('\n'), p.truth));
  for (const rule of rules) {
    let reads = 0;
    const cers = group.map((p) =>
      cer(
        p.lines
          .map((l) => {
            const r = rule.line(l);
            reads += r.reads;
            return r.text;
          })
          .join('\n'),
        p.truth,
      ),
    );
    const worse = cers.filter((c, i) => c > base[i] + 0.002).length;
    console.log(
      `  ${rule.name.padEnd(66)} mean ${pct(cers.reduce((a, b) => a + b, 0) / cers.length)}  reads ${String(reads).padStart(4)}  pages worse than the page's reading: ${worse}  [${cers.map((c) => (c * 100).toFixed(1)).join(' ')}]`,
    );
  }
}
