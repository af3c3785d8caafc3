// OCR benchmark: every sample page through this engine and through OCRmyPDF (Debian's ocrmypdf +
// tesseract-ocr-chi-sim, `--jobs 2 -l chi_sim --deskew`) in the same run, on the same machine, with
// throughput and CER side by side and as ratios. Run: npx tsx bench/ocr.ts [--workers N] [--lang L]
// The machine is shared: run it on a quiet machine, or at least read the two columns together.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { createOcrPool, ocrDocument } from '../ingest/index.ts';
import { cer, cerAsPrinted } from '../ingest/ocr/cer.ts';

const run = promisify(execFile);
const SAMPLES = resolve(import.meta.dirname, '../../shared/samples');
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const workers = Number(arg('--workers') ?? availableParallelism());
const lang = arg('--lang') ?? 'chi_sim';
const skipBaseline = process.argv.includes('--no-ocrmypdf');

interface Item {
  id: string;
  files: string[];
  truth: string[];
}

async function items(): Promise<Item[]> {
  const out: Item[] = [];
  for (const f of (await readdir(join(SAMPLES, 'gt'))).sort()) {
    const gt = JSON.parse(await readFile(join(SAMPLES, 'gt', f), 'utf8')) as { item_id: string; files: string[]; pages: Array<{ lines: string[] }> };
    out.push({ id: gt.item_id, files: gt.files.map((x) => join(SAMPLES, 'items', x)), truth: gt.pages.map((p) => p.lines.join('\n')) });
  }
  return out;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

/** OCRmyPDF takes one PDF per item: img2pdf (which keeps JPEG bytes and DPI) makes them, untimed. */
async function baselineInputs(all: Item[], dir: string): Promise<Map<string, string>> {
  const inputs = new Map<string, string>();
  for (const item of all) {
    if (item.files[0].endsWith('.pdf')) inputs.set(item.id, item.files[0]);
    else {
      const pdf = join(dir, `${item.id}-in.pdf`);
      await run('/usr/bin/python3', ['-m', 'img2pdf', ...item.files, '-o', pdf]);
      inputs.set(item.id, pdf);
    }
  }
  return inputs;
}

/** CER as printed (full-width punctuation must stay full-width) per page, beside the NFKC CER. */
const printed = new Map<string, number>();

async function pdfPageCers(pdf: string, truth: string[]): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < truth.length; i++) {
    const { stdout } = await run('pdftotext', ['-f', String(i + 1), '-l', String(i + 1), pdf, '-']);
    out.push(cer(stdout, truth[i]));
    printed.set(`${pdf}#${i}`, cerAsPrinted(stdout, truth[i]));
  }
  return out;
}

interface Side {
  seconds: number;
  cer: Map<string, number[]>;
}
const all = await items();
const nPages = all.reduce((n, i) => n + i.truth.length, 0);
const dir = await mkdtemp(join(tmpdir(), 'bench-ocr-'));
console.log(`bench/ocr: ${nPages} pages from ${all.length} items; engine: tesseract.js ${lang} 4.0.0, ${workers} workers; baseline: ocrmypdf --jobs 2 -l chi_sim --deskew`);
try {
  const inputs = skipBaseline ? new Map<string, string>() : await baselineInputs(all, dir);
  // Item by item, the engine and then OCRmyPDF, so both see the same load from anything else
  // running on the machine. The engine's worker start-up counts (once), as OCRmyPDF's does per run.
  const a: Side = { seconds: 0, cer: new Map() };
  const b: Side | undefined = skipBaseline ? undefined : { seconds: 0, cer: new Map() };
  let t = performance.now();
  const pool = await createOcrPool({ workers, lang });
  a.seconds += (performance.now() - t) / 1000;
  for (const item of all) {
    t = performance.now();
    const r = await ocrDocument(item.files, { pool });
    a.seconds += (performance.now() - t) / 1000;
    const ours = join(dir, `${item.id}-engine.pdf`);
    await writeFile(ours, r.pdf);
    // CER of the text the PDF gives back (what a viewer or indexer gets), same as for OCRmyPDF.
    a.cer.set(item.id, await pdfPageCers(ours, item.truth));
    if (b) {
      const out = join(dir, `${item.id}-ocrmypdf.pdf`);
      t = performance.now();
      await run('ocrmypdf', ['--jobs', '2', '-l', 'chi_sim', '--deskew', '-q', inputs.get(item.id)!, out], { maxBuffer: 1 << 26 });
      b.seconds += (performance.now() - t) / 1000;
      b.cer.set(item.id, await pdfPageCers(out, item.truth));
    }
    process.stderr.write(`${item.id} done\n`);
  }
  await pool.close();
  console.log('\nitem  page  CER engine  CER ocrmypdf');
  for (const item of all) {
    for (let i = 0; i < item.truth.length; i++) {
      console.log(`${item.id}  p${i + 1}    ${pct(a.cer.get(item.id)![i]).padStart(7)}  ${b ? pct(b.cer.get(item.id)![i]).padStart(12) : ''}`);
    }
  }
  const aCer = mean([...a.cer.values()].flat());
  const aPpm = nPages / (a.seconds / 60);
  const asPrinted = (side: string) => mean([...printed].filter(([k]) => k.includes(`-${side}.pdf#`)).map(([, v]) => v));
  console.log(`\nengine:   ${aPpm.toFixed(1)} pages/min (${a.seconds.toFixed(1)} s incl. worker start), mean CER ${pct(aCer)} (NFKC), ${pct(asPrinted('engine'))} as printed`);
  if (b) {
    const bCer = mean([...b.cer.values()].flat());
    const bPpm = nPages / (b.seconds / 60);
    console.log(`ocrmypdf: ${bPpm.toFixed(1)} pages/min (${b.seconds.toFixed(1)} s), mean CER ${pct(bCer)} (NFKC), ${pct(asPrinted('ocrmypdf'))} as printed`);
    console.log(`ratios:   throughput ${(aPpm / bPpm).toFixed(2)}x (target >= 2.0), CER ${(aCer / bCer).toFixed(2)} of ocrmypdf's (target <= 0.5)`);
  }
  const load = await readFile('/proc/loadavg', 'utf8').catch(() => '?');
  console.log(`load average at end: ${load.trim()} (other processes share the CPU: compare the columns, not absolute figures)`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
