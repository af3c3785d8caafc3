import { mkdirSync, readlinkSync, renameSync, symlinkSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { ApplianceError } from '../../core/index.ts';
import { traineddataPath } from './lang-data.ts';

/**
 * tesseract.js takes one `langPath` folder for all languages, while each language ships in its own
 * npm package. Make a folder of symlinks to every needed language's .gz and return its absolute
 * path (absolute, so tesseract.js can never mistake it for a URL and fetch it).
 */
export function ensureLangDir(cacheDir: string, langs: string[]): string {
  const dir = resolve(cacheDir, 'tessdata');
  mkdirSync(dir, { recursive: true });
  for (const lang of new Set(langs)) {
    if (!/^[a-z_]+$/.test(lang)) {
      throw new ApplianceError('OCR_LANG_INVALID', `OCR 语言名称无效：${lang}`, `invalid OCR language name: ${lang}`);
    }
    const target = traineddataPath(lang);
    if (!target) {
      throw new ApplianceError('OCR_LANG_MISSING', `缺少 OCR 语言数据：${lang}（npm 包 @tesseract.js-data/${lang}）`, `OCR language data missing: ${lang} (npm package @tesseract.js-data/${lang})`);
    }
    const link = join(dir, `${lang}.traineddata.gz`);
    let current: string | undefined;
    try {
      current = readlinkSync(link);
    } catch {
      current = undefined;
    }
    if (current === target) continue;
    // Replace atomically so a concurrent reader never sees a missing or half-made link.
    const tmp = `${link}.${process.pid}.tmp`;
    symlinkSync(target, tmp);
    renameSync(tmp, link);
  }
  if (!isAbsolute(dir)) throw new Error('lang dir must be absolute');
  return dir;
}
