import { describe, expect, it } from 'vitest';
// The browser modules that touch no DOM run here as they are served.
import { hitBoxes, termsOf } from '../../web/public/js/hits.js';
import { planSelection } from '../../web/public/js/upload-plan.js';
import { elapsedMs, jobVerdict, listedOutcomes, pagesPerMinute, processedPages } from '../../web/public/js/job-summary.js';

const box = (x0: number, y0: number, x1: number, y1: number) => ({ x0, y0, x1, y1 });
const sym = (text: string, x: number, y: number) => ({ text, box: box(x, y, x + 10, y + 12), confidence: 90 });

/** Two lines: "档案管理" and "业务培训班", one symbol per character, 10 px wide. */
const page = {
  page: 1, width: 200, height: 100, dpi: 300, rotation: 0, text: '档案管理\n业务培训班', confidence: 90, source: 'ocr',
  lines: [
    { text: '档案 管理', box: box(0, 0, 40, 12), confidence: 90, words: [{ text: '档案', box: box(0, 0, 20, 12), confidence: 90, symbols: [sym('档', 0, 0), sym('案', 10, 0)] }, { text: '管理', box: box(20, 0, 40, 12), confidence: 90, symbols: [sym('管', 20, 0), sym('理', 30, 0)] }] },
    { text: '业务培训班', box: box(0, 20, 50, 32), confidence: 90, words: [{ text: '业务培训班', box: box(0, 20, 50, 32), confidence: 90, symbols: ['业', '务', '培', '训', '班'].map((c, i) => sym(c, i * 10, 20)) }] },
  ],
};

describe('hit boxes on the scan', () => {
  it('outlines a term across OCR word breaks as one box per line', () => {
    expect(hitBoxes(page, ['案管'])).toEqual([{ ...box(10, 0, 30, 12), line: 0, term: '案管' }]);
  });

  it('splits a phrase that wraps onto the next line into one box per line', () => {
    const b = hitBoxes(page, ['管理业务']);
    expect(b.map((x) => [x.line, x.x0, x.x1])).toEqual([[0, 20, 40], [1, 0, 20]]);
  });

  it('finds every occurrence, ignores absent terms, folds width and spaces', () => {
    expect(hitBoxes(page, ['不存在'])).toEqual([]);
    expect(hitBoxes(page, ['培 训'])).toHaveLength(1);
    expect(termsOf('"档案 管理"  -培训，班')).toEqual(['档案', '管理', '培训', '班']);
  });
});

describe('upload plan', () => {
  const f = (path: string) => ({ file: path, path });
  it('a folder of items drops its own name; the CSV at its top becomes the manifest', () => {
    const p = planSelection([f('batch/S0003/page-001.jpg'), f('batch/S0003/page-002.jpg'), f('batch/S0005.pdf'), f('batch/items.csv'), f('batch/.DS_Store')]);
    expect(p.files.map((x) => x.path)).toEqual(['S0003/page-001.jpg', 'S0003/page-002.jpg', 'S0005.pdf']);
    expect(p.csv?.path).toBe('items.csv');
    expect(p.items).toBe(2);
  });

  it('a folder of page images is one item and keeps its name', () => {
    const p = planSelection([f('S0003/page-001.jpg'), f('S0003/page-002.jpg')]);
    expect(p.files.map((x) => x.path)).toEqual(['S0003/page-001.jpg', 'S0003/page-002.jpg']);
    expect(p.items).toBe(1);
  });

  it('loose files are one item each', () => {
    expect(planSelection([f('a.pdf'), f('b.tif')]).items).toBe(2);
  });
});

describe('job badge and rate', () => {
  it('a finished job where every item went wrong is failed, some wrong is partial, none wrong is done', () => {
    expect(jobVerdict('done', ['failed', 'quarantined'])).toBe('failed');
    expect(jobVerdict('done', ['refused'])).toBe('failed');
    expect(jobVerdict('done', ['archived', 'failed'])).toBe('partial');
    expect(jobVerdict('done', ['duplicate', 'failed'])).toBe('partial');
    expect(jobVerdict('done', ['archived', 'duplicate'])).toBe('done');
    expect(jobVerdict('running', ['failed', 'pending'])).toBe('running');
    // A row of GET /api/jobs lists only the items that did not get archived.
    const row = { items: 3, itemsFinished: 3, failures: [{ outcome: 'failed' as const }] };
    expect(listedOutcomes(row)).toEqual(['failed', 'archived', 'archived']);
    expect(jobVerdict('done', listedOutcomes({ items: 2, itemsFinished: 2, failures: [{ outcome: 'failed' }, { outcome: 'failed' }] }))).toBe('failed');
  });

  it('counts pages read into the archive only, and shows no rate for a batch that failed at once', () => {
    const failedAtOnce = [{ outcome: 'failed' as const, pageCount: 100, pagesDone: 0 }];
    expect(processedPages(failedAtOnce)).toBe(0);
    // The server counted the failed pages as done: 100 pages in 1.1 s (the "5454.5 页/分钟").
    const progress = { pagesDone: 100, pagesPerMinute: 5454.5 };
    expect(pagesPerMinute(processedPages(failedAtOnce), elapsedMs(progress))).toBeUndefined();
    expect(pagesPerMinute(3, 1_000)).toBeUndefined();
    const items = [{ outcome: 'archived' as const, pageCount: 4, pagesDone: 4 }, { outcome: 'pending' as const, pageCount: 10, pagesDone: 2 }, { outcome: 'failed' as const, pageCount: 50, pagesDone: 0 }];
    expect(processedPages(items)).toBe(6);
    expect(pagesPerMinute(6, elapsedMs({ pagesDone: 56 }, { startedAt: '2026-11-24T10:00:00Z', finishedAt: '2026-11-24T10:01:00Z' }))).toBe(6);
    // Running: the elapsed time comes from the server's own figures, not the browser's clock.
    expect(elapsedMs({ pagesDone: 56, pagesPerMinute: 28 })).toBe(120_000);
  });
});
