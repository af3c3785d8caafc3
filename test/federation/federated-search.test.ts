import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireRunLock } from '../../core/run-lock.ts';
import { runCli } from '../support/appliance.ts';
import { GOOD_PASSWORD } from '../security/support.ts';
import { launchChromium, logIn, watchedPage } from '../web/browser.ts';
import { linkOffices, startWebOffice, stopWebOffice, type WebOffice } from './web-office.ts';

/**
 * 联合检索 end to end (issue 19) with four real appliances on loopback, each with its own data dir,
 * Meilisearch, web app, shared index and federation transport (endpoint, relay, /network), joined
 * with signed invitations: the city office CITY is the parent of the counties A, B and D; A is also
 * joined with B and D as 平级. A shares items of each kind; searches through the web route from
 * the other offices must find exactly what A's scopes and policy let out — through hits, counts and
 * snippets — and a stopped office must be named while the search still answers.
 */
/** An office, and what its console commands need (the run lock `archive serve` holds, its environment). */
interface Office extends WebOffice {
  lock?: { release(): Promise<void> };
  env?: Record<string, string>;
}

const offices: Record<string, Office> = {};

async function startOffice(code: string, name: string): Promise<Office> {
  const o: Office = await startWebOffice(code, name, { reconcileMs: 500, timeoutMs: 3_000 });
  // As `archive serve` would: a console command (archive search) then uses this Meilisearch.
  o.lock = await acquireRunLock(o.w.cfg.dataDir, o.w.base.replace('http://', ''));
  o.env = { ARCHIVE_DATA_DIR: o.w.cfg.dataDir, ARCHIVE_OFFICE_CODE: code, ARCHIVE_OFFICE_NAME: name, ARCHIVE_FEDERATION_ADDR: o.addr };
  return o;
}

interface Hit {
  itemId: string;
  office: string;
  officeName: string;
  local: boolean;
  title?: string;
  archivalCode?: string;
  snippet: string;
  pages: number[];
}

async function fsearch(from: Office, q: string): Promise<{ status: number; items: Hit[]; total: number; failed: Array<{ code: string; name: string }>; unanswered: string | null; body: any }> {
  const r = await from.staff!.get(`/api/search?federated=1&q=${encodeURIComponent(q)}`);
  return { status: r.status, items: r.body.items, total: r.body.total, failed: r.body.failed, unanswered: r.body.unanswered, body: r.body };
}

const ITEMS = {
  all: { title: '关于全辖区共享的机构编制核定通知', text: '经研究决定核定机构编制事项甲乙丙一律按照全辖区标准执行' },
  parent: { title: '关于报送上级的机构编制统计报告', text: '本年度机构编制统计报告上报上级机关审阅丁戊己' },
  office: { title: '本单位内部的机构编制会议纪要', text: '会议纪要只限本单位庚辛壬内部传阅' },
  above: { title: '超出共享策略的机构编制请示', text: '该请示密级为内部癸子丑不得对外共享' },
} as const;
const ids: Record<keyof typeof ITEMS, string> = { all: '', parent: '', office: '', above: '' };

beforeAll(async () => {
  for (const [code, name] of [
    ['CITY', '市编办'],
    ['A', '甲县编办'],
    ['B', '乙县编办'],
    ['D', '丁县编办'],
  ] as const)
    offices[code] = await startOffice(code, name);
  const { CITY, A, B, D } = offices;
  await linkOffices(CITY, A, 'child');
  await linkOffices(CITY, B, 'child');
  await linkOffices(CITY, D, 'child');
  await linkOffices(A, B, 'peer');
  await linkOffices(A, D, 'peer');
  // A's policy: only 公开 leaves the office.
  await A.w.sharing!.setPolicy({ classifications: ['公开'], posts: null }, 'test');
  const put = async (k: keyof typeof ITEMS, classification: '公开' | '内部', sharing?: 'parent' | 'all') =>
    (ids[k] = (await A.w.putItem({ meta: { title: ITEMS[k].title, posts: ['ZH'], classification, ...(sharing ? { sharing } : {}) }, texts: [ITEMS[k].text, '附件：无'] })).itemId);
  await put('all', '公开', 'all');
  await put('parent', '公开', 'parent');
  await put('office', '公开');
  await put('above', '内部', 'all');
  // B has its own item, found by B's own staff locally (and by A, C and D only if shared).
  await B.w.putItem({ meta: { title: '乙县本单位的机构编制通知', posts: ['BGS'], classification: '内部' }, texts: ['乙县的机构编制通知正文'] });
  await A.w.sharing!.reconcile();
}, 300_000);

afterAll(async () => {
  for (const o of Object.values(offices)) {
    await o.lock?.release().catch(() => undefined);
    await stopWebOffice(o);
  }
});

describe('联合检索 across four appliances', () => {
  it('全辖区 in A is found from B, C and D, marked with its office, with pages and snippet; 上级 only from the parent', { timeout: 120_000 }, async () => {
    for (const from of ['B', 'D', 'CITY']) {
      const r = await fsearch(offices[from], '机构编制');
      expect(r.status, from).toBe(200);
      expect(r.failed, from).toEqual([]);
      const fromA = r.items.filter((h) => h.office === 'A');
      const expected = from === 'CITY' ? [ids.all, ids.parent] : [ids.all];
      expect(fromA.map((h) => h.itemId).sort(), from).toEqual([...expected].sort());
      const hit = fromA.find((h) => h.itemId === ids.all)!;
      expect(hit).toMatchObject({ office: 'A', officeName: '甲县编办', local: false, title: ITEMS.all.title });
      expect(hit.pages).toEqual([1]);
      expect(hit.snippet).toContain('<mark>机构编制</mark>');
    }
  });

  it('本单位 and above-policy items never cross: no hit, no count, no snippet', { timeout: 120_000 }, async () => {
    for (const from of ['B', 'D', 'CITY']) {
      for (const q of ['庚辛壬', '癸子丑', '会议纪要', '请示']) {
        const r = await fsearch(offices[from], q);
        expect(r.status).toBe(200);
        expect(
          r.items.filter((h) => h.office === 'A'),
          `${from} ${q}`,
        ).toEqual([]);
        expect(r.total, `${from} ${q}`).toBe(0);
        expect(JSON.stringify(r.items)).not.toMatch(/庚辛壬|癸子丑/);
      }
      // 上级 from a sibling: nothing, not even a count.
      if (from !== 'CITY') {
        const r = await fsearch(offices[from], '丁戊己');
        expect(r.items).toEqual([]);
        expect(r.total).toBe(0);
      }
    }
  });

  it('facets and counts straight from Meilisearch over the network see only what the peer key allows', { timeout: 60_000 }, async () => {
    // As a curious administrator of B or CITY could ask through their own Meilisearch (master key).
    const facets = async (from: Office) => {
      const c = from.w.meili.connection;
      const r = await fetch(`${c.host}/multi-search`, {
        method: 'POST',
        headers: { authorization: `Bearer ${c.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          federation: { facetsByIndex: { shared: ['scope', 'classificationRank', 'kind'] } },
          queries: [{ indexUid: 'shared', q: '', federationOptions: { remote: 'A' } }],
        }),
      });
      return (await r.json()) as {
        hits: Array<{ itemId: string }>;
        estimatedTotalHits: number;
        facetsByIndex: { shared: { distribution: Record<string, Record<string, number>> } };
        remoteErrors: object;
      };
    };
    const b = await facets(offices.B);
    expect(b.remoteErrors).toEqual({});
    expect(new Set(b.hits.map((h) => h.itemId))).toEqual(new Set([ids.all]));
    expect(b.estimatedTotalHits).toBe(3); // the item and its two pages
    expect(b.facetsByIndex.shared.distribution.scope).toEqual({ all: 3 });
    expect(b.facetsByIndex.shared.distribution.classificationRank).toEqual({ '0': 3 });
    const city = await facets(offices.CITY);
    expect(new Set(city.hits.map((h) => h.itemId))).toEqual(new Set([ids.all, ids.parent]));
    expect(city.facetsByIndex.shared.distribution.scope).toEqual({ all: 3, parent: 3 });
  });

  it("the asking office's own items come from its items index under its user's access rule, its shared index is not reached", async () => {
    const { B } = offices;
    const r = await fsearch(B, '机构编制通知');
    const own = r.items.filter((h) => h.office === 'B');
    expect(own.length).toBe(1);
    expect(own[0].local).toBe(true);
    // A user of B without the post sees nothing of B's own item, even if B shared it.
    await B.w.addUser('zh', ['staff'], { posts: ['ZH'], clearance: '内部' });
    const zh = await B.w.login('zh');
    const b = (await B.w.ingest.store.listItems()[Symbol.asyncIterator]().next()).value!;
    await B.w.ingest.store.updateMetadata(b.itemId, { sharing: 'all' });
    await B.w.sharing!.reconcile();
    const z = await zh.get(`/api/search?federated=1&q=${encodeURIComponent('乙县的机构编制')}`);
    expect(z.status).toBe(200);
    expect(z.body.items).toEqual([]);
    expect(z.body.total).toBe(0);
    // …while A finds it, shared 全辖区 by B.
    const a = await fsearch(offices.A, '乙县的机构编制');
    expect(a.items.map((h) => `${h.office}:${h.itemId}`)).toEqual([`B:${b.itemId}`]);
  });

  it('the asking office audits user, query, offices asked and those that failed', async () => {
    const recs = (await offices.CITY.w.audit()).filter((a) => a.action === 'item.search' && a.target === 'federated');
    expect(recs.length).toBeGreaterThan(0);
    expect(recs.at(-1)).toMatchObject({ actor: 'cha', outcome: 'success' });
    expect((recs.at(-1)!.details!.offices as string[]).sort()).toEqual(['A', 'B', 'CITY', 'D']);
    expect(recs.at(-1)!.details!.failed).toEqual([]);
  });

  it('archive search --federated --json: one JSON line per hit, each with its office; audited at the console', { timeout: 120_000 }, async () => {
    const { CITY } = offices;
    const r = await runCli(['--json', 'search', '机构编制', '--user', 'cha', '--federated'], CITY.env!, ['ARCHIVE_CONFIG']);
    expect(r.code, r.err).toBe(0);
    const lines = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Hit);
    expect(lines.every((l) => typeof l.office === 'string')).toBe(true);
    expect(
      lines
        .filter((l) => l.office === 'A')
        .map((l) => l.itemId)
        .sort(),
    ).toEqual([ids.all, ids.parent].sort());
    const rec = (await CITY.w.audit()).filter((a) => a.action === 'item.search' && a.actor === 'console').at(-1)!;
    expect(rec.details).toMatchObject({ federated: true, failed: [] });
    expect((rec.details!.offices as string[]).sort()).toEqual(['A', 'B', 'CITY', 'D']);
  });

  it('the search page: 联合检索 shows remote hits with their office, not as links', { timeout: 180_000 }, async () => {
    const browser = await launchChromium();
    try {
      const outside: string[] = [];
      const problems: string[] = [];
      const { page } = await watchedPage(browser, outside, problems);
      await page.goto(`${offices.B.w.base}/`);
      await logIn(page, 'cha', GOOD_PASSWORD);
      await page.waitForSelector('#search-input');
      await page.selectOption('#search-scope', 'federated');
      await page.fill('#search-input', '全辖区');
      await page.waitForURL(/scope=federated/);
      const remote = page.locator(`#results li.hit.remote[data-item="${ids.all}"]`);
      await remote.waitFor();
      expect(await remote.locator('.office').textContent()).toBe('由 甲县编办 保管');
      expect(await remote.locator('a').count()).toBe(0);
      expect(await remote.locator('.snippet mark').first().textContent()).toBe('全辖区');
      expect(outside).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it('a stopped office is named and the search still answers with the others', { timeout: 120_000 }, async () => {
    const { CITY, D } = offices;
    await D.fed!.stop();
    D.fed = undefined;
    const r = await fsearch(CITY, '机构编制');
    expect(r.status).toBe(200);
    expect(r.failed.map((f) => f.code)).toEqual(['D']);
    expect(r.unanswered).toBe('1 个单位未响应：丁县编办');
    expect(r.items.some((h) => h.office === 'A' && h.itemId === ids.all)).toBe(true);
    const rec = (await CITY.w.audit()).filter((a) => a.action === 'item.search' && a.target === 'federated').at(-1)!;
    expect(rec.details!.failed).toEqual(['D']);
  });
});
