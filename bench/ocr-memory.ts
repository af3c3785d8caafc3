// Where an OCR run's memory is: an image PDF of A4 300-DPI scans (as bench/big-item.ts makes it) is
// read page by page through the ingest's OCR session and pool, as many pages in flight as the
// runner keeps (workers + 1), results dropped. Every 200 ms the process's RSS is sampled, split into
// the WebAssembly memories (each tesseract.js worker's heap is one mapping of several GB reserved,
// its touched part resident) and the rest; printed per page and as peaks, with worker start times.
//
// Run: npx tsx bench/ocr-memory.ts [--pages 40] [--workers 2] [--lanes workers+1] [--substitute-ocr] [--tree DIR]
//   --tree DIR  read with the OCR code of another checkout (e.g. the code before a change).
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { inLanes } from '../core/index.ts';
import { a4ScanPages, writeImagePdf } from '../test/support/big-item-inputs.ts';
import { tempDir } from '../test/support/appliance.ts';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const PAGES = Number(arg('--pages', '40'));
const WORKERS = Number(arg('--workers', String(availableParallelism())));
const LANES = Number(arg('--lanes', String(WORKERS + 1)));
const TREE = resolve(arg('--tree', resolve(import.meta.dirname, '..')));
const MB = (kb: number) => `${(kb / 1024).toFixed(0)}`;

const { createOcrPool } = (await import(join(TREE, 'ingest/ocr/pool.ts'))) as typeof import('../ingest/ocr/pool.ts');
const { openOcrSession } = (await import(join(TREE, 'ingest/ocr/page-session.ts'))) as typeof import('../ingest/ocr/page-session.ts');

/**
 * RSS in kB: the whole process, the WebAssembly memories (each tesseract.js worker's heap: a
 * read-write mapping followed by the rest of its multi-GB reservation, inaccessible) and the other
 * anonymous mappings with more than 32 MB resident (glibc's per-thread malloc arenas of 64 MB,
 * the V8 heaps, big image buffers).
 */
function sample(): { rss: number; wasm: number[]; big: number[] } {
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
  const maps: Array<{ start: number; end: number; perms: string; anon: boolean; rss: number }> = [];
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const h = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ (\S+) (\d+)\s*(\S*)/.exec(line);
    if (h) maps.push({ start: parseInt(h[1], 16), end: parseInt(h[2], 16), perms: h[3], anon: h[5] === '0' && !h[6], rss: 0 });
    const m = /^Rss:\s+(\d+) kB/.exec(line);
    if (m && maps.length) maps[maps.length - 1].rss = Number(m[1]);
  }
  const wasm: number[] = [];
  const big: number[] = [];
  maps.forEach((m, i) => {
    if (!m.anon || m.perms !== 'rw-p') return;
    const next = maps[i + 1];
    if (next && next.start === m.end && next.perms === '---p' && next.end - next.start > 2 ** 32) wasm.push(m.rss);
    else if (m.rss > 32 * 1024) big.push(m.rss);
  });
  return { rss, wasm: wasm.sort((a, b) => b - a), big: big.sort((a, b) => b - a) };
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const show = (s: ReturnType<typeof sample>) =>
  `RSS ${MB(s.rss)} MB = wasm ${s.wasm.map(MB).join(' + ') || 0} + arenas/big ${s.big.map(MB).join(' + ') || 0} + rest ${MB(s.rss - sum(s.wasm) - sum(s.big))} MB`;
let peak = sample();
const timer = setInterval(() => {
  const s = sample();
  if (s.rss > peak.rss) peak = s;
}, 200);

// The PDF is made by this process, read by a child of its own (its RSS is the OCR's alone).
const CHILD = arg('--child', '');
if (!CHILD) {
  const dir = await tempDir('archive-bench-ocrmem-');
  try {
    await writeImagePdf(join(dir, 'scan.pdf'), a4ScanPages(PAGES), 300, 75);
    const args = [join(TREE, 'node_modules/.bin/tsx'), import.meta.filename, ...process.argv.slice(2), '--child', dir];
    const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
    if (r.status !== 0) process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit();
}
const dir = CHILD;
const file = join(dir, 'scan.pdf');
console.log(`OCR code: ${TREE}; ${PAGES} A4 300-DPI pages, ${WORKERS} workers, ${LANES} pages in flight`);
const before = sample();
console.log(`before pool: RSS ${MB(before.rss)} MB`);
const t0 = performance.now();
// --substitute-ocr: a pool that reads no text, at once (what the session holds without Tesseract).
const pool = process.argv.includes('--substitute-ocr')
  ? {
      size: WORKERS,
      lang: 'chi_sim',
      recognise: async () => ({ blocks: [] }) as never,
      layoutLines: async () => [],
      detectOrientation: async () => ({ degrees: 0 as const, confidence: 0 }),
      close: async () => undefined,
    }
  : await createOcrPool({ workers: WORKERS, lang: 'chi_sim', cacheDir: join(dir, 'lang') });
const started = sample();
console.log(`pool started in ${(performance.now() - t0).toFixed(0)} ms: ${show(started)}`);
const session = await openOcrSession(pool, [file]);
const cpu0 = process.cpuUsage();
const t1 = performance.now();
let done = 0;
await inLanes(session.pageCount, LANES, async (i) => {
  const p = await session.recognise(i);
  done++;
  const s = sample();
  if (done % Math.max(1, Math.round(PAGES / 20)) === 0 || done === PAGES) console.log(`page ${String(done).padStart(4)}: ${show(s)} (chars ${p.text.text.length})`);
});
const wall = (performance.now() - t1) / 1000;
const cpu = process.cpuUsage(cpu0);
await session.close();
await pool.close();
clearInterval(timer);
const hwm = Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
console.log(`\nVmHWM ${MB(hwm)} MB; sampled peak ${show(peak)}`);
console.log(`${PAGES} pages in ${wall.toFixed(1)} s: ${((PAGES / wall) * 60).toFixed(1)} pages/min, CPU ${((cpu.user + cpu.system) / 1e6 / PAGES).toFixed(2)} s/page`);
