import { stat, readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Classification } from '../../core/config.ts';
import { createSearchService, type SearchService } from '../../search/index.ts';
import { gramChars, normalizeText } from '../../search/char-pairs.ts';
import { searchKeyPath } from '../../search/tenant-signing-key.ts';
import { displayText } from '../../search/snippet.ts';
import { canSee, type Viewer } from '../../core/access.ts';
import { loadGroundTruth, startMeili, type GtItem, type MeiliHandle } from './support.ts';

// Two posts (one with a quote in its code, to prove the filter escapes it) and two clearances.
const P1 = 'BGS-KY';
const P2 = 'ZH"X\\';
const POSTS: Record<string, string[]> = { S0001: [P1], S0002: [P2], S0003: [P1], S0004: [P2], S0005: [P1, P2], S0006: [P1], S0007: [P2], S0008: [P1] };
const INTERNAL = new Set(['S0001', 'S0002', 'S0006', 'S0007']);
const viewers: Record<string, Viewer> = {
  'P1/公开': { posts: [P1], clearance: '公开' },
  'P1/内部': { posts: [P1], clearance: '内部' },
  'P2/公开': { posts: [P2], clearance: '公开' },
  'P2/内部': { posts: [P2], clearance: '内部' },
};
const QUERIES = ['', '档案', '检查 库房', '除湿机', '办公', '2018', '机构编制', '十四至二十四摄氏度'];

let m: MeiliHandle;
let svc: SearchService;
let items: GtItem[];

function contains(it: GtItem, q: string): boolean {
  const streams = [
    gramChars(it.pages.map((p) => p.text).join('\n')).join(''),
    ...[it.meta.title, it.meta.docNumber, it.meta.archivalCode, it.meta.responsible].filter((s): s is string => !!s).map((s) => gramChars(s).join('')),
  ];
  return q
    .split(/\s+/)
    .filter(Boolean)
    .every((t) => streams.some((s) => s.includes(gramChars(t).join(''))));
}

function expectedFacets(matching: GtItem[]) {
  const count = (f: (i: GtItem) => string | number | undefined) => {
    const out: Record<string, number> = {};
    for (const i of matching) out[String(f(i.meta as never))] = (out[String(f(i.meta as never))] ?? 0) + 1;
    return out;
  };
  return {
    year: count((i) => (i as unknown as GtItem['meta']).year),
    fonds: count((i) => (i as unknown as GtItem['meta']).fonds),
    department: count((i) => (i as unknown as GtItem['meta']).department),
    retention: count((i) => (i as unknown as GtItem['meta']).retention),
  };
}

beforeAll(async () => {
  m = await startMeili();
  svc = createSearchService(m.conn, m.dir);
  await svc.init();
  items = loadGroundTruth(
    (id) => POSTS[id],
    (id): Classification => (INTERNAL.has(id) ? '内部' : '公开'),
  );
  await svc.indexItems(items);
});

afterAll(async () => {
  await m?.stop();
});

describe('access rule inside Meilisearch (tenant tokens)', () => {
  for (const [name, viewer] of Object.entries(viewers)) {
    it(`${name}: hits, totals, facets, facet search and snippets hold only visible items`, async () => {
      const visible = items.filter((i) => canSee(viewer, i.meta));
      expect(visible.length).toBeGreaterThan(0);
      expect(visible.length).toBeLessThan(items.length);
      for (const q of QUERIES) {
        const matching = visible.filter((i) => !q || contains(i, q));
        const r = await svc.search(viewer, { q, limit: 100 });
        expect(r.items.map((i) => i.itemId).sort(), q).toEqual(matching.map((i) => i.meta.itemId).sort());
        expect(r.total, q).toBe(matching.length);
        const exp = expectedFacets(matching);
        for (const f of ['year', 'fonds', 'department', 'retention'] as const) expect(r.facets[f], `${q} ${f}`).toEqual(exp[f]);
        for (const hit of r.items) {
          const it = items.find((i) => i.meta.itemId === hit.itemId)!;
          const shown = hit.snippet
            .replace(/<\/?mark>/g, '')
            .replace(/^…|…$/g, '')
            .replace(/&amp;/g, '&');
          const texts = displayText(it.pages.map((p) => p.text).join('\n'));
          expect(texts.includes(shown) || it.pages.some((p) => displayText(p.text).includes(shown)), `${q} snippet of ${hit.itemId}`).toBe(true);
        }
        for (const facetName of ['fonds', 'department', 'retention'] as const) {
          const fs = await svc.facetSearch(viewer, { facetName, q });
          const want = Object.entries(exp[facetName])
            .map(([value, count]) => ({ value, count }))
            .sort((a, b) => a.value.localeCompare(b.value));
          expect(
            fs.sort((a, b) => a.value.localeCompare(b.value)),
            `${q} facet search ${facetName}`,
          ).toEqual(want);
        }
      }
      // A foreign item's own 档号 and title find nothing, not even a count.
      for (const foreign of items.filter((i) => !canSee(viewer, i.meta))) {
        const r = await svc.search(viewer, { q: foreign.meta.archivalCode });
        expect(r.items).toEqual([]);
        expect(r.total).toBe(0);
        expect(Object.values(r.facets).every((d) => Object.keys(d).length === 0)).toBe(true);
        expect(await svc.facetSearch(viewer, { facetName: 'fonds', q: foreign.meta.archivalCode })).toEqual([]);
      }
    });
  }

  it('the token itself cannot widen the rule, read documents, or outlive its expiry', async () => {
    const viewer = viewers['P1/内部'];
    const t = (await svc.sessionToken(viewer, new Date(Date.now() + 60_000)))!;
    const call = (path: string, body?: unknown, token = t.token) =>
      fetch(`${m.conn.host}${path}`, {
        method: body ? 'POST' : 'GET',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: body ? JSON.stringify(body) : undefined,
      });
    const visibleIds = new Set(items.filter((i) => canSee(viewer, i.meta)).map((i) => i.meta.itemId));
    // Straight to both indexes with the token, trying to filter for the other post: nothing foreign.
    for (const index of ['items', 'pages']) {
      const r = await call(`/indexes/${index}/search`, { q: '', limit: 1000, filter: `posts = ${JSON.stringify(P2)} OR classificationRank >= 0`, attributesToRetrieve: ['itemId'] });
      expect(r.status).toBe(200);
      const body = (await r.json()) as { hits: Array<{ itemId: string }> };
      for (const h of body.hits) expect(visibleIds.has(h.itemId)).toBe(true);
    }
    // Page texts live in the pages index: retrieved, highlighted or cropped through the token,
    // they are only the visible items' own; and they are not searchable (no channel by q).
    const withTexts = await call('/indexes/pages/search', {
      q: '',
      limit: 1000,
      filter: `posts = ${JSON.stringify(P2)} OR classificationRank >= 0`,
      attributesToRetrieve: ['itemId', 'page', 'text'],
      attributesToHighlight: ['*'],
      attributesToCrop: ['text'],
      showMatchesPosition: true,
    });
    expect(withTexts.status).toBe(200);
    const textHits = ((await withTexts.json()) as { hits: Array<{ itemId: string; page: number; text: string }> }).hits;
    expect([...new Set(textHits.map((h) => h.itemId))].sort()).toEqual([...visibleIds].sort());
    for (const h of textHits) expect(h.text).toBe(normalizeText(items.find((i) => i.meta.itemId === h.itemId)!.pages[h.page - 1].text));
    const foreign = items.find((i) => !visibleIds.has(i.meta.itemId))!;
    const foreignWords = normalizeText(foreign.pages[0].text).replace(/\s+/g, '').slice(20, 30);
    const onTexts = await call('/indexes/pages/search', { q: foreignWords, attributesToSearchOn: ['text'], attributesToRetrieve: ['itemId'] });
    expect(onTexts.status).toBe(400);
    // Nor do item documents carry page texts any more.
    const itemTexts = (await (await call('/indexes/items/search', { q: '', limit: 1000, attributesToRetrieve: ['*'] })).json()) as { hits: Array<Record<string, unknown>> };
    for (const h of itemTexts.hits) expect(Object.keys(h).some((k) => /text/i.test(k))).toBe(false);
    const plain = (await (await call('/indexes/items/search', { q: foreignWords, attributesToRetrieve: ['itemId'] })).json()) as { hits: Array<{ itemId: string }> };
    for (const h of plain.hits) expect(visibleIds.has(h.itemId)).toBe(true);
    const multi = await call('/multi-search', { queries: [{ indexUid: 'pages', q: '', limit: 1000, attributesToRetrieve: ['itemId'] }] });
    for (const h of ((await multi.json()) as { results: Array<{ hits: Array<{ itemId: string }> }> }).results[0].hits) expect(visibleIds.has(h.itemId)).toBe(true);
    expect((await call('/indexes/items/documents')).status).toBe(403);
    expect((await call('/indexes/items/documents/S0002')).status).toBe(403);
    expect((await call('/keys')).status).toBe(403);
    expect((await call('/indexes/items/settings')).status).toBe(403);
    // Expired.
    const short = (await svc.sessionToken(viewer, new Date(Date.now() + 1500)))!;
    expect((await call('/indexes/items/search', { q: '' }, short.token)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 2500));
    expect([401, 403]).toContain((await call('/indexes/items/search', { q: '' }, short.token)).status);
  });

  it('a viewer without posts, or with a post code that tries to break out of the filter, sees nothing', async () => {
    expect(await svc.sessionToken({ posts: [], clearance: '内部' }, new Date(Date.now() + 60_000))).toBeUndefined();
    const none = await svc.search({ posts: [], clearance: '绝密' }, { q: '档案' });
    expect(none.items).toEqual([]);
    expect(none.total).toBe(0);
    for (const post of [`x" OR classificationRank >= 0 OR posts = "y`, `${P1}"`, `\\`, `${P1} OR posts EXISTS`]) {
      const r = await svc.search({ posts: [post], clearance: '绝密' }, { q: '' });
      expect(r.items, post).toEqual([]);
      expect(r.total).toBe(0);
    }
  });

  it('keeps the signing key in config/ with mode 0600 and scoped to search', async () => {
    const path = searchKeyPath(m.dir);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const key = JSON.parse(await readFile(path, 'utf8')) as { uid: string; key: string };
    const res = await fetch(`${m.conn.host}/keys/${key.uid}`, { headers: { Authorization: `Bearer ${m.conn.apiKey}` } });
    const info = (await res.json()) as { actions: string[]; indexes: string[]; key: string };
    expect(info.actions).toEqual(['search']);
    expect(info.indexes.sort()).toEqual(['items', 'pages', 'shared']); // shared: only in federated tokens (search/federated-query.ts)
    expect(info.key).toBe(key.key);
    // A second service on the same data dir reuses the key (tokens of running sessions stay valid).
    const again = createSearchService(m.conn, m.dir);
    await again.init();
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(key);
  });
});
