// Per-line measurement: every recognised line against the ground truth, its line CER beside the
// recogniser's confidences, and how well ingest/ocr/line-quality.ts tells a lost line (CER > 30%)
// from a good one. Run: npx tsx bench/ocr-lines.ts [--set samples|generated|all] [--workers N]
//   [--save lines.json] (keep the readings) [--from lines.json] (analyse saved readings, no OCR)
//   [--all] (print every line, not only the doubtful and the lost)
import { readFile, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import type { OcrLine } from '../core/index.ts';
import { createOcrPool, openInputs } from '../ingest/index.ts';
import { recognisePage } from '../ingest/ocr/recognise.ts';
import { LOW_WORD, WEAK_RULE, lineFeatures, lineQuality, medianLineHeight, type LineFeatures } from '../ingest/ocr/line-quality.ts';
import { matchLines, missedTruth } from './ocr-set/align.ts';
import { benchItems } from './ocr-set/index.ts';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const LOST = 0.3;

interface Reading {
  set: string;
  item: string;
  page: number;
  label: string;
  lines: OcrLine[];
  truth: string[];
}

async function read(): Promise<Reading[]> {
  const from = arg('--from');
  if (from) return (await Promise.all(from.split(',').map(async (f) => JSON.parse(await readFile(f, 'utf8')) as Reading[]))).flat();
  const set = arg('--set') ?? 'all';
  const pool = await createOcrPool({ workers: Number(arg('--workers') ?? availableParallelism()), lang: arg('--lang') ?? 'chi_sim' });
  const out: Reading[] = [];
  try {
    for (const { set: name, items } of await benchItems(set)) {
      for (const item of items) {
        const sources = await openInputs(item.files);
        const pages = await Promise.all(sources.map((src, i) => recognisePage(pool, src, i + 1)));
        pages.forEach((p, i) => out.push({ set: name, item: item.id, page: i + 1, label: item.labels?.[i] ?? '', lines: p.text.lines, truth: item.lines[i] }));
        process.stderr.write(`${name} ${item.id} read\n`);
      }
    }
  } finally {
    await pool.close();
  }
  const save = arg('--save');
  if (save) await writeFile(save, JSON.stringify(out));
  return out;
}

interface Row {
  set: string;
  label: string;
  where: string;
  text: string;
  cer: number;
  f: LineFeatures;
  weak: boolean;
  score: number;
  wordMin: number;
  symMin: number;
}

const readings = await read();
const rows: Row[] = [];
let missed = 0;
let truthLines = 0;
for (const r of readings) {
  const matches = matchLines(
    r.lines.map((l) => l.text),
    r.truth,
  );
  const mh = medianLineHeight(r.lines);
  r.lines.forEach((l, i) => {
    const q = lineQuality(l, mh);
    const words = l.words.map((w) => w.confidence);
    const syms = l.words.flatMap((w) => w.symbols.map((s) => s.confidence));
    rows.push({
      set: r.set,
      label: r.label.split(', ').slice(2).join(', ') || r.set,
      where: `${r.item} p${r.page} l${i + 1}`,
      text: l.text,
      cer: matches[i].cer,
      f: lineFeatures(l, mh),
      weak: q.weak,
      score: q.score,
      wordMin: Math.min(...words),
      symMin: Math.min(...syms),
    });
  });
  missed += missedTruth(matches, r.truth).length;
  truthLines += r.truth.filter((t) => t.trim()).length;
}

const f1 = (p: number, r: number) => (p + r ? (2 * p * r) / (p + r) : 0);
function pr(pred: (x: Row) => boolean, subset: Row[] = rows) {
  const tp = subset.filter((x) => pred(x) && x.cer > LOST).length;
  const flagged = subset.filter(pred).length;
  const lost = subset.filter((x) => x.cer > LOST).length;
  const p = flagged ? tp / flagged : 1;
  const r = lost ? tp / lost : 1;
  return { tp, flagged, lost, p, r, f1: f1(p, r) };
}
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const cut = (s: string, n: number) => ([...s].length > n ? [...s].slice(0, n).join('') + '…' : s);

console.log(`bench/ocr-lines: ${readings.length} pages, ${rows.length} recognised lines, ${truthLines} printed lines; lost = line CER > ${LOST * 100}%`);
console.log(`printed lines no recognised line matched within 50% CER: ${missed} (lost without a trace: no confidence to flag them by)`);
const show = process.argv.includes('--all') ? rows : rows.filter((x) => x.cer > 0.1 || x.weak);
console.log('\nwhere              CER    line  wordμ  wordmin symμ  symmin low<' + LOW_WORD + ' h/med weak text');
for (const x of show.sort((a, b) => b.cer - a.cer)) {
  console.log(
    `${(x.set[0] + ' ' + x.where).padEnd(18)} ${pct(x.cer).padStart(6)} ${x.f.lineConfidence.toFixed(0).padStart(5)} ${x.f.wordMean.toFixed(0).padStart(6)} ${x.wordMin.toFixed(0).padStart(7)} ${x.f.meanSymbol.toFixed(0).padStart(5)} ${x.symMin.toFixed(0).padStart(6)} ${pct(x.f.lowShare).padStart(6)} ${x.f.heightRatio.toFixed(2).padStart(5)} ${x.weak ? ' W  ' : '    '} ${cut(x.text, 24)}`,
  );
}

// Which single feature separates best: the threshold with the best F1 for lost lines.
console.log('\nsingle features (best threshold by F1 for lost lines, all sets):');
const feats: Array<[string, (x: Row) => number, 'below' | 'above']> = [
  ['line confidence', (x) => x.f.lineConfidence, 'below'],
  ['mean word conf', (x) => x.f.wordMean, 'below'],
  ['min word conf', (x) => x.wordMin, 'below'],
  ['mean symbol conf', (x) => x.f.meanSymbol, 'below'],
  ['min symbol conf', (x) => x.symMin, 'below'],
  [`share in words <${LOW_WORD}`, (x) => x.f.lowShare, 'above'],
  ['characters', (x) => x.f.chars, 'below'],
  ['height / median', (x) => Math.abs(Math.log(x.f.heightRatio)), 'above'],
];
for (const [name, get, dir] of feats) {
  const values = [...new Set(rows.map(get))].sort((a, b) => a - b);
  let best = { t: 0, ...pr(() => false) };
  for (const t of values) {
    const s = pr((x) => (dir === 'below' ? get(x) < t : get(x) > t));
    if (s.f1 > best.f1) best = { t, ...s };
  }
  console.log(`  ${name.padEnd(22)} ${dir} ${best.t.toFixed(2).padStart(6)}: precision ${pct(best.p)}, recall ${pct(best.r)} (${best.tp}/${best.lost} lost, ${best.flagged} flagged)`);
}

// Two features together, each pair's best thresholds by F1.
const pairs: Array<[string, (x: Row) => number, number[], string, (x: Row) => number, number[], 'below' | 'above']> = [
  ['mean symbol', (x) => x.f.meanSymbol, range(85, 99, 0.5), 'line conf', (x) => x.f.lineConfidence, range(0, 90, 5), 'below'],
  ['mean symbol', (x) => x.f.meanSymbol, range(85, 99, 0.5), `share <${LOW_WORD}`, (x) => x.f.lowShare, range(0.1, 1.01, 0.05), 'above'],
  ['line conf', (x) => x.f.lineConfidence, range(40, 95, 1), `share <${LOW_WORD}`, (x) => x.f.lowShare, range(0.1, 1.01, 0.05), 'above'],
];
function range(a: number, b: number, step: number): number[] {
  const out: number[] = [];
  for (let v = a; v <= b + 1e-9; v += step) out.push(Math.round(v * 1000) / 1000);
  return out;
}
for (const [na, ga, as, nb, gb, bs, dir] of pairs) {
  let best = { a: 0, b: 0, ...pr(() => false) };
  for (const a of as)
    for (const b of bs) {
      const s = pr((x) => ga(x) < a || (dir === 'below' ? gb(x) < b : gb(x) > b));
      if (s.f1 > best.f1) best = { a, b, ...s };
    }
  console.log(`  ${na} < ${best.a} or ${nb} ${dir === 'below' ? '<' : '>'} ${best.b}: precision ${pct(best.p)}, recall ${pct(best.r)} (${best.tp}/${best.lost} lost, ${best.flagged} flagged)`);
}

console.log("\nmean symbol confidence below T (the rule's feature), by threshold:");
for (const t of [94, 95, 95.5, 96, 96.5, 97]) {
  const s = pr((x) => x.f.meanSymbol < t);
  console.log(`  T ${String(t).padEnd(4)}: precision ${pct(s.p)}, recall ${pct(s.r)} (${s.tp}/${s.lost} lost, ${s.flagged} flagged)`);
}
console.log(`\nthe rule in ingest/ocr/line-quality.ts: weak when mean symbol confidence < ${WEAK_RULE.meanSymbol}`);
for (const set of ['all', ...new Set(rows.map((x) => x.set))]) {
  const subset = set === 'all' ? rows : rows.filter((x) => x.set === set);
  const s = pr((x) => x.weak, subset);
  console.log(
    `  ${set.padEnd(10)} lines ${String(subset.length).padStart(4)}, lost ${String(s.lost).padStart(3)}, flagged ${String(s.flagged).padStart(3)}: precision ${pct(s.p)}, recall ${pct(s.r)}`,
  );
}

// Where the lost lines come from (generated set: by damage) and how the rule does on each.
console.log('\nby kind of page (generated: by damage):');
for (const label of [...new Set(rows.map((x) => x.label))].sort()) {
  const subset = rows.filter((x) => x.label === label);
  const s = pr((x) => x.weak, subset);
  console.log(`  ${label.padEnd(28)} lines ${String(subset.length).padStart(4)}, lost ${String(s.lost).padStart(3)}, flagged ${String(s.flagged).padStart(3)}, caught ${String(s.tp).padStart(3)}`);
}
