import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSearchService, type SearchService, type StoredItem } from '../../search/index.ts';
import type { Viewer } from '../../core/access.ts';
import type { Classification } from '../../core/config.ts';
import { COUNT_CHECK_LIMIT } from '../../search/checked-page.ts';
import { meiliQuery, parseQuery } from '../../search/char-pairs.ts';
import { startMeili, textItem, type MeiliHandle } from './support.ts';

// A long term (one Meilisearch cannot prove, char-pairs.ts) with more candidates than a search
// checks in full (search/checked-page.ts): the hits shown are still only items holding the term,
// walked in Meilisearch's order, and the count is flagged an estimate; asked for (`exact`), or
// paged to the end, the count and facets are exact again. Other posts' and higher-classified items
// holding the term are never shown, counted or read.
const viewer: Viewer = { posts: ['ZH'], clearance: '内部' };
const TERM = '东南西北中';
const WHOLE = 330;
const SPLIT = 60;
let m: MeiliHandle;
let svc: SearchService;

function item(id: string, fonds: string, text: string, posts = ['ZH'], classification: Classification = '内部'): StoredItem {
  return textItem({ itemId: id, archivalCode: `${fonds}-2014-Y-${id}`, fonds, title: '关于档案工作的通知', classification, posts }, [text]);
}

beforeAll(async () => {
  m = await startMeili();
  svc = createSearchService(m.conn, m.dir);
  await svc.init();
  const items: StoredItem[] = [];
  // Split items (each window of the term apart, never the term) first and shorter, so Meilisearch ranks many of them ahead.
  for (let i = 0; i < SPLIT; i++) items.push(item(`S${String(i).padStart(4, '0')}`, 'J031', '东南西北，又见南西北中'));
  for (let i = 0; i < WHOLE; i++) items.push(item(`W${String(i).padStart(4, '0')}`, 'J012', `前文${TERM}，后文第${i}条`));
  items.push(item('B0001', 'J012', `他岗${TERM}`, ['BGS']), item('C0001', 'J012', `机密${TERM}`, ['ZH'], '机密'));
  await svc.indexItems(items);
}, 120_000);

afterAll(async () => {
  await m?.stop();
});

const isWhole = (id: string) => /^W\d{4}$/.test(id);

describe('a long term with many candidates', () => {
  it('is what this test needs: over the limit, and split items among the first candidates Meilisearch ranks', async () => {
    expect(WHOLE + SPLIT).toBeGreaterThan(COUNT_CHECK_LIMIT);
    const res = await fetch(`${m.conn.host}/indexes/items/search`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${m.conn.apiKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ q: meiliQuery(parseQuery(TERM).terms), matchingStrategy: 'all', filter: 'posts = ZH', limit: 20, attributesToRetrieve: ['itemId'] }),
    });
    const raw = ((await res.json()) as { hits: Array<{ itemId: string }> }).hits.map((h) => h.itemId);
    expect(raw.filter((id) => !isWhole(id)).length).toBeGreaterThan(5);
  });

  it('shows only items holding the term, pages in order without overlap, the count flagged an estimate', async () => {
    const first = await svc.search(viewer, { q: TERM, limit: 20 });
    expect(first.approximate).toBe(true);
    expect(first.items).toHaveLength(20);
    expect(first.items.every((i) => isWhole(i.itemId))).toBe(true);
    // Meilisearch's count of the candidates the viewer may see: never another post's or a higher classification's.
    expect(first.total).toBe(WHOLE + SPLIT);
    expect(first.facets.fonds).toEqual({ J012: WHOLE, J031: SPLIT });
    const second = await svc.search(viewer, { q: TERM, offset: 20, limit: 20 });
    expect(second.items.every((i) => isWhole(i.itemId))).toBe(true);
    const seen = new Set(first.items.map((i) => i.itemId));
    expect(second.items.some((i) => seen.has(i.itemId))).toBe(false);
    // The same order as the exact answer.
    const exact = await svc.search(viewer, { q: TERM, limit: 40, exact: true });
    expect([...first.items, ...second.items].map((i) => i.itemId)).toEqual(exact.items.map((i) => i.itemId));
  });

  it('asked for the exact count: hits, total and facets are exact', async () => {
    const r = await svc.search(viewer, { q: TERM, limit: 100, exact: true });
    expect(r.approximate).toBeUndefined();
    expect(r.total).toBe(WHOLE);
    expect(r.facets.fonds).toEqual({ J012: WHOLE });
    expect(r.items.every((i) => isWhole(i.itemId))).toBe(true);
    const ids = new Set<string>();
    for (let offset = 0; offset < WHOLE; offset += 100) for (const i of (await svc.search(viewer, { q: TERM, offset, limit: 100, exact: true })).items) ids.add(i.itemId);
    expect(ids.size).toBe(WHOLE);
    expect([...ids].every(isWhole)).toBe(true);
  });

  it('paged to the end, every candidate has been checked: the count is exact again', async () => {
    const r = await svc.search(viewer, { q: TERM, offset: WHOLE - 10, limit: 20 });
    expect(r.approximate).toBeUndefined();
    expect(r.total).toBe(WHOLE);
    expect(r.items).toHaveLength(10);
    expect(r.facets.fonds).toEqual({ J012: WHOLE });
  });

  it("another post's and a higher classification's items holding the term are neither shown nor counted, whoever asks what", async () => {
    for (const exact of [false, true]) {
      const ids = new Set<string>();
      for (let offset = 0; offset < WHOLE + 20; offset += 100) for (const i of (await svc.search(viewer, { q: TERM, offset, limit: 100, exact })).items) ids.add(i.itemId);
      expect(ids.has('B0001')).toBe(false);
      expect(ids.has('C0001')).toBe(false);
    }
    const bgs = await svc.search({ posts: ['BGS'], clearance: '内部' }, { q: TERM, limit: 20 });
    expect(bgs.items.map((i) => i.itemId)).toEqual(['B0001']);
    expect(bgs.total).toBe(1);
  });
});
