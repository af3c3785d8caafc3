import { describe, expect, it } from 'vitest';
// The browser modules that touch no DOM run here as they are served.
import { hitBoxes, termsOf } from '../../web/public/js/hits.js';
import { planSelection } from '../../web/public/js/upload-plan.js';
import { jobVerdict, listedOutcomes } from '../../web/public/js/job-summary.js';
import { importPage, retryDelay } from '../../web/public/js/page-loader.js';

const box = (x0: number, y0: number, x1: number, y1: number) => ({ x0, y0, x1, y1 });
const sym = (text: string, x: number, y: number) => ({ text, box: box(x, y, x + 10, y + 12), confidence: 90 });

/** Two lines: "档案管理" and "业务培训班", one symbol per character, 10 px wide. */
const page = {
  page: 1,
  width: 200,
  height: 100,
  dpi: 300,
  rotation: 0,
  text: '档案管理\n业务培训班',
  confidence: 90,
  source: 'ocr',
  lines: [
    {
      text: '档案 管理',
      box: box(0, 0, 40, 12),
      confidence: 90,
      words: [
        { text: '档案', box: box(0, 0, 20, 12), confidence: 90, symbols: [sym('档', 0, 0), sym('案', 10, 0)] },
        { text: '管理', box: box(20, 0, 40, 12), confidence: 90, symbols: [sym('管', 20, 0), sym('理', 30, 0)] },
      ],
    },
    {
      text: '业务培训班',
      box: box(0, 20, 50, 32),
      confidence: 90,
      words: [{ text: '业务培训班', box: box(0, 20, 50, 32), confidence: 90, symbols: ['业', '务', '培', '训', '班'].map((c, i) => sym(c, i * 10, 20)) }],
    },
  ],
};

describe('hit boxes on the scan', () => {
  it('outlines a term across OCR word breaks as one box per line', () => {
    expect(hitBoxes(page, ['案管'])).toEqual([{ ...box(10, 0, 30, 12), line: 0, term: '案管' }]);
  });

  it('splits a phrase that wraps onto the next line into one box per line', () => {
    const b = hitBoxes(page, ['管理业务']);
    expect(b.map((x) => [x.line, x.x0, x.x1])).toEqual([
      [0, 20, 40],
      [1, 0, 20],
    ]);
  });

  it('finds every occurrence, ignores absent terms, folds width and spaces', () => {
    expect(hitBoxes(page, ['不存在'])).toEqual([]);
    expect(hitBoxes(page, ['培 训'])).toHaveLength(1);
    expect(termsOf('"档案 管理"  -培训，班')).toEqual(['档案', '管理', '培训', '班']);
  });
});

describe('upload plan', () => {
  const f = (path: string) => ({ file: path, path });
  it('a folder of items drops its own name from the paths (kept as the batch name); the CSV at its top becomes the manifest', () => {
    const p = planSelection([f('batch/S0003/page-001.jpg'), f('batch/S0003/page-002.jpg'), f('batch/S0005.pdf'), f('batch/items.csv'), f('batch/.DS_Store')]);
    expect(p.files.map((x) => x.path)).toEqual(['S0003/page-001.jpg', 'S0003/page-002.jpg', 'S0005.pdf']);
    expect(p.csv?.path).toBe('items.csv');
    expect(p.items).toBe(2);
    expect(p.batch).toBe('batch');
  });

  it('a folder of page images is one item and keeps its name', () => {
    const p = planSelection([f('S0003/page-001.jpg'), f('S0003/page-002.jpg')]);
    expect(p.files.map((x) => x.path)).toEqual(['S0003/page-001.jpg', 'S0003/page-002.jpg']);
    expect(p.items).toBe(1);
    expect(p.batch).toBeUndefined();
  });

  it('loose files are one item each', () => {
    expect(planSelection([f('a.pdf'), f('b.tif')]).items).toBe(2);
  });
});

describe('job badge', () => {
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
});

describe('a page module fetched while the appliance restarts', () => {
  const fetchFailed = () => new TypeError('Failed to fetch dynamically imported module: http://127.0.0.1/js/search.js');
  /** A clock that moves only when the loader sleeps. */
  const clock = () => {
    let t = 0;
    const slept: number[] = [];
    return { slept, now: () => t, sleep: async (ms: number) => void (slept.push(ms), (t += ms)) };
  };

  it('tries again after a failed fetch, saying so, and the page arrives once the appliance answers', async () => {
    const c = clock();
    let tries = 0;
    let waiting = 0;
    const got = await importPage(async () => (++tries < 4 ? Promise.reject(fetchFailed()) : { render: 'search' }), { stillWanted: () => true, onWaiting: () => waiting++, ...c });
    expect(got.module).toEqual({ render: 'search' });
    expect(tries).toBe(4);
    expect(waiting).toBe(3);
    expect(c.slept).toEqual([250, 500, 1000]);
  });

  it('backs off to one try every 5 s and gives up after two minutes, with the last error', async () => {
    const c = clock();
    const got = await importPage(() => Promise.reject(fetchFailed()), { stillWanted: () => true, onWaiting: () => undefined, ...c });
    expect(got.unavailable).toBeInstanceOf(TypeError);
    expect(Math.max(...c.slept)).toBe(5_000);
    expect(c.now()).toBeGreaterThanOrEqual(120_000);
    expect(c.now()).toBeLessThan(130_000);
    expect(retryDelay(1)).toBe(250);
    expect(retryDelay(20)).toBe(5_000);
  });

  it('stops trying once the address moved on (a newer page owns the screen)', async () => {
    const c = clock();
    let wanted = true;
    let tries = 0;
    const got = await importPage(
      () => {
        tries++;
        return Promise.reject(fetchFailed());
      },
      { stillWanted: () => wanted, onWaiting: () => (wanted = false), ...c },
    );
    expect(got.stale).toBe(true);
    expect(tries).toBe(1);
  });

  it('a fault in the module itself is not retried', async () => {
    await expect(importPage(() => Promise.reject(new SyntaxError('Unexpected token')), { stillWanted: () => true, onWaiting: () => undefined })).rejects.toBeInstanceOf(SyntaxError);
  });
});
