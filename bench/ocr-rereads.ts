// What the re-readings of a page are worth against their cost, measured against the ground truth so
// rules can be compared without reading again: every page read as the engine does up to its first
// reading (cleaned, deskewed, PSM 3), then (a) the unread-print measure (unread-ink.ts) and, when it
// is above a low floor, the PSM 4 reading of the whole page with its measure and raw text; (b) every
// weak line (as recover-lines.ts picks them) read in every way (local, scaled, the plain crop),
// each reading's evidence and text kept. Dusty pages, whose every line is read one way
// (DUSTY_VARIANT), are left out: bench/ocr-dusty.ts measures them. `--save F.json` keeps
// it; `--from F.json` analyses a saved run: per rule (which ways, in what order, when to stop), the
// mean page CER (raw lines, NFKC) and the line reads it costs.
// The page CER here is of the raw lines (before table rows, lost lines and tidying), so it is higher
// than bench/ocr's on table pages; it compares rules, each against the same readings.
// Run: OCR_SET_SEED=N npx tsx bench/ocr-rereads.ts [--set samples|generated|all] [--workers N] [--save F.json]
//      npx tsx bench/ocr-rereads.ts --from F1.json[,F2.json...] [--diff] (pages a rule changes by over
//      0.2 points) [--buckets] (the current rule's gain per weak line by evidence) [--lines] (every weak line)
import { readFile, writeFile } from 'node:fs/promises';
import { cer } from '../ingest/ocr/cer.ts';
import { createOcrPool, openInputs } from '../ingest/index.ts';
import { cleanWithSpecks } from '../ingest/ocr/clean-page.ts';
import { measureLayout, toPgm, turnImage } from '../ingest/ocr/orient.ts';
import { toGrey } from '../ingest/ocr/recognise.ts';
import { isDusty } from '../ingest/ocr/despeckle.ts';
import { CROP, VARIANTS, evidence, isWeak, linesOf, recoverLines, type Variant } from '../ingest/ocr/recover-lines.ts';
import { UNREAD_LIMIT, unreadInk } from '../ingest/ocr/unread-ink.ts';
import { benchItems } from './ocr-set/index.ts';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

interface Cand {
  name: string;
  text: string;
  score: number;
}
interface Line {
  text: string;
  /** Evidence of the page's reading (weak lines only). */
  score?: number;
  /** Rank among the page's weak lines (weakest 0). */
  rank?: number;
  cands?: Cand[];
}
interface PageRec {
  set: string;
  item: string;
  page: number;
  label: string;
  truth: string;
  unread: { share: number; cells: number; psm4?: { share: number; cells: number; kept: boolean; cer: number }; cer: number };
  lines: Line[];
}

const MAX_DPI = 400;

async function measure(): Promise<PageRec[]> {
  const pool = await createOcrPool({ workers: Number(arg('--workers') ?? 2), lang: 'chi_sim' });
  const out: PageRec[] = [];
  try {
    for (const { set, items } of await benchItems(arg('--set') ?? 'all')) {
      for (const item of items) {
        const sources = await openInputs(item.files);
        const pages = await Promise.all(
          sources.map(async (src, i): Promise<PageRec | undefined> => {
            const full = await toGrey(await src.pixels());
            if (src.dpi > MAX_DPI) throw new Error('scan above 400 DPI: not in the bench sets');
            const { pixels: clean, specks } = await cleanWithSpecks(full, src.dpi);
            if (isDusty(specks)) return undefined;
            const layout = await measureLayout(clean);
            const deskew = Math.abs(layout.skewDeg) >= 0.1 ? -layout.skewDeg : 0;
            const { pixels } = await turnImage(clean, deskew);
            const dpi = src.dpi;
            const truth = item.lines[i].join('\n');
            const raw = (p: Awaited<ReturnType<typeof pool.recognise>>) =>
              linesOf(p)
                .map((l) => l.text.trim())
                .join('\n');
            let page = await pool.recognise(toPgm(pixels), { dpi, psm: '3' });
            const u1 = unreadInk(page, pixels);
            const unread: PageRec['unread'] = { share: u1.share, cells: u1.unreadCells, cer: cer(raw(page), truth) };
            if (u1.share > 0.01) {
              const again = await pool.recognise(toPgm(pixels), { dpi, psm: '4' });
              const u2 = unreadInk(again, pixels, u1.cell);
              const kept = u1.share > UNREAD_LIMIT && u2.unreadCells * 2 <= u1.unreadCells;
              unread.psm4 = { share: u2.share, cells: u2.unreadCells, kept, cer: cer(raw(again), truth) };
              if (kept) page = again;
            }
            const all: Variant[] = [...VARIANTS, CROP].map((v) => ({ ...v, always: true }));
            const cands = new Map<object, Cand[]>();
            // Weak lines ranked as recoverLines ranks them.
            const before = linesOf(page).map((l) => ({ l, text: l.text.trim(), weak: isWeak(l), score: evidence(l) }));
            const ranked = before.filter((b) => b.weak).sort((a, b) => a.score - b.score);
            // Every weak line read in every way (the page object changes, its readings were kept above).
            await recoverLines(pool, page, pixels, dpi, {
              variants: all,
              maxLines: 99,
              onCandidates: (o, cs) =>
                cands.set(
                  o,
                  cs.map((c) => ({ name: c.name, text: c.line?.text.trim() ?? '', score: c.score })),
                ),
            });
            const rank = new Map(ranked.map((b, k) => [b.l as object, k]));
            return {
              set,
              item: item.id,
              page: i + 1,
              label: item.labels?.[i] ?? '',
              truth,
              unread,
              lines: before.map((b) => (b.weak ? { text: b.text, score: b.score, rank: rank.get(b.l), cands: cands.get(b.l) ?? [] } : { text: b.text })),
            };
          }),
        );
        out.push(...pages.filter((p): p is PageRec => !!p));
        process.stderr.write(`${set} ${item.id} done\n`);
      }
    }
  } finally {
    await pool.close();
  }
  return out;
}

/** A rule: which readings of a weak line are made, given those made so far; the best evidence above the page's wins. */
type Rule = { name: string; maxLines: number; next: (page: PageRec, line: Line, made: Cand[]) => string | undefined };

function apply(pages: PageRec[], rule: Rule) {
  const cers: number[] = [];
  let reads = 0;
  const perPage: number[] = [];
  for (const p of pages) {
    const texts = p.lines.map((l) => {
      if (l.cands === undefined || (l.rank ?? 0) >= rule.maxLines) return l.text;
      const made: Cand[] = [];
      for (;;) {
        const name = rule.next(p, l, made);
        if (!name) break;
        const c = l.cands.find((x) => x.name === name);
        if (!c) break;
        made.push(c);
        reads++;
      }
      const best = made.filter((c) => c.text).sort((a, b) => b.score - a.score)[0];
      return best && best.score > (l.score ?? 0) ? best.text : l.text;
    });
    const c = cer(texts.join('\n'), p.truth);
    cers.push(c);
    perPage.push(c);
  }
  return { cers, reads, perPage };
}

/** Reads per set and kind (for cost: a median crop costs about 1.2 local reads). */
function reads(pages: PageRec[], rule: Rule): string {
  const n = new Map<string, number>();
  for (const p of pages)
    for (const l of p.lines) {
      if (!l.cands || (l.rank ?? 0) >= rule.maxLines) continue;
      const made: Cand[] = [];
      for (;;) {
        const name = rule.next(p, l, made);
        const c = name && l.cands.find((x) => x.name === name);
        if (!c) break;
        made.push(c);
        n.set(c.name, (n.get(c.name) ?? 0) + 1);
      }
    }
  return [...n].map(([k, v]) => `${k} ${v}`).join(' ');
}
const beats = (l: Line, made: Cand[]) => made.some((c) => c.text && c.score > (l.score ?? 0));
const current: Rule = {
  name: 'now: local, scaled if local lost',
  maxLines: 8,
  next: (p, l, made) => (!made.length ? 'local' : made.length === 1 && !beats(l, made) ? 'scaled' : undefined),
};
const rules: Rule[] = [
  { name: 'no re-reads', maxLines: 0, next: () => undefined },
  current,
  { name: 'local only', maxLines: 8, next: (p, l, m) => (!m.length ? 'local' : undefined) },
  { name: 'local+scaled+crop always', maxLines: 8, next: (p, l, m) => ['local', 'scaled', 'crop'][m.length] },
  { name: 'now, at most 6 lines', maxLines: 6, next: current.next },
  { name: 'now, at most 4 lines', maxLines: 4, next: current.next },
];

function weakLinesReport(pages: PageRec[]) {
  // Per weak line: score of the page's reading, of each way, and whether the best way was kept.
  const rows: string[] = [];
  for (const p of pages)
    for (const l of p.lines) if (l.cands) rows.push(`${p.item} p${p.page} r${l.rank} page ${l.score?.toFixed(1)} ${l.cands.map((c) => `${c.name} ${c.score.toFixed(1)}`).join(' ')}  ${p.label}`);
  return rows;
}

const from = arg('--from');
// Several saved runs (e.g. one per OCR_SET_SEED): each run's generated set is told apart by its file's name.
const load = async (f: string) =>
  (JSON.parse(await readFile(f, 'utf8')) as PageRec[]).map((p) =>
    p.set === 'generated' ? { ...p, set: `generated ${f.replace(/^.*\//, '').replace(/\.json$/, '')}`, item: `${f.replace(/^.*\//, '').replace(/\.json$/, '')}:${p.item}` } : p,
  );
const pages = from ? (await Promise.all(from.split(',').map(load))).flat() : await measure();
if (arg('--save')) await writeFile(arg('--save')!, JSON.stringify(pages));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
if (process.argv.includes('--lines')) for (const r of weakLinesReport(pages)) console.log(r);
if (process.argv.includes('--buckets')) {
  // Per weak line, what the current rule's choice does to its page's CER (in characters), by the page reading's evidence.
  const buckets = new Map<string, { lines: number; better: number; worse: number; gain: number; reads: number }>();
  for (const p of pages) {
    const texts = p.lines.map((l) => l.text);
    const basePage = cer(texts.join('\n'), p.truth);
    const len = [...p.truth.normalize('NFKC').replace(/\s+/gu, '')].length;
    p.lines.forEach((l, i) => {
      if (!l.cands || (l.rank ?? 0) >= 8) return;
      const made: Cand[] = [];
      for (;;) {
        const name = current.next(p, l, made);
        const c = name && l.cands.find((x) => x.name === name);
        if (!c) break;
        made.push(c);
      }
      const best = made.filter((c) => c.text).sort((a, b) => b.score - a.score)[0];
      const chosen = best && best.score > (l.score ?? 0) ? best.text : l.text;
      const t = [...texts];
      t[i] = chosen;
      const gain = (basePage - cer(t.join('\n'), p.truth)) * len;
      const key = `${Math.floor((l.score ?? 0) / 10) * 10}`;
      const b = buckets.get(key) ?? { lines: 0, better: 0, worse: 0, gain: 0, reads: 0 };
      b.lines++;
      b.reads += made.length;
      if (gain > 0.5) b.better++;
      if (gain < -0.5) b.worse++;
      b.gain += gain;
      buckets.set(key, b);
    });
  }
  for (const [k, b] of [...buckets].sort()) console.log(`evidence ${k.padEnd(14)} lines ${b.lines}  reads ${b.reads}  better ${b.better}  worse ${b.worse}  chars fixed ${b.gain.toFixed(0)}`);
}
console.log('\nunread print (pages above 1%): share, cells, first CER -> PSM 4 CER (raw lines), kept');
for (const p of pages)
  if (p.unread.psm4)
    console.log(
      `  ${p.item} p${p.page} (${p.set}) share ${pct(p.unread.share)} cells ${p.unread.cells} -> ${pct(p.unread.psm4.share)} ${p.unread.psm4.cells}; CER ${pct(p.unread.cer)} -> ${pct(p.unread.psm4.cer)} ${p.unread.psm4.kept ? 'kept' : ''}  ${p.label}`,
    );
const sets = [...new Set(pages.map((p) => p.set))];
const base = apply(pages, current);
for (const rule of rules) {
  const r = apply(pages, rule);
  const per = sets.map((s) => {
    const idx = pages.map((p, i) => (p.set === s ? i : -1)).filter((i) => i >= 0);
    return `${s} ${pct(mean(idx.map((i) => r.perPage[i])))}`;
  });
  const worse = r.perPage.filter((c, i) => c > base.perPage[i] + 0.002).length;
  const cost = reads(pages, rule);
  const diff = r.perPage.map((c, i) => (Math.abs(c - base.perPage[i]) > 0.002 ? `${pages[i].item}p${pages[i].page} ${pct(base.perPage[i])}->${pct(c)}` : '')).filter(Boolean);
  if (process.argv.includes('--diff') && diff.length) console.log(`    ${diff.join('  ')}`);
  console.log(`${rule.name.padEnd(60)} reads ${String(r.reads).padStart(4)} (${cost})  mean ${pct(mean(r.cers))}  ${per.join('  ')}  pages worse than now by >0.2pt: ${worse}`);
}
