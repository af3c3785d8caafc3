import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSearchService, type SearchService, type StoredItem } from '../../search/index.ts';
import type { Viewer } from '../../core/access.ts';
import { startMeili, textItem, type MeiliHandle } from './support.ts';
import { parseQuery } from '../../search/char-pairs.ts';
import { verifyCandidates } from '../../search/verify.ts';

// The exact check of a long term (search/verify.ts) when the page-text files are gone (derived data:
// a restore before the reindex, a disk error): the candidates' pages come from the pages index, more
// of them than one request fetches (MAX_PAGES_FETCHED, 2,000). Before, candidates past that were
// kept unchecked and counted; now every one is checked.
const viewer: Viewer = { posts: ['ZH'], clearance: '内部' };
const TERM = '东南西北中';
let m: MeiliHandle;
let svc: SearchService;

function item(id: string, first: string): StoredItem {
  return textItem({ itemId: id, archivalCode: `J012-2014-Y-${id}`, fonds: 'J012', title: '关于档案工作的通知', posts: ['ZH'] }, [first, '第二页', '第三页', '第四页', '第五页']);
}

beforeAll(async () => {
  m = await startMeili();
  svc = createSearchService(m.conn, m.dir);
  await svc.init();
  // 450 candidates of 5 pages (2,250 pages), one holding the term whole (the last one Meilisearch ranks alike).
  const items = Array.from({ length: 450 }, (_, i) => item(`S${String(i).padStart(4, '0')}`, '东南西北，又见南西北中'));
  items.push(item('W0001', `前文${TERM}后文`));
  await svc.indexItems(items);
  await rm(join(m.dir, 'texts'), { recursive: true, force: true });
}, 120_000);

afterAll(async () => {
  await m?.stop();
});

describe('exact without the page-text files', () => {
  it('every candidate is checked against its pages from the index, past one request of pages', { timeout: 60_000 }, async () => {
    const r = await svc.search(viewer, { q: TERM, limit: 100 });
    expect(r.items.map((i) => i.itemId)).toEqual(['W0001']);
    expect(r.total).toBe(1);
    expect(r.approximate).toBeUndefined();
    expect(r.facets.fonds).toEqual({ J012: 1 });
  });

  it('a deadline passed (a peer answering within its relay bound, shared-verify.ts) stops the check between runs: approximate, never a partial answer', async () => {
    const hits = Array.from({ length: 3 }, (_, i) => ({ itemId: `X${i}`, contentHash: '', pageCount: 1500 }));
    const read: string[] = [];
    const pagesOf = async (list: typeof hits) => {
      read.push(...list.map((h) => h.itemId));
      return new Map(list.map((h) => [h.itemId, Array.from({ length: h.pageCount }, (_, p) => ({ page: p + 1, text: p === 0 && h.itemId === 'X2' ? TERM : '' }))]));
    };
    const terms = parseQuery(TERM).terms;
    expect(await verifyCandidates({ hits }, terms, pagesOf, Date.now() - 1)).toBe('approximate');
    expect(read).toEqual(['X0']);
    expect(await verifyCandidates({ hits }, terms, pagesOf)).toEqual(['X2']);
  });
});
