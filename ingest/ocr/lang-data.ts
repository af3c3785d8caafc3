import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** The model each language is read with (see field notes: 4.0.0 is the accurate one). */
const MODEL_DIR = '4.0.0';

/** Path of a language's traineddata.gz inside its npm package, or undefined if not installed. */
export function traineddataPath(lang: string): string | undefined {
  try {
    const pkg = dirname(require.resolve(`@tesseract.js-data/${lang}/package.json`));
    const file = join(pkg, MODEL_DIR, `${lang}.traineddata.gz`);
    return existsSync(file) ? file : undefined;
  } catch {
    return undefined;
  }
}

export interface OcrDataStatus {
  status: 'ok' | 'down';
  reason: string;
  languages: Record<string, string | null>;
}

export function ocrDataStatus(lang: string): OcrDataStatus {
  const langs = lang.split('+');
  const languages: Record<string, string | null> = {};
  for (const l of langs) languages[l] = traineddataPath(l) ?? null;
  const missing = langs.filter((l) => !languages[l]);
  return missing.length
    ? { status: 'down', reason: `未安装：${missing.join(', ')}（npm 包 @tesseract.js-data/${missing[0]}），无法识别文字`, languages }
    : { status: 'ok', reason: `已安装：${langs.join(', ')}`, languages };
}
