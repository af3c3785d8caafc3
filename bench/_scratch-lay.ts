import Tesseract from 'tesseract.js';
import { openInputs } from '../ingest/index.ts';
import { cleanWithSpecks } from '../ingest/ocr/clean-page.ts';
import { measureLayout, toPgm, turnImage } from '../ingest/ocr/orient.ts';
import { toGrey } from '../ingest/ocr/recognise.ts';
import { linesOf } from '../ingest/ocr/recover-lines.ts';
import { unreadInk } from '../ingest/ocr/unread-ink.ts';
import { benchItems } from './ocr-set/index.ts';
const w = await Tesseract.createWorker(['chi_sim'], Tesseract.OEM.LSTM_ONLY, { langPath: '/tmp/archive-ocr-0/tessdata', gzip: true, cacheMethod: 'none' });
const want = process.argv.slice(2); // e.g. G0005:1
for (const { items } of await benchItems('generated')) for (const item of items) {
  const srcs = await openInputs(item.files);
  for (let i = 0; i < srcs.length; i++) {
    if (!want.includes(`${item.id}:${i + 1}`)) continue;
    const g = await toGrey(await srcs[i].pixels());
    const { pixels: c } = await cleanWithSpecks(g, srcs[i].dpi);
    const l = await measureLayout(c);
    const { pixels } = await turnImage(c, Math.abs(l.skewDeg) >= 0.1 ? -l.skewDeg : 0);
    const img = Buffer.from(toPgm(pixels));
    const opts = (psm: string) => ({ user_defined_dpi: String(srcs[i].dpi), tessedit_pageseg_mode: psm, debug_file: '/dev/null' }) as any;
    let u = process.cpuUsage();
    const first = (await w.recognize(img, opts('3'), { text: false, blocks: true })).data;
    let d = process.cpuUsage(u); const tFirst = (d.user + d.system) / 1000;
    const u1 = unreadInk(first, pixels);
    u = process.cpuUsage();
    const lay = (await w.recognize(img, opts('4'), { text: false, blocks: false, layoutBlocks: true } as any)).data as any;
    d = process.cpuUsage(u); const tLay = (d.user + d.system) / 1000;
    // layout lines as a page with a dummy word so linesOf keeps them
    const blocks = (lay.layoutBlocks ?? []).map((b: any) => ({ ...b, paragraphs: b.paragraphs.map((p: any) => ({ ...p, lines: p.lines.map((ln: any) => ({ ...ln, words: [{ text: 'x' }] })) })) }));
    const nl = blocks.flatMap((b: any) => b.paragraphs.flatMap((p: any) => p.lines)).length;
    const ul = unreadInk({ blocks } as any, pixels, u1.cell);
    u = process.cpuUsage();
    const again = (await w.recognize(img, opts('4'), { text: false, blocks: true })).data;
    d = process.cpuUsage(u); const tAgain = (d.user + d.system) / 1000;
    const u2 = unreadInk(again, pixels, u1.cell);
    console.log(`${item.id} p${i + 1}: first ${tFirst.toFixed(0)} ms unread ${u1.unreadCells}/${u1.printCells}; layout-only psm4 ${tLay.toFixed(0)} ms ${nl} lines unread ${ul.unreadCells}; psm4 ${tAgain.toFixed(0)} ms ${linesOf(again).length} lines unread ${u2.unreadCells}`);
    console.log(JSON.stringify(lay.layoutBlocks?.[0]?.paragraphs?.[0]?.lines?.[0] ?? null).slice(0, 300));
  }
}
await w.terminate();
