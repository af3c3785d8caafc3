import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSearchService, type SearchService, type StoredItem } from '../../search/index.ts';
import type { Viewer } from '../../core/access.ts';
import { startMeili, textItem, type MeiliHandle } from './support.ts';

// Totals and facet counts are the items that hold every term as a substring, whatever the term's
// length: an item holding each shorter window of a term apart (甲乙丙, 乙丙丁 but not 甲乙丙丁) is
// no hit, and is not counted. Meilisearch proves a phrase window by window (three words at a time),
// so this is where an index of character pairs can overcount.
const viewer: Viewer = { posts: ['ZH'], clearance: '内部' };
let m: MeiliHandle;
let svc: SearchService;

function item(id: string, fonds: string, pages: string[], posts = ['ZH']): StoredItem {
  return textItem({ itemId: id, archivalCode: `${fonds}-1999-Y-BGS-${id.slice(-4)}`, fonds, department: 'BGS', title: '关于档案工作的通知', posts }, pages);
}

// Each split item holds every window of the term but not the term; a whole one may hold it across a
// page break.
const CASES: Array<{ term: string; whole: string[][]; split: string[][] }> = [
  { term: '甲乙丙丁', whole: [['前言甲乙丙丁后记']], split: [['一二甲乙丙三四乙丙丁五六'], ['甲乙丙', '乙丙丁']] },
  { term: '东南西北中', whole: [['东南西北中'], ['东南西', '北中']], split: [['东南西北，又见南西北中'], ['东南西北。', '南西北中。']] },
  { term: '子丑寅卯辰巳', whole: [['前子丑寅卯辰巳后'], ['前文子丑', '寅卯辰巳，后文']], split: [['子丑寅卯辰，丑寅卯辰巳'], ['子丑寅卯；寅卯辰巳；丑寅卯辰']] },
  { term: '赤橙黄绿青蓝紫白', whole: [['黑赤橙黄绿青蓝紫白灰']], split: [['赤橙黄绿青蓝紫，橙黄绿青蓝紫白']] },
  // A repeated character: 啊吧啊 and 吧吧 hold every pair of 啊吧吧啊 (啊吧 吧吧 吧啊) but not the term.
  { term: '啊吧吧啊', whole: [['啊吧吧啊']], split: [['啊吧啊，吧吧'], ['吧啊吧吧']] },
  { term: '2014', whole: [['编号2014号']], split: [['201、014'], ['2013年，3014']] },
];

// 26 characters (25 pairs, one phrase; Meilisearch reads only the first 10 words of a query, so the
// exact terms' phrases are sent first).
const LONG = '一丁七万丈三上下不与丐丑专且丕世丘丙业丛东丝丞両丢两';

beforeAll(async () => {
  m = await startMeili();
  svc = createSearchService(m.conn, m.dir);
  await svc.init();
  const items: StoredItem[] = [];
  CASES.forEach((c, k) => {
    c.whole.forEach((pages, j) => items.push(item(`W${k}${j}00`, 'J012', pages)));
    c.split.forEach((pages, j) => items.push(item(`S${k}${j}00`, 'J031', pages)));
  });
  // Another post's item holds the long term too: the check runs under the viewer's token, so it is never counted.
  items.push(item('L1000', 'J012', [`前文${LONG}，鸡鸭`]), item('L2000', 'J012', [`前文${LONG}`]), item('L3000', 'J031', [`${LONG}，鸡鸭`], ['BGS']));
  await svc.indexItems(items);
});

afterAll(async () => {
  await m?.stop();
});

describe('exact totals for terms of any length', () => {
  for (const [k, c] of CASES.entries()) {
    it(`${c.term}: only the items holding the whole term, in hits, total and facets`, async () => {
      const r = await svc.search(viewer, { q: c.term, limit: 100 });
      const want = c.whole.map((_, j) => `W${k}${j}00`).sort();
      expect(r.items.map((i) => i.itemId).sort()).toEqual(want);
      expect(r.total).toBe(want.length);
      expect(r.facets.fonds).toEqual({ J012: want.length });
      const fh = await svc.facetSearch(viewer, { q: c.term, facetName: 'fonds' });
      expect(fh).toEqual([{ value: 'J012', count: want.length }]);
    });
  }

  it('a short term after a long one still counts, in hits, total, facets and pages of results', async () => {
    const both = await svc.search(viewer, { q: `${LONG} 鸡鸭`, limit: 100 });
    expect(both.items.map((i) => i.itemId)).toEqual(['L1000']);
    expect(both.total).toBe(1);
    const long = await svc.search(viewer, { q: LONG, limit: 100 });
    expect(long.items.map((i) => i.itemId).sort()).toEqual(['L1000', 'L2000']);
    expect(long.total).toBe(2);
    // Paged: the second of the two, same order as unpaged.
    const second = await svc.search(viewer, { q: LONG, offset: 1, limit: 1 });
    expect(second.items.map((i) => i.itemId)).toEqual([long.items[1].itemId]);
    expect(second.total).toBe(2);
    expect(long.facets.fonds).toEqual({ J012: 2 });
    expect(await svc.facetSearch(viewer, { q: LONG, facetName: 'fonds' })).toEqual([{ value: 'J012', count: 2 }]);
    const other = await svc.search({ posts: ['BGS'], clearance: '内部' }, { q: `${LONG} 鸡鸭` });
    expect(other.items.map((i) => i.itemId)).toEqual(['L3000']);
  });
});
