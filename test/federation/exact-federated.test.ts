import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ItemMetadata } from '../../core/item.ts';
import { SharedIndexWriter } from '../../search/index.ts';
import { meiliQuery, parseQuery } from '../../search/char-pairs.ts';
import { GOOD_PASSWORD } from '../security/support.ts';
import { launchChromium, logIn, watchedPage } from '../web/browser.ts';
import { linkOffices, startWebOffice, stopWebOffice, type WebOffice } from './web-office.ts';

/**
 * 联合检索 as exact as local search (test/search/exact-windows.test.ts): Meilisearch proves a phrase
 * of character pairs only four characters at a time, so a shared item holding each 4-character
 * window of a term apart would be a federated hit. The answering office checks the candidates
 * against their texts under the asking office's own token and filter (search/shared-verify.ts), so
 * such an item is neither shown nor counted — and the check never reaches, reads or counts an item
 * the asking office may not see (本单位, or shared to 上级 when it is not the parent).
 *
 * Three appliances on loopback, each with its own data dir and Meilisearch: CITY is A's parent, B
 * is A's 平级.
 */
const TERM = '东南西北中';
const TERM2 = '赤橙黄绿青';
const o: Record<'CITY' | 'A' | 'B', WebOffice | undefined> = { CITY: undefined, A: undefined, B: undefined };
const ids: Record<string, string> = {};

interface Hit {
  itemId: string;
  office: string;
  local: boolean;
  snippet: string;
}

async function fsearch(from: WebOffice, q: string): Promise<{ status: number; items: Hit[]; total: number; failed: unknown[]; approximate?: boolean; approximateOffices?: string[] }> {
  const r = await from.staff!.get(`/api/search?federated=1&limit=100&q=${encodeURIComponent(q)}`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
}

const keys = (r: { items: Hit[] }) => r.items.map((h) => `${h.office}:${h.itemId}`).sort();

/** A multi-search through an office's own Meilisearch (master key) to a peer, as a curious administrator of the asking office could send it. */
async function raw(
  from: WebOffice,
  remote: string,
  query: Record<string, unknown>,
): Promise<{ hits: Array<{ itemId: string }>; estimatedTotalHits: number; facetsByIndex?: any; remoteErrors: object }> {
  const c = from.w.meili.connection;
  const r = await fetch(`${c.host}/multi-search`, {
    method: 'POST',
    headers: { authorization: `Bearer ${c.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ federation: { limit: 100, facetsByIndex: { shared: ['scope', 'kind'] } }, queries: [{ indexUid: 'shared', ...query, federationOptions: { remote } }] }),
  });
  const body = await r.json();
  expect(r.status, JSON.stringify(body)).toBe(200);
  return body;
}

beforeAll(async () => {
  o.CITY = await startWebOffice('CITY', '市编办');
  o.A = await startWebOffice('A', '甲县编办');
  o.B = await startWebOffice('B', '乙县编办');
  await linkOffices(o.CITY, o.A, 'child');
  await linkOffices(o.A, o.B, 'peer');
  const put = async (key: string, office: WebOffice, text: string, sharing?: 'parent' | 'all') =>
    (ids[key] = (
      await office.w.putItem({ meta: { title: `关于${key}的通知`, posts: office === o.A ? ['ZH'] : ['BGS'], classification: '公开', ...(sharing ? { sharing } : {}) }, texts: [text, '附件：无'] })
    ).itemId);
  // A: the whole term; each window of both terms apart; the terms in an item kept home and one shared to 上级 only.
  await put('aWhole', o.A, `前文${TERM}后文`, 'all');
  await put('aSplit', o.A, '东南西北，又见南西北中；赤橙黄绿，又见橙黄绿青', 'all');
  await put('aHome', o.A, `本单位${TERM}，${TERM2}`);
  await put('aParent', o.A, `上级${TERM}，${TERM2}`, 'parent');
  // B's own items, found by B's own staff in the same federated search: its own part is exact too.
  await put('bWhole', o.B, `乙县${TERM}`);
  await put('bSplit', o.B, '东南西北；南西北中');
  for (const x of [o.A, o.B, o.CITY]) await x.w.sharing!.reconcile();
}, 300_000);

afterAll(async () => {
  for (const x of Object.values(o)) await stopWebOffice(x);
});

describe('联合检索 exact for terms longer than four characters', () => {
  it('the windows of a term in a shared item apart are found by a short term (the items are there)', { timeout: 60_000 }, async () => {
    const r = await fsearch(o.B!, '南西北');
    expect(keys(r)).toEqual([`A:${ids.aWhole}`, `A:${ids.aSplit}`, `B:${ids.bWhole}`, `B:${ids.bSplit}`].sort());
    expect(r.total).toBe(4);
  });

  it('…but the whole term is a hit and is counted only where it is whole, at the peer as at home', { timeout: 60_000 }, async () => {
    const r = await fsearch(o.B!, TERM);
    expect(r.failed).toEqual([]);
    expect(keys(r)).toEqual([`A:${ids.aWhole}`, `B:${ids.bWhole}`].sort());
    expect(r.total).toBe(2);
    expect(r.approximate).toBeUndefined();
    expect(r.items.find((h) => h.itemId === ids.aWhole)!.snippet).toContain(`<mark>${TERM}</mark>`);
    // The parent sees the 上级 item too (its scope), still not the split one nor the one kept home.
    const c = await fsearch(o.CITY!, TERM);
    expect(keys(c)).toEqual([`A:${ids.aWhole}`, `A:${ids.aParent}`].sort());
    expect(c.total).toBe(2);
  });

  it('a term held only by items the asking office may not see: nothing, not even a count, whatever the check read', { timeout: 60_000 }, async () => {
    const b = await fsearch(o.B!, TERM2);
    expect(b.items).toEqual([]);
    expect(b.total).toBe(0);
    const c = await fsearch(o.CITY!, TERM2);
    expect(keys(c)).toEqual([`A:${ids.aParent}`]);
    expect(c.total).toBe(1);
  });

  it("an administrator of the asking office, straight through its Meilisearch: exact counts and facets, and no item beyond the peer's scope by any filter", { timeout: 60_000 }, async () => {
    const q = (t: string) => ({ q: meiliQuery(parseQuery(t).terms), matchingStrategy: 'all' });
    const whole = await raw(o.B!, 'A', q(TERM));
    expect(whole.remoteErrors).toEqual({});
    expect(whole.hits.map((h) => h.itemId)).toEqual([ids.aWhole]);
    expect(whole.estimatedTotalHits).toBe(1);
    expect(whole.facetsByIndex.shared.distribution.scope).toEqual({ all: 1 });
    // Aimed at the items B may not see, by id: the check runs under B's token and the query's filter, so it finds nothing to count.
    for (const id of [ids.aHome, ids.aParent]) {
      for (const t of [TERM, TERM2]) {
        const r = await raw(o.B!, 'A', { ...q(t), filter: `itemId = "${id}"` });
        expect(r.hits, `${id} ${t}`).toEqual([]);
        expect(r.estimatedTotalHits, `${id} ${t}`).toBe(0);
        expect(r.facetsByIndex?.shared?.distribution?.scope ?? {}).toEqual({});
      }
    }
    const t2 = await raw(o.B!, 'A', q(TERM2));
    expect(t2.hits).toEqual([]);
    expect(t2.estimatedTotalHits).toBe(0);
    // A query the check cannot run (a filter on no filterable field) is refused, not answered unchecked.
    const bad = await raw(o.B!, 'A', { ...q(TERM), filter: 'posts = "ZH"' });
    expect(Object.keys(bad.remoteErrors)).toEqual(['A']);
    expect(bad.hits).toEqual([]);
    // The split item is a candidate Meilisearch finds; filtered to it alone, the check drops it.
    const split = await raw(o.B!, 'A', { ...q(TERM), filter: `itemId = "${ids.aSplit}"` });
    expect(split.hits).toEqual([]);
    expect(split.estimatedTotalHits).toBe(0);
  });

  it('more candidates than the check reads: the answer is flagged approximate to the asking side — only where they are in its scope', { timeout: 240_000 }, async () => {
    // 5,000 items shared to 上级 holding the windows of TERM apart, written straight into A's shared
    // index (no reconcile runs in this test to take them out again): candidates for CITY (the
    // parent), none for B, whose answer must not even say that there are many.
    const meta = (i: number): ItemMetadata => ({
      itemId: `BULK${String(i).padStart(5, '0')}`,
      archivalCode: `A-2014-Y-${i}`,
      title: '批量共享件',
      classification: '公开',
      posts: ['ZH'],
      pageCount: 1,
      originals: [],
      createdAt: '2026-11-01T00:00:00Z',
      updatedAt: '2026-11-01T00:00:00Z',
    });
    const page = { page: 1, width: 100, height: 100, dpi: 300, rotation: 0 as const, text: '东南西北，南西北中', confidence: 90, lines: [], source: 'ocr' as const };
    const writer = new SharedIndexWriter(o.A!.w.meili.connection);
    for (let i = 0; i < 5000; i += 1000)
      await writer.put(
        Array.from({ length: 1000 }, (_, k) => ({ meta: meta(i + k), pages: [page], scope: 'parent' as const })),
        'A',
      );
    const c = await fsearch(o.CITY!, TERM);
    expect(c.failed).toEqual([]);
    expect(c.approximate).toBe(true);
    expect(c.approximateOffices).toEqual(['A']);
    expect((c as { approximateOfficeNames?: string[] }).approximateOfficeNames).toEqual(['甲县编办']);
    expect(c.total).toBeGreaterThan(2);
    const b = await fsearch(o.B!, TERM);
    expect(b.approximate).toBeUndefined();
    expect(keys(b)).toEqual([`A:${ids.aWhole}`, `B:${ids.bWhole}`].sort());
    expect(b.total).toBe(2);
    // A term with few candidates stays exact and unflagged for the parent too.
    const exact = await fsearch(o.CITY!, TERM2);
    expect(exact.approximate).toBeUndefined();
    expect(exact.total).toBe(1);
    // The search page says so as it does for a local search (the count is the engine's estimate).
    const browser = await launchChromium();
    try {
      const outside: string[] = [];
      const problems: string[] = [];
      const { page } = await watchedPage(browser, outside, problems);
      await page.goto(`${o.CITY!.w.base}/`);
      await logIn(page, 'cha', GOOD_PASSWORD);
      await page.waitForSelector('#search-input');
      await page.selectOption('#search-scope', 'federated');
      await page.fill('#search-input', TERM);
      // …and names the office whose count it is.
      await page.waitForFunction((s) => document.querySelector('#search-status')?.textContent?.includes(s), '甲县编办的结果过多，其件数为检索引擎的估计');
      await page.fill('#search-input', TERM2);
      await page.waitForFunction(() => (document.querySelector('#search-status')?.textContent ?? '').startsWith('共 1 件'));
      expect(await page.textContent('#search-status')).not.toContain('检索引擎的估计');
      expect(outside).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
    // A audits each answer, the flagged one as such.
    const answers = (await o.A!.w.audit()).filter((a) => a.action === 'federation.search.answer');
    expect(answers.some((a) => a.actor === 'office:B')).toBe(true);
    expect(new Set(answers.filter((a) => a.details?.approximate).map((a) => a.details!.office))).toEqual(new Set(['CITY']));
  });
});
