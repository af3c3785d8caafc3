// Where OCR spends its CPU, stage by stage: every page of the bench sets read one at a time with one
// recogniser worker (so each stage's CPU, this process's and the worker thread's, is its own), with
// the per-stage table (calls, CPU and wall ms per page, share) and the re-reads per page. The page
// CER (NFKC, from the page text) is printed too, to see at a glance what a change did to accuracy;
// bench/ocr.ts (through the searchable PDF, before and after in one run) is the figure that counts.
// Run: npx tsx bench/ocr-stages.ts [--set samples|generated|all] [--pages] (a line per page) [--no-clean] [--no-recover]
import { cer, cerAsPrinted } from '../ingest/ocr/cer.ts';
import { createOcrPool, openInputs } from '../ingest/index.ts';
import { greyIfColourless, pdfImage } from '../ingest/ocr/page-session.ts';
import { recognisePage } from '../ingest/ocr/recognise.ts';
import { timed, type StageStats } from '../ingest/ocr/stage-stats.ts';
import { benchItems } from './ocr-set/index.ts';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const perPage = process.argv.includes('--pages');
// What each part brings: --no-clean reads the page as scanned, --no-recover reads no line again.
const how = { clean: !process.argv.includes('--no-clean'), recover: !process.argv.includes('--no-recover') };
const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

const pool = await createOcrPool({ workers: 1, lang: arg('--lang') ?? 'chi_sim' });
try {
  for (const { set, items } of await benchItems(arg('--set') ?? 'all')) {
    const total: StageStats = new Map();
    const cers: number[] = [];
    const printed: number[] = [];
    let pages = 0;
    let cpu = 0;
    for (const item of items) {
      const sources = await openInputs(item.files);
      for (let i = 0; i < sources.length; i++) {
        const st: StageStats = new Map();
        const u = process.cpuUsage();
        // As the page session does: a grey page saved as RGB is taken as grey once, after decoding.
        const px = await timed(st, 'decode', async () => greyIfColourless(await sources[i].pixels()));
        const rec = await recognisePage(pool, sources[i], i + 1, px, { ...how, stats: st });
        await timed(st, 'pdf/viewer image', () => pdfImage(sources[i], px));
        const d = process.cpuUsage(u);
        const pageCpu = (d.user + d.system) / 1000;
        cpu += pageCpu;
        pages++;
        const truth = item.lines[i].join('\n');
        const c = cer(rec.text.text, truth);
        cers.push(c);
        printed.push(cerAsPrinted(rec.text.text, truth));
        for (const [k, v] of st) {
          const t = total.get(k) ?? { calls: 0, wallMs: 0, cpuMs: 0, px: 0 };
          total.set(k, { calls: t.calls + v.calls, wallMs: t.wallMs + v.wallMs, cpuMs: t.cpuMs + v.cpuMs, px: t.px + v.px });
        }
        if (perPage) {
          const n = (k: string) => st.get(k)?.calls ?? 0;
          const ms = (k: string) => Math.round(st.get(k)?.cpuMs ?? 0);
          const reads = [...st.keys()].filter((k) => k.startsWith('recover: read')).reduce((a, k) => a + n(k), 0);
          console.log(
            `${item.id} p${i + 1}  cpu ${Math.round(pageCpu)} ms  read ${ms('read page')}  clean ${ms('clean: background') + ms('clean: despeckle')}  recover ${ms('recover (all)')} (${n('recover: weak lines found')} weak, ${reads} reads, ${n('recover: lines replaced')} replaced)  lost ${ms('lost (all)')} (${n('lost: read')} reads, ${n('lost: lines kept')} kept)  CER ${pct(c)}  ${item.labels?.[i] ?? ''}`,
          );
        }
      }
      process.stderr.write(`${set} ${item.id} done\n`);
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const q90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.ceil(0.9 * xs.length) - 1];
    console.log(
      `\n${set}: ${pages} pages, one at a time, 1 worker: CPU ${(cpu / pages / 1000).toFixed(2)} s/page; CER NFKC mean ${pct(mean(cers))} p90 ${pct(q90(cers))}, printed mean ${pct(mean(printed))} p90 ${pct(q90(printed))}`,
    );
    console.log('  stage                          calls/page  CPU ms/page  wall ms/page  share of CPU  kpx/call');
    for (const [k, v] of [...total].sort((a, b) => a[0].localeCompare(b[0]))) {
      const timedStage = v.cpuMs > 0 || v.wallMs > 0;
      console.log(
        `  ${k.padEnd(30)} ${(v.calls / pages).toFixed(2).padStart(10)}  ${timedStage ? (v.cpuMs / pages).toFixed(0).padStart(11) : ''.padStart(11)}  ${timedStage ? (v.wallMs / pages).toFixed(0).padStart(12) : ''.padStart(12)}  ${timedStage ? pct(v.cpuMs / cpu).padStart(12) : ''.padStart(12)}  ${v.px ? (v.px / v.calls / 1000).toFixed(0).padStart(8) : ''}`,
      );
    }
  }
} finally {
  await pool.close();
}
