// The synthetic archive of bench/search.ts: item i is always the same (drawn from its own seed).
// Text: sentences of the samples' ground truth (numbers re-drawn) mixed with sentences drawn from the
// 20,000 most frequent words of jieba's dictionary by frequency (bench/data/zh-words.tsv).
import { readFileSync } from 'node:fs';
import type { Classification } from '../core/config.ts';
import type { ItemMetadata, PageText, Retention } from '../core/item.ts';
import type { StoredItem } from '../search/index.ts';
import { groundTruthSentences } from './synthetic-corpus.ts';
import { rng } from '../test/search/support.ts';

// ---- synthetic corpus ----
const sentences = groundTruthSentences();
const words = readFileSync(new URL('./data/zh-words.tsv', import.meta.url), 'utf8')
  .split('\n')
  .filter((l) => l && !l.startsWith('#'))
  .map((l) => l.split('\t'));
const wordText = words.map((w) => w[0]);
const wordCum = new Float64Array(words.length);
words.reduce((s, w, i) => (wordCum[i] = s + Number(w[1])), 0);
const wordTotal = wordCum[wordCum.length - 1];
function drawWord(rand: () => number): string {
  const x = rand() * wordTotal;
  let lo = 0;
  let hi = wordCum.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (wordCum[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return wordText[lo];
}

export const POSTS = ['BGS', 'ZH', 'DAS', 'XXZX', 'JGBZ', 'RSK', 'CWK', 'SYDJ'];
const FONDS = ['J012', 'J031', 'J105', 'J220'];
const DEPTS = ['BGS', 'DAS', 'DZZW', 'JGBZ', 'SYDJ', 'XXZX'];
const TITLES = sentences.filter((s) => s.startsWith('关于') && s.length < 40);

function sentence(rand: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  if (rand() < 0.35) return pick(sentences).replace(/\d+/g, (d) => String(Math.floor(rand() * 10 ** d.length)).padStart(d.length, '0'));
  const n = 6 + Math.floor(rand() * 20);
  let s = '';
  for (let i = 0; i < n; i++) {
    s += drawWord(rand);
    if (rand() < 0.02) s += `${2000 + Math.floor(rand() * 26)}年${1 + Math.floor(rand() * 12)}月`;
    if (i < n - 1 && rand() < 0.12) s += '，';
  }
  return s + (rand() < 0.85 ? '。' : '；');
}

function pageText(rand: () => number): string {
  const lines: string[] = [];
  let n = 0;
  const target = 550 + Math.floor(rand() * 350);
  while (n < target) {
    const s = sentence(rand);
    // Printed lines of ~30 characters, as OCR gives them.
    for (let i = 0; i < s.length; i += 30) lines.push(s.slice(i, i + 30));
    n += s.length;
  }
  return lines.join('\n');
}

/** Item i, always the same (its own seed): a kept run resumes by number. */
export function makeItem(i: number): StoredItem {
  const rand = rng(0x9e3779b1 ^ Math.imul(i + 1, 0x85ebca6b));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const year = 2000 + Math.floor(rand() * 26);
  const fonds = pick(FONDS);
  const retention = pick(['Y', 'D30', 'D10'] as const satisfies readonly Retention[]);
  const department = pick(DEPTS);
  const no = String(i % 10000).padStart(4, '0');
  const pageCount = 1 + Math.floor(rand() * 6);
  const pages: PageText[] = Array.from({ length: pageCount }, (_, k) => ({
    page: k + 1,
    width: 2480,
    height: 3508,
    dpi: 300,
    rotation: 0,
    text: pageText(rand),
    confidence: 90,
    lines: [],
    source: 'ocr',
  }));
  const posts = [...new Set([pick(POSTS), ...(rand() < 0.3 ? [pick(POSTS)] : [])])];
  const meta: ItemMetadata = {
    itemId: `B${String(i).padStart(7, '0')}`,
    archivalCode: `${fonds}-${year}-${retention}-${department}-${no}`,
    fonds,
    year,
    retention,
    department,
    itemNo: i % 10000,
    title: pick(TITLES),
    docNumber: rand() < 0.6 ? `市编办发〔${year}〕${1 + Math.floor(rand() * 120)}号` : undefined,
    classification: (rand() < 0.7 ? '公开' : '内部') as Classification,
    posts,
    pageCount,
    originals: [],
    createdAt: '2026-11-01T00:00:00Z',
    updatedAt: '2026-11-01T00:00:00Z',
  };
  return { meta, pages };
}
