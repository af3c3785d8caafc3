import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSearchService, type SearchService } from '../../search/index.ts';
import { gramChars } from '../../search/char-pairs.ts';
import { adminClient, runTask } from '../../search/meili-admin.ts';
import type { Viewer } from '../../core/access.ts';
import { loadGroundTruth, rng, startMeili, type GtItem, type MeiliHandle } from './support.ts';

// Recall on the samples' ground truth: every string that occurs in an item finds it, strings that
// occur nowhere find nothing. Figures are printed for the notes; the assertions are exact.
const viewer: Viewer = { posts: ['ZH'], clearance: '内部' };
let m: MeiliHandle;
let svc: SearchService;
let items: GtItem[];
/** Per item: everything its index documents can match (pages joined, catalogue strings apart). */
let streams: Map<string, string[]>;

function occursIn(itemId: string, q: string): boolean {
  const terms = q
    .normalize('NFKC')
    .split(/\s+/u)
    .map((t) => gramChars(t).join(''))
    .filter((t) => t.length >= 2);
  return terms.every((t) => streams.get(itemId)!.some((s) => s.includes(t)));
}

async function found(q: string): Promise<string[]> {
  const r = await svc.search(viewer, { q, limit: 100 });
  return r.items.map((i) => i.itemId);
}

async function inBatches<T, R>(xs: T[], n: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < xs.length; i += n) out.push(...(await Promise.all(xs.slice(i, i + n).map(fn))));
  return out;
}

/** Deterministic samples of 2–6 characters from the printed text (line breaks inside are kept out of the query). */
function sampleSubstrings(n: number): Array<{ itemId: string; page: number; q: string }> {
  const rand = rng(20261124);
  const out: Array<{ itemId: string; page: number; q: string }> = [];
  const pages = items.flatMap((it) => it.pages.map((p) => ({ itemId: it.meta.itemId, page: p.page, chars: [...p.text] })));
  while (out.length < n) {
    const pg = pages[Math.floor(rand() * pages.length)];
    const len = 2 + Math.floor(rand() * 5);
    const at = Math.floor(rand() * (pg.chars.length - len));
    const q = pg.chars
      .slice(at, at + len)
      .join('')
      .replace(/\n/g, '');
    if (
      q
        .normalize('NFKC')
        .split(/\s+/u)
        .some((t) => gramChars(t).length >= 2)
    )
      out.push({ itemId: pg.itemId, page: pg.page, q });
  }
  return out;
}

beforeAll(async () => {
  m = await startMeili();
  svc = createSearchService(m.conn, m.dir);
  await svc.init();
  items = loadGroundTruth();
  await svc.indexItems(items);
  streams = new Map(
    items.map((it) => [
      it.meta.itemId,
      [
        gramChars(it.pages.map((p) => p.text).join('\n')).join(''),
        ...[it.meta.title, it.meta.docNumber, it.meta.archivalCode, it.meta.responsible].filter((s): s is string => !!s).map((s) => gramChars(s).join('')),
      ],
    ]),
  );
});

afterAll(async () => {
  await m?.stop();
});

describe('recall on the samples', () => {
  it('finds the item of every sampled 2–6 character substring, and only items that contain it', async () => {
    const samples = sampleSubstrings(400);
    const results = await inBatches(samples, 8, async (s) => {
      const r = await svc.search(viewer, { q: s.q, limit: 100 });
      return { ...s, hits: r.items.map((i) => i.itemId), pages: r.items.find((i) => i.itemId === s.itemId)?.pages ?? [] };
    });
    const misses = results.filter((r) => !r.hits.includes(r.itemId));
    // The page it was taken from is among the item's matching pages.
    const pageMisses = results.filter((r) => r.hits.includes(r.itemId) && !r.pages.includes(r.page)).map((r) => `${r.q}@${r.itemId}p${r.page}:${r.pages}`);
    const falseHits = results.flatMap((r) => r.hits.filter((h) => !occursIn(h, r.q)).map((h) => `${r.q}→${h}`));
    const hits = results.reduce((a, r) => a + r.hits.length, 0);
    console.log(`[recall] substrings: ${samples.length - misses.length}/${samples.length} found their item; ${falseHits.length} false hits of ${hits}`);

    // The same samples against a plain Meilisearch index of the page text (jieba, default matching):
    // the baseline the bigram design replaces.
    const admin = adminClient(m.conn);
    await runTask(admin, 'naive index', () => admin.createIndex('naive', { primaryKey: 'id' }));
    await runTask(admin, 'naive settings', () =>
      admin.index('naive').updateSettings({ searchableAttributes: ['text'], filterableAttributes: ['itemId'], localizedAttributes: [{ attributePatterns: ['text'], locales: ['cmn'] }] }),
    );
    await runTask(admin, 'naive docs', () =>
      admin.index('naive').addDocuments(items.flatMap((it) => it.pages.map((p) => ({ id: `${it.meta.itemId}-${p.page}`, itemId: it.meta.itemId, text: p.text.replace(/\n/g, '') })))),
    );
    let naiveMiss = 0;
    let naiveFalse = 0;
    let naiveMissAll = 0;
    for (const s of samples) {
      const r = await admin.index('naive').search(s.q, { limit: 100, attributesToRetrieve: ['itemId'] });
      const ids = [...new Set(r.hits.map((h) => h.itemId as string))];
      if (!ids.includes(s.itemId)) naiveMiss++;
      naiveFalse += ids.filter((h) => !occursIn(h, s.q)).length;
      const rAll = await admin.index('naive').search(`"${s.q}"`, { limit: 100, attributesToRetrieve: ['itemId'] });
      if (!rAll.hits.some((h) => h.itemId === s.itemId)) naiveMissAll++;
    }
    console.log(
      `[recall] baseline jieba index: matchingStrategy last ${samples.length - naiveMiss}/${samples.length} found, ${naiveFalse} false hits; phrase ${samples.length - naiveMissAll}/${samples.length} found`,
    );

    expect(misses.map((r) => r.q)).toEqual([]);
    expect(falseHits).toEqual([]);
    expect(pageMisses).toEqual([]);
  });

  it('finds digits, 档号 and 文号 however the brackets are typed', async () => {
    const byId = (id: string) => items.find((i) => i.meta.itemId === id)!;
    for (const it of items) {
      expect(await found(it.meta.archivalCode!), it.meta.archivalCode).toContain(it.meta.itemId);
      expect((await found(it.meta.archivalCode!))[0]).toBe(it.meta.itemId);
      if (it.meta.docNumber) {
        expect(await found(it.meta.docNumber)).toContain(it.meta.itemId);
        expect(await found(it.meta.docNumber.replace('〔', '[').replace('〕', ']'))).toContain(it.meta.itemId);
      }
    }
    expect(byId('S0008').pages[0].text).toContain('0470-2361571');
    expect(await found('0470-2361571')).toEqual(['S0008']);
    expect(await found('2361571')).toEqual(['S0008']);
    expect(await found('10.2.63.235')).toEqual(['S0001']);
    expect(await found('v3.3')).toEqual(['S0001']);
    expect(await found('2018年3月18日')).toEqual(['S0002']);
    const yearHits = await found('2018');
    expect(yearHits).toContain('S0002');
    for (const id of yearHits) expect(occursIn(id, '2018')).toBe(true);
    expect(await found('J105-2018')).toEqual(['S0002']);
    expect(await found('J105')).toEqual(expect.arrayContaining(['S0001', 'S0002', 'S0007']));
  });

  it('finds an item by two words that stand on different pages', async () => {
    const rand = rng(7);
    let tried = 0;
    for (const it of items.filter((i) => i.pages.length > 1)) {
      const p1 = gramChars(it.pages[0].text);
      const p2 = gramChars(it.pages[1].text);
      for (let k = 0; k < 3; k++) {
        const w1 = p1
          .slice(Math.floor(rand() * (p1.length - 4)))
          .slice(0, 4)
          .join('');
        const w2 = p2
          .slice(Math.floor(rand() * (p2.length - 4)))
          .slice(0, 4)
          .join('');
        // Only a real cross-page pair: no single page anywhere holds both words.
        const onOnePage = items.some((o) =>
          o.pages.some((p) => {
            const s = gramChars(p.text).join('');
            return s.includes(w1) && s.includes(w2);
          }),
        );
        if (onOnePage) continue;
        tried++;
        const r = await svc.search(viewer, { q: `${w1} ${w2}`, limit: 100 });
        const hit = r.items.find((i) => i.itemId === it.meta.itemId);
        expect(hit, `${w1} ${w2}`).toBeDefined();
        expect(hit!.pages).toEqual(expect.arrayContaining([1, 2]));
        for (const i of r.items) expect(occursIn(i.itemId, `${w1} ${w2}`)).toBe(true);
      }
    }
    console.log(`[recall] cross-page word pairs: ${tried} tried, all found`);
    expect(tried).toBeGreaterThan(5);
  });

  it('returns nothing for strings that occur nowhere, including two real words glued together', async () => {
    const rand = rng(99);
    const vocab = [...new Set(items.flatMap((it) => gramChars(it.pages.map((p) => p.text).join(''))))];
    const absent: string[] = [];
    while (absent.length < 150) {
      const len = 2 + Math.floor(rand() * 3);
      const s = Array.from({ length: len }, () => vocab[Math.floor(rand() * vocab.length)]).join('');
      if (![...streams.keys()].some((id) => occursIn(id, s))) absent.push(s);
    }
    const glued = ['档案数字化除湿机', '节能降耗公文处理', '登录地址摄氏度', '除湿机归档范围', '公务用车档案盒', '呼伦贝尔上虞区'];
    for (const g of glued)
      expect(
        [...streams.keys()].some((id) => occursIn(id, g)),
        g,
      ).toBe(false);
    const results = await inBatches([...absent, ...glued], 8, async (q) => ({ q, r: await svc.search(viewer, { q }) }));
    const noisy = results.filter((x) => x.r.total > 0 || x.r.items.length > 0).map((x) => x.q);
    console.log(`[recall] absent strings: ${results.length - noisy.length}/${results.length} returned nothing`);
    expect(noisy).toEqual([]);
    // Each glued word alone does find something: the emptiness comes from the gluing.
    expect((await found('除湿机')).length).toBeGreaterThan(0);
    expect((await found('档案数字化')).length).toBeGreaterThan(0);
  });

  it('finds strings broken across a line break and across a page break', async () => {
    const rand = rng(3);
    for (const it of items) {
      const lines = it.lines[0];
      const i = 1 + Math.floor(rand() * (lines.length - 3));
      const a = gramChars(lines[i]);
      const b = gramChars(lines[i + 1]);
      if (a.length < 3 || b.length < 3) continue;
      const q = [...a.slice(-3), ...b.slice(0, 3)].join('');
      const r = await svc.search(viewer, { q, limit: 100 });
      const hit = r.items.find((h) => h.itemId === it.meta.itemId);
      expect(hit, q).toBeDefined();
      expect(hit!.snippet).toContain('<mark>');
    }
    for (const it of items.filter((x) => x.pages.length > 1)) {
      const a = gramChars(it.pages[0].text);
      const b = gramChars(it.pages[1].text);
      const q = [...a.slice(-3), ...b.slice(0, 3)].join('');
      const r = await svc.search(viewer, { q, limit: 100 });
      const hit = r.items.find((h) => h.itemId === it.meta.itemId);
      expect(hit, `page break ${it.meta.itemId} ${q}`).toBeDefined();
      expect(hit!.pages[0]).toBe(1);
      expect(hit!.snippet, q).toContain('<mark>');
    }
  });

  it('rejects a query with no term of two characters and escapes snippets', async () => {
    await expect(svc.search(viewer, { q: '年' })).rejects.toMatchObject({ code: 'SEARCH_BAD_PARAMS' });
    await expect(svc.search(viewer, { q: 'x'.repeat(300) })).rejects.toMatchObject({ code: 'SEARCH_BAD_PARAMS' });
    await expect(svc.search(viewer, { limit: 1000 })).rejects.toMatchObject({ code: 'SEARCH_BAD_PARAMS' });
    const r = await svc.search(viewer, { q: '登录地址 http' });
    expect(r.items[0].itemId).toBe('S0001');
    // The snippet shows the page as printed: the full-width colon stays.
    expect(r.items[0].snippet).toMatch(/<mark>登录地址<\/mark>：<mark>http<\/mark>/);
    expect(r.items[0].snippet.replace(/<\/?mark>/g, '')).not.toMatch(/[<>]/);
  });
});
