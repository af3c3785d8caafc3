// Big-item benchmark: a 500-page image PDF of A4 300-DPI scans and a 50 MB 600-DPI colour scan,
// each ingested end to end (real clamd, real Meilisearch, the ingest service) in a child process of
// its own, whose peak RSS (VmHWM) is the appliance's for that item. Prints per case: input size,
// pages, wall time, stage times, peak RSS of the appliance and of Meilisearch, and checks the PDF
// (pdfinfo page count; qpdf --check with --qpdf).
//
// Run: npx tsx bench/big-item.ts [--pages 500] [--substitute-ocr] [--cases pdf,fine] [--tree DIR] [--qpdf]
//   --substitute-ocr  replaces Tesseract by an engine that reads no text, instantly (500 real OCR
//                     passes of A4 pages take most of an hour on this machine); said in the output.
//   --tree DIR        run the appliance side from another checkout (e.g. the code before a change).
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { startTestClamd } from '../test/support/clamd.ts';
import { tempDir } from '../test/support/appliance.ts';
import { a4ScanPages, write600DpiScan, writeImagePdf } from '../test/support/big-item-inputs.ts';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const PAGES = Number(arg('--pages', '500'));
const SUBSTITUTE = process.argv.includes('--substitute-ocr');
const CASES = arg('--cases', 'pdf,fine').split(',');
const QPDF = process.argv.includes('--qpdf');
const TREE = resolve(arg('--tree', resolve(import.meta.dirname, '..')));
const MB = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MB`;

/** The malloc settings the appliance's systemd unit runs it with (its Environment=MALLOC_* lines), for the child. */
function serviceMalloc(): Record<string, string> {
  const unit = readFileSync(join(TREE, 'appliance/systemd/archive.service'), 'utf8');
  return Object.fromEntries([...unit.matchAll(/^Environment=(MALLOC_\w+)=(\S+)$/gm)].map((m) => [m[1], m[2]]));
}

function runChild(dataDir: string, clamd: string, file: string): Promise<Record<string, any>> {
  return new Promise((res, rej) => {
    const args = [join(TREE, 'node_modules/.bin/tsx'), join(TREE, 'bench/big-item-child.ts'), dataDir, clamd, file, ...(SUBSTITUTE ? ['--substitute-ocr'] : [])];
    const child = spawn(process.execPath, args, { cwd: TREE, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...serviceMalloc() } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', rej);
    child.on('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) rej(new Error(`child exited ${code}: ${out}`));
      else res(JSON.parse(line));
    });
  });
}

const dir = await tempDir('archive-bench-big-');
const clamd = await startTestClamd({ maxFileSize: 256 * 1024 * 1024 });
try {
  console.log(`appliance code: ${TREE}; malloc settings of its systemd unit: ${JSON.stringify(serviceMalloc())}`);
  console.log(SUBSTITUTE ? 'OCR: SUBSTITUTED (an engine that reads no text, instantly; decoding, PDF, store, index real; OCR workers not in RSS)' : 'OCR: real (tesseract.js)');
  const inputs: Array<{ name: string; file: string }> = [];
  if (CASES.includes('pdf')) {
    const file = join(dir, `scan-${PAGES}.pdf`);
    const t = performance.now();
    await writeImagePdf(file, a4ScanPages(PAGES), 300, 75);
    console.log(`made ${PAGES}-page image PDF (A4 300 DPI JPEG): ${MB((await stat(file)).size)} in ${((performance.now() - t) / 1000).toFixed(0)} s`);
    inputs.push({ name: `${PAGES}-page image PDF`, file });
  }
  if (CASES.includes('fine')) {
    const file = join(dir, 'scan-600dpi.tif');
    await write600DpiScan(file, ['关于库房温湿度检查的通知', '各科室：请于本月底前完成档案整理。']);
    console.log(`made 600-DPI A4 colour TIFF: ${MB((await stat(file)).size)}`);
    inputs.push({ name: '600-DPI single page', file });
  }
  for (const [i, { name, file }] of inputs.entries()) {
    const r = await runChild(join(dir, `data-${i}`), clamd.address, file);
    const pdfPages = r.outcome === 'archived' ? /^Pages:\s+(\d+)/m.exec(execFileSync('pdfinfo', [r.pdf], { encoding: 'utf8' }))?.[1] : '-';
    // qpdf --check of a 128 MB PDF took over 15 minutes on the loaded test machine: only with --qpdf.
    let check = 'not run (--qpdf)';
    if (r.outcome === 'archived' && QPDF) {
      try {
        execFileSync('qpdf', ['--check', r.pdf], { stdio: 'ignore' });
        check = 'ok';
      } catch {
        check = 'FAILED';
      }
    }
    console.log(`\n${name}: ${MB((await stat(file)).size)} in, outcome ${r.outcome}${r.error ? ` (${r.error.code})` : ''}, ${r.pages} pages`);
    console.log(`  peak RSS appliance (VmHWM): ${MB(r.hwm)}   Meilisearch: ${MB(r.meiliHwm)}`);
    console.log(
      `  ingest wall time: ${(r.ingestMs / 1000).toFixed(1)} s, CPU ${r.ingestCpuMs === undefined ? '-' : `${(r.ingestCpuMs / 1000).toFixed(0)} s (${(r.ingestCpuMs / 1000 / r.pages).toFixed(2)} s/page)`}   stages (s): ${Object.entries(
        r.timings ?? {},
      )
        .map(([k, v]) => `${k} ${(Number(v) / 1000).toFixed(1)}`)
        .join(', ')}`,
    );
    console.log(`  document.pdf: ${MB(r.pdfBytes)}, ${pdfPages} pages, qpdf --check ${check}, streamed in ${(r.downloadMs / 1000).toFixed(2)} s`);
  }
} finally {
  await clamd.stop();
  execFileSync('rm', ['-rf', dir]);
}
