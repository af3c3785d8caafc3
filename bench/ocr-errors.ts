// What kind of errors a page's reading has, against the ground truth: the page text aligned with the
// printed text character by character (NFKC, whitespace dropped) and each edit classed — punctuation
// invented (read where nothing was printed: specks), punctuation lost, characters invented, lost
// (faded strokes, a line left out), or read as another character — and per line which printed lines
// came back worst. Run: npx tsx bench/ocr-errors.ts [--set generated|samples|all] [--workers N]
//   [--save F.json] [--from F.json] (analyse saved readings without OCR) [--lines] (every bad line)
//   [--diff B.json] (with --from A.json: the pages whose CER differs, A → B, how many read better and
//   worse, and both means; how each rule of issue 21 was checked for "no page read worse")
import { readFile, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { createOcrPool, openInputs } from '../ingest/index.ts';
import { recognisePage } from '../ingest/ocr/recognise.ts';
import { matchLines, missedTruth } from './ocr-set/align.ts';
import { benchItems } from './ocr-set/index.ts';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
interface Reading {
  set: string;
  item: string;
  page: number;
  label: string;
  lines: string[];
  truth: string[];
  cpuMs: number;
}

async function read(): Promise<Reading[]> {
  const from = arg('--from');
  if (from) return JSON.parse(await readFile(from, 'utf8')) as Reading[];
  const pool = await createOcrPool({ workers: Number(arg('--workers') ?? availableParallelism()), lang: 'chi_sim' });
  const out: Reading[] = [];
  try {
    for (const { set, items } of await benchItems(arg('--set') ?? 'generated')) {
      for (const item of items) {
        const sources = await openInputs(item.files);
        const u = process.cpuUsage();
        const pages = await Promise.all(sources.map((src, i) => recognisePage(pool, src, i + 1)));
        const d = process.cpuUsage(u);
        pages.forEach((p, i) =>
          out.push({
            set,
            item: item.id,
            page: i + 1,
            label: item.labels?.[i] ?? '',
            lines: p.text.lines.map((l) => l.text),
            truth: item.lines[i],
            cpuMs: (d.user + d.system) / 1000 / pages.length,
          }),
        );
        process.stderr.write(`${set} ${item.id} read\n`);
      }
    }
  } finally {
    await pool.close();
  }
  const save = arg('--save');
  if (save) await writeFile(save, JSON.stringify(out));
  return out;
}

const fold = (s: string) => [...s.normalize('NFKC').replace(/\s+/gu, '')];
const PUNCT = /^[\p{P}\p{S}]$/u;
type Op = { kind: 'ins' | 'del' | 'sub'; ocr?: string; truth?: string };

/** Edit operations turning the truth into the reading (one optimal alignment). */
function align(ocr: string[], truth: string[]): Op[] {
  const n = ocr.length;
  const m = truth.length;
  const d = Array.from({ length: n + 1 }, () => new Int32Array(m + 1));
  for (let i = 0; i <= n; i++) d[i][0] = i;
  for (let j = 0; j <= m; j++) d[0][j] = j;
  for (let i = 1; i <= n; i++) for (let j = 1; j <= m; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (ocr[i - 1] === truth[j - 1] ? 0 : 1));
  const ops: Op[] = [];
  let i = n;
  let j = m;
  while (i > 0 || j > 0) {
    if (i > 0 && j > 0 && d[i][j] === d[i - 1][j - 1] + (ocr[i - 1] === truth[j - 1] ? 0 : 1)) {
      if (ocr[i - 1] !== truth[j - 1]) ops.push({ kind: 'sub', ocr: ocr[i - 1], truth: truth[j - 1] });
      i--;
      j--;
    } else if (i > 0 && d[i][j] === d[i - 1][j] + 1) {
      ops.push({ kind: 'ins', ocr: ocr[i - 1] });
      i--;
    } else {
      ops.push({ kind: 'del', truth: truth[j - 1] });
      j--;
    }
  }
  return ops;
}

const classOf = (o: Op): string => {
  if (o.kind === 'ins') return PUNCT.test(o.ocr!) ? 'punct invented' : 'char invented';
  if (o.kind === 'del') return PUNCT.test(o.truth!) ? 'punct lost' : 'char lost';
  const p = PUNCT.test(o.ocr!);
  const q = PUNCT.test(o.truth!);
  return p && q ? 'punct misread' : !p && !q ? 'char misread' : p ? 'char read as punct' : 'punct read as char';
};

const readings = await read();
const diffWith = arg('--diff');
if (diffWith) {
  const other = JSON.parse(await readFile(diffWith, 'utf8')) as Reading[];
  const pageCer = (r: Reading) => align(fold(r.lines.join('')), fold(r.truth.join(''))).length / fold(r.truth.join('')).length;
  let sumA = 0;
  let sumB = 0;
  let better = 0;
  let worse = 0;
  for (const a of readings) {
    const b = other.find((o) => o.set === a.set && o.item === a.item && o.page === a.page);
    if (!b) throw new Error(`${diffWith} has no reading of ${a.set} ${a.item} p${a.page}`);
    const [ca, cb] = [pageCer(a), pageCer(b)];
    sumA += ca;
    sumB += cb;
    if (ca === cb) continue;
    if (cb < ca) better++;
    else worse++;
    console.log(`${(a.item + ' p' + a.page).padEnd(12)} ${(ca * 100).toFixed(2).padStart(6)}% → ${(cb * 100).toFixed(2).padStart(6)}%  ${cb < ca ? 'better' : 'WORSE '}  ${a.label}`);
  }
  console.log(`${readings.length} pages: mean ${((sumA / readings.length) * 100).toFixed(3)}% → ${((sumB / readings.length) * 100).toFixed(3)}%; ${better} read better, ${worse} worse`);
  process.exit(0);
}
const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const classes = ['punct invented', 'char invented', 'punct lost', 'char lost', 'char misread', 'punct misread', 'char read as punct', 'punct read as char'];
const total = new Map<string, number>();
let totalTruth = 0;
const cers: number[] = [];
console.log('page                 CER     edits  ' + classes.map((c) => c.replace('punct', 'p').replace('char', 'c').padStart(8)).join('') + '  lost-lines  bad-lines  label');
for (const r of readings) {
  const ocr = fold(r.lines.join(''));
  const truth = fold(r.truth.join(''));
  const ops = align(ocr, truth);
  const by = new Map<string, number>();
  for (const o of ops) by.set(classOf(o), (by.get(classOf(o)) ?? 0) + 1);
  for (const [k, v] of by) total.set(k, (total.get(k) ?? 0) + v);
  totalTruth += truth.length;
  const c = ops.length / truth.length;
  cers.push(c);
  const m = matchLines(r.lines, r.truth);
  const missed = missedTruth(m, r.truth);
  const bad = m.filter((x) => x.cer > 0.3).length;
  console.log(
    `${(r.item + ' p' + r.page).padEnd(12)} ${pct(c).padStart(7)} ${String(ops.length).padStart(8)}  ${classes.map((k) => String(by.get(k) ?? 0).padStart(8)).join('')}  ${String(missed.length).padStart(10)} ${String(bad).padStart(10)}  ${r.label}  ${(r.cpuMs / 1000).toFixed(2)} s`,
  );
  if (process.argv.includes('--lines') && c > 0.03) {
    r.lines.forEach((l, i) => {
      if (m[i].cer > 0.1) console.log(`    read ${pct(m[i].cer).padStart(7)}  ${l}\n              truth  ${m[i].truth >= 0 ? r.truth[m[i].truth] : '-'}`);
    });
    for (const t of missed) console.log(`    MISSED          ${r.truth[t]}`);
    const subs = ops.filter((o) => o.kind !== 'sub' || true).map((o) => (o.kind === 'ins' ? `+${o.ocr}` : o.kind === 'del' ? `-${o.truth}` : `${o.truth}→${o.ocr}`));
    console.log(`    edits: ${subs.join(' ')}`);
  }
}
const sorted = [...cers].sort((a, b) => a - b);
const mean = cers.reduce((a, b) => a + b, 0) / cers.length;
const allEdits = [...total.values()].reduce((a, b) => a + b, 0);
console.log(
  `\n${readings.length} pages: mean ${pct(mean)}, median ${pct(sorted[Math.floor(sorted.length / 2)])}, p90 ${pct(sorted[Math.ceil(0.9 * sorted.length) - 1])}; CPU ${(readings.reduce((a, r) => a + r.cpuMs, 0) / readings.length / 1000).toFixed(2)} s/page (pages of an item read together)`,
);
console.log(`edits ${allEdits} over ${totalTruth} printed characters; by kind:`);
for (const k of classes) console.log(`  ${k.padEnd(20)} ${String(total.get(k) ?? 0).padStart(6)}  ${pct((total.get(k) ?? 0) / allEdits).padStart(7)} of edits`);
