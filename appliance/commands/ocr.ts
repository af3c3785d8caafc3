import { resolve } from 'node:path';
import type { Command } from 'commander';
import { createOcrPool, ocrDocument, openInputs } from '../../ingest/index.ts';
import { EXIT, action, configFor, globalOptions } from '../cli-common.ts';
import { ApplianceError, writeFileAtomic } from '../../core/index.ts';

interface OcrOptions {
  output: string;
  lang?: string;
  workers?: string;
}

export function registerOcr(program: Command): void {
  program
    .command('ocr')
    .description('识别扫描件（JPEG、PNG、多页 TIFF、PDF），生成可检索 PDF（完全离线）\nOCR scanned pages into one searchable PDF (offline)')
    .argument('<input...>', '输入文件，按页序 input files in page order')
    .requiredOption('-o, --output <file>', '输出 PDF output PDF')
    .option('--lang <langs>', '识别语言 languages, e.g. chi_sim+eng (default: config ocr.lang)')
    .option('--workers <n>', '识别进程数 OCR workers (default: config ocr.workers)')
    .action(
      action(async (inputs: string[], opts: OcrOptions, cmd: Command) => {
        const cfg = configFor(cmd);
        const json = Boolean(globalOptions(cmd).json);
        const lang = opts.lang ?? cfg.ocr.lang;
        if (!/^[a-z_]+(\+[a-z_]+)*$/.test(lang)) throw new ApplianceError('OCR_LANG_INVALID', `OCR 语言名称无效：${lang}`, `invalid OCR language: ${lang}`);
        const workers = opts.workers ? Number(opts.workers) : cfg.ocr.workers;
        if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new ApplianceError('OCR_WORKERS_INVALID', `识别进程数无效：${opts.workers}`, `invalid worker count: ${opts.workers}`);
        const out = resolve(opts.output);
        const started = Date.now();
        const files = inputs.map((f) => resolve(f));
        // Refuse bad inputs before the engine spends seconds loading its language data.
        await openInputs(files);
        const pool = await createOcrPool({ workers, lang });
        try {
          const r = await ocrDocument(files, {
            pool,
            onProgress: (p) => process.stderr.write(`第 ${p.done}/${p.pages} 页完成（${p.source === 'ocr' ? `识别置信度 ${p.confidence}` : '沿用 PDF 原有文字'}）\n`),
          });
          await writeFileAtomic(out, r.pdf);
          const seconds = (Date.now() - started) / 1000;
          if (json) {
            const pages = r.pages.map((p, i) => ({
              page: p.page,
              source: p.source,
              confidence: p.confidence,
              rotation: p.rotation,
              skewDeg: r.skew[i],
              chars: [...p.text.replace(/\s/g, '')].length,
              lines: p.lines.length,
              width: p.width,
              height: p.height,
              dpi: p.dpi,
              text: p.text,
            }));
            process.stdout.write(`${JSON.stringify({ ok: true, output: out, bytes: r.pdf.length, seconds, pages })}\n`);
          } else {
            process.stderr.write(`已生成 ${out}（${r.pages.length} 页，${(r.pdf.length / 1e6).toFixed(1)} MB，用时 ${seconds.toFixed(1)} 秒）\n`);
          }
        } finally {
          await pool.close();
        }
        return EXIT.ok;
      }),
    );
}
