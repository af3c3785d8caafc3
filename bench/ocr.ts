// OCR benchmark: every page of the shared samples and of the generated set (bench/ocr-set: other
// text, five fonts, ten kinds of damage) through this engine and through OCRmyPDF (Debian's
// ocrmypdf + tesseract-ocr-chi-sim, `--jobs 2 -l chi_sim --deskew`) in the same run, on the same
// machine: page CER mean, median and p90, after NFKC and as printed, and pages/min, side by side.
// Run: npx tsx bench/ocr.ts [--set samples|generated|all] [--workers N] [--lang L] [--no-ocrmypdf]
//   [--engine DIR [--engine-rev NAME]]   read with the engine of another checkout (e.g. the base
//                    commit: git archive BASE | tar -x -C DIR; ln -s $PWD/node_modules DIR/)
//   [--save F.json]  keep this run's figures;  [--before F.json]  print a saved run as "before"
//   [--compare DIR [--compare-rev NAME]]  read every item with the engine of DIR too, in the same run,
//                    item by item alternately with this one (fair on a loaded machine): "before"
//                    and "after" rows and a per-damage table from one run (DIR as for --engine)
// The machine is shared: run it on a quiet machine, or at least read the columns together. CPU s/page
// (this process and its OCR worker threads while an engine reads; worker start-up excluded) is
// steadier than pages/min when other processes load the machine.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { cer, cerAsPrinted } from '../ingest/ocr/cer.ts';
import { benchItems, type BenchItem } from './ocr-set/index.ts';

const run = promisify(execFile);
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const workers = Number(arg('--workers') ?? availableParallelism());
const lang = arg('--lang') ?? 'chi_sim';
const skipBaseline = process.argv.includes('--no-ocrmypdf');
const engineRoot = resolve(arg('--engine') ?? resolve(import.meta.dirname, '..'));
const engine = (await import(join(engineRoot, 'ingest/index.ts'))) as typeof import('../ingest/index.ts');
const revOf = async (root: string) =>
  run('git', ['-C', root, 'rev-parse', '--short', 'HEAD']).then(
    (r) => r.stdout.trim(),
    () => '?',
  );
const engineRev = arg('--engine-rev') ?? (await revOf(engineRoot));
const compareRoot = arg('--compare') ? resolve(arg('--compare')!) : undefined;
const compare = compareRoot ? ((await import(join(compareRoot, 'ingest/index.ts'))) as typeof import('../ingest/index.ts')) : undefined;
const compareRev = compareRoot ? (arg('--compare-rev') ?? (await revOf(compareRoot))) : '';

/** Per side and set: page CERs (NFKC and as printed), seconds spent, pages. */
interface Figures {
  nfkc: number[];
  printed: number[];
  seconds: number;
  /** CPU seconds of this process (the engine's OCR workers are its threads) while this side read. */
  cpu?: number;
  /** Per page, its damage (generated set; '' for the samples). */
  kinds?: string[];
}
type Run = Record<string, Record<string, Figures>>;

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
};
/** CPU seconds of this process since `u` (user and system, all threads). */
const cpuSince = (u: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(u);
  return (d.user + d.system) / 1e6;
};
/** The damage of a generated page from its label ("font, size, damage"). */
const kindOf = (label: string | undefined) => (label ?? '').split(', ').slice(2).join(', ');
const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

/** OCRmyPDF takes one PDF per item: img2pdf (which keeps JPEG bytes and DPI) makes them, untimed. */
async function baselineInput(item: BenchItem, dir: string): Promise<string> {
  if (item.files[0].endsWith('.pdf')) return item.files[0];
  const pdf = join(dir, `${item.id}-in.pdf`);
  await run('/usr/bin/python3', ['-m', 'img2pdf', ...item.files, '-o', pdf], { maxBuffer: 1 << 26 });
  return pdf;
}

/** CER of the text the PDF gives back (what a viewer or indexer gets), page by page. */
async function pdfCers(pdf: string, item: BenchItem, into: Figures): Promise<Array<[number, number]>> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < item.lines.length; i++) {
    const { stdout } = await run('pdftotext', ['-f', String(i + 1), '-l', String(i + 1), pdf, '-'], { maxBuffer: 1 << 26 });
    const truth = item.lines[i].join('\n');
    const c: [number, number] = [cer(stdout, truth), cerAsPrinted(stdout, truth)];
    into.nfkc.push(c[0]);
    into.printed.push(c[1]);
    out.push(c);
  }
  return out;
}

const sets = await benchItems(arg('--set') ?? 'all');
const dir = await mkdtemp(join(tmpdir(), 'bench-ocr-'));
const now: Run = { engine: {}, ocrmypdf: {}, compare: {} };
console.log(`bench/ocr: engine tesseract.js ${lang} 4.0.0 at ${engineRev} (${engineRoot}), ${workers} workers; baseline: ocrmypdf --jobs 2 -l chi_sim --deskew`);
if (compare) console.log(`  before (same run, item by item alternately): engine at ${compareRev} (${compareRoot})`);
const perPage: string[] = [];
try {
  // The engine's worker start-up counts (once per set), as OCRmyPDF's does per run.
  for (const { set, items } of sets) {
    const a: Figures = (now.engine[set] = { nfkc: [], printed: [], seconds: 0, cpu: 0, kinds: [] });
    const c: Figures | undefined = compare ? (now.compare[set] = { nfkc: [], printed: [], seconds: 0, cpu: 0, kinds: [] }) : undefined;
    const b: Figures | undefined = skipBaseline ? undefined : (now.ocrmypdf[set] = { nfkc: [], printed: [], seconds: 0, kinds: [] });
    let t = performance.now();
    const pool = await engine.createOcrPool({ workers, lang });
    a.seconds += (performance.now() - t) / 1000;
    t = performance.now();
    const comparePool = compare && c ? await compare.createOcrPool({ workers, lang }) : undefined;
    if (c) c.seconds += (performance.now() - t) / 1000;
    // Item by item, the engine and then OCRmyPDF, so both see the same load from anything else.
    for (const item of items) {
      t = performance.now();
      let u = process.cpuUsage();
      const r = await engine.ocrDocument(item.files, { pool });
      a.seconds += (performance.now() - t) / 1000;
      a.cpu! += cpuSince(u);
      const ours = join(dir, `${item.id}-engine.pdf`);
      await writeFile(ours, r.pdf);
      const ca = await pdfCers(ours, item, a);
      a.kinds!.push(...item.lines.map((_, i) => kindOf(item.labels?.[i])));
      let cc: Array<[number, number]> = [];
      if (compare && comparePool && c) {
        t = performance.now();
        u = process.cpuUsage();
        const rc = await compare.ocrDocument(item.files, { pool: comparePool });
        c.seconds += (performance.now() - t) / 1000;
        c.cpu! += cpuSince(u);
        const theirs = join(dir, `${item.id}-compare.pdf`);
        await writeFile(theirs, rc.pdf);
        cc = await pdfCers(theirs, item, c);
        c.kinds!.push(...item.lines.map((_, i) => kindOf(item.labels?.[i])));
      }
      let cb: Array<[number, number]> = [];
      if (b) {
        const input = await baselineInput(item, dir);
        const out = join(dir, `${item.id}-ocrmypdf.pdf`);
        t = performance.now();
        await run('ocrmypdf', ['--jobs', '2', '-l', 'chi_sim', '--deskew', '-q', input, out], { maxBuffer: 1 << 26 });
        b.seconds += (performance.now() - t) / 1000;
        cb = await pdfCers(out, item, b);
        b.kinds!.push(...item.lines.map((_, i) => kindOf(item.labels?.[i])));
      }
      ca.forEach((c, i) => {
        const weak = r.pages[i].weakLines?.length;
        perPage.push(
          `${item.id} p${i + 1}  ${cc[i] ? `${pct(cc[i][0]).padStart(7)} ${pct(cc[i][1]).padStart(7)}  ` : ''}${pct(c[0]).padStart(7)} ${pct(c[1]).padStart(7)}  ${cb[i] ? `${pct(cb[i][0]).padStart(7)} ${pct(cb[i][1]).padStart(7)}` : ''.padStart(15)}  ${weak === undefined ? ' ' : String(weak).padStart(2)}  ${item.labels?.[i] ?? ''}`,
        );
      });
      process.stderr.write(`${set} ${item.id} done\n`);
    }
    await pool.close();
    await comparePool?.close();
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}

console.log(`\nitem  page  ${compare ? 'before NFKC  printed  ' : ''}engine NFKC  printed  ocrmypdf NFKC printed  weak lines  (generated: font, damage)`);
for (const l of perPage) console.log(l);

const save = arg('--save');
if (save) await writeFile(save, JSON.stringify({ rev: engineRev, run: now }));
const before = compare
  ? { rev: compareRev, run: { engine: now.compare, ocrmypdf: {} } as Run }
  : arg('--before')
    ? (JSON.parse(await readFile(arg('--before')!, 'utf8')) as { rev: string; run: Run })
    : undefined;

const row = (name: string, f: Figures | undefined) =>
  f
    ? `  ${name.padEnd(24)} ${pct(mean(f.nfkc)).padStart(7)} ${pct(quantile(f.nfkc, 0.5)).padStart(7)} ${pct(quantile(f.nfkc, 0.9)).padStart(7)}   ${pct(mean(f.printed)).padStart(7)} ${pct(quantile(f.printed, 0.5)).padStart(7)} ${pct(quantile(f.printed, 0.9)).padStart(7)}   ${(f.nfkc.length / (f.seconds / 60)).toFixed(1).padStart(6)}   ${f.cpu ? (f.cpu / f.nfkc.length).toFixed(2).padStart(5) : '    -'}`
    : `  ${name.padEnd(24)} (not run)`;
for (const { set } of sets) {
  const n = now.engine[set].nfkc.length;
  console.log(`\n${set} (${n} pages)                 NFKC: mean  median     p90   printed: mean  median     p90   pages/min  CPU s/page`);
  if (before) console.log(row(`before: engine ${before.rev}`, before.run.engine[set]));
  console.log(row(`${before ? 'after: ' : ''}engine ${engineRev}`, now.engine[set]));
  console.log(row('ocrmypdf', now.ocrmypdf[set] ?? before?.run.ocrmypdf[set]));
  const o = now.ocrmypdf[set] ?? before?.run.ocrmypdf[set];
  if (o) {
    const e = now.engine[set];
    console.log(`  ratios: CER ${(mean(e.nfkc) / mean(o.nfkc)).toFixed(2)} of ocrmypdf's (NFKC), throughput ${(e.nfkc.length / e.seconds / (o.nfkc.length / o.seconds)).toFixed(2)}x`);
  }
}
// Where the error lives: mean page CER per damage (pages with labels only, i.e. the generated set).
for (const { set } of sets) {
  const e = now.engine[set];
  const b = before?.run.engine[set];
  const o = now.ocrmypdf[set] ?? before?.run.ocrmypdf[set];
  const kinds = [...new Set(e.kinds ?? [])].filter((k) => k);
  if (!kinds.length) continue;
  const by = (f: Figures | undefined, k: string, which: 'nfkc' | 'printed') => {
    if (!f?.kinds || f.kinds.length !== f.nfkc.length) return '';
    const xs = f[which].filter((_, i) => f.kinds![i] === k);
    return xs.length ? pct(mean(xs)) : '';
  };
  console.log(`\n${set}, mean page CER per damage     pages  ${b ? 'before NFKC printed  ' : ''}engine NFKC printed  ${o ? 'ocrmypdf NFKC' : ''}`);
  for (const k of kinds) {
    const n = e.kinds!.filter((x) => x === k).length;
    console.log(
      `  ${k.padEnd(30)} ${String(n).padStart(5)}  ${b ? `${by(b, k, 'nfkc').padStart(11)} ${by(b, k, 'printed').padStart(7)}  ` : ''}${by(e, k, 'nfkc').padStart(11)} ${by(e, k, 'printed').padStart(7)}  ${o ? by(o, k, 'nfkc').padStart(13) : ''}`,
    );
  }
}
const load = await readFile('/proc/loadavg', 'utf8').catch(() => '?');
console.log(`\nload average at end: ${load.trim()} (other processes share the CPU: compare the columns, not absolute figures)`);
