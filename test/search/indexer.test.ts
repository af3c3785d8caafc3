import { readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplianceError } from '../../core/errors.ts';
import { createSearchService, type SearchService, type StoredItem } from '../../search/index.ts';
import { adminClient, runTask } from '../../search/meili-admin.ts';
import type { Viewer } from '../../core/access.ts';
import { loadGroundTruth, startMeili, type MeiliHandle } from './support.ts';

const viewer: Viewer = { posts: ['ZH'], clearance: '内部' };
let m: MeiliHandle;
let svc: SearchService;
let items: StoredItem[];

async function* iter(xs: StoredItem[]): AsyncGenerator<StoredItem> {
  for (const x of xs) yield x;
}

async function ids(q: string): Promise<string[]> {
  return (await svc.search(viewer, { q, limit: 100 })).items.map((i) => i.itemId).sort();
}

beforeAll(async () => {
  m = await startMeili();
  svc = createSearchService(m.conn, m.dir);
  await svc.init();
  items = loadGroundTruth();
});

afterAll(async () => {
  await m?.stop();
});

describe('indexer', () => {
  it('indexes, replaces, shrinks and removes an item, and the consistency check sees every kind of drift', async () => {
    await svc.indexItems(items.slice(0, 6));
    let report = await svc.consistency(iter(items));
    expect(report.ok).toBe(false);
    expect(report.missing).toEqual(['S0007', 'S0008']);
    expect(report.stale).toEqual([]);
    await svc.indexItem(items[6].meta, items[6].pages);
    await svc.indexItem(items[7].meta, items[7].pages);
    report = await svc.consistency(iter(items));
    expect(report).toMatchObject({ ok: true, storeItems: 8, indexedItems: 8, missing: [], stale: [], orphaned: [], orphanedPages: [] });

    // Metadata changed in the store (access widened, title edited) but not re-indexed: stale.
    const edited: StoredItem = { meta: { ...items[0].meta, title: '关于加强机关节能降耗工作的补充意见', posts: ['ZH', 'BGS'] }, pages: items[0].pages };
    report = await svc.consistency(iter([edited, ...items.slice(1)]));
    expect(report.stale).toEqual(['S0001']);
    await svc.indexItem(edited.meta, edited.pages);
    expect(await ids('补充意见')).toEqual(['S0001']);

    // Re-indexed with one page fewer: the old page 2 and the page break leave the index.
    const p2only = items[1].pages[1].text.slice(0, 12).replace(/\n/g, '');
    expect(await ids(p2only)).toContain('S0002');
    const shrunk: StoredItem = { meta: { ...items[1].meta, pageCount: 1 }, pages: [items[1].pages[0]] };
    await svc.indexItem(shrunk.meta, shrunk.pages);
    expect(await ids(p2only)).not.toContain('S0002');
    report = await svc.consistency(iter([edited, shrunk, ...items.slice(2)]));
    expect(report.ok).toBe(true);

    // The store lost an item the index still has: orphaned. Removing it clears it.
    report = await svc.consistency(iter([edited, shrunk, ...items.slice(2, 7)]));
    expect(report.orphaned).toEqual(['S0008']);
    expect(report.orphanedPages).toEqual(['S0008-p1', 'S0008-p2']);
    await svc.removeItem('S0008');
    expect(await ids('0470-2361571')).toEqual([]);
    report = await svc.consistency(iter([edited, shrunk, ...items.slice(2, 7)]));
    expect(report.ok).toBe(true);
  });

  it('reindex rebuilds from the store and swaps atomically; a failing store leaves the live index untouched', async () => {
    const r = await svc.reindex(iter(items));
    expect(r).toMatchObject({ items: 8, pages: 16, truncated: [] });
    expect((await svc.consistency(iter(items))).ok).toBe(true);
    expect(await ids('0470-2361571')).toEqual(['S0008']);
    expect(await ids('补充意见')).toEqual([]);

    async function* broken(): AsyncGenerator<StoredItem> {
      yield items[0];
      throw new Error('disk read failed');
    }
    await expect(svc.reindex(broken())).rejects.toBeInstanceOf(Error);
    expect((await svc.consistency(iter(items))).ok).toBe(true);
    const admin = adminClient(m.conn);
    const uids = (await admin.getIndexes()).results.map((i) => i.uid).sort();
    expect(uids).toEqual(['items', 'pages']);

    // An item ingested while the rebuild reads the store (after the store was listed) survives the swap.
    const late: StoredItem = { meta: { ...items[0].meta, itemId: 'late-item', archivalCode: 'J999-2026-Y-BGS-0001' }, pages: items[0].pages };
    async function* slow(): AsyncGenerator<StoredItem> {
      yield* items.slice(0, 4);
      await svc.indexItem(late.meta, late.pages);
      await expect(svc.reindex(iter([]))).rejects.toMatchObject({ code: 'SEARCH_REINDEX_RUNNING' });
      yield* items.slice(4);
    }
    await svc.reindex(slow());
    expect(await ids('J999-2026')).toEqual(['late-item']);
    await svc.removeItem('late-item');
  });

  it('answers from the page-text store, the same through the pages index when a file is missing or stale; reindex restores and sweeps them', async () => {
    await svc.reindex(iter(items));
    const qs = ['检查 库房', '除湿机', '机构编制', '0470-2361571', '十四至二十四摄氏度'];
    const before = await Promise.all(qs.map((q) => svc.search(viewer, { q, limit: 100 })));
    expect(before.some((r) => r.items.some((i) => i.pages.length > 0 && i.snippet.includes('<mark>')))).toBe(true);
    const texts = join(m.dir, 'texts');
    const files = () => readdirSync(texts).flatMap((d) => readdirSync(join(texts, d)).map((f) => join(texts, d, f)));
    expect(
      files()
        .map((f) => basename(f))
        .sort(),
    ).toEqual(items.map((i) => i.meta.itemId).sort());
    // One file gone, one torn, one from other content (as after a crash or a copied data dir).
    const [gone, torn, other] = files();
    rmSync(gone);
    truncateSync(torn, 60);
    const stranger = files().find((f) => f !== other && f !== torn && f !== gone)!;
    writeFileSync(other, readFileSync(stranger));
    const report = await svc.consistency(iter(items));
    expect(report.stale.sort()).toEqual([basename(gone), basename(torn), basename(other)].sort());
    const after = await Promise.all(qs.map((q) => svc.search(viewer, { q, limit: 100 })));
    expect(after).toEqual(before);
    // A file of an item no longer in the store goes with the next rebuild.
    writeFileSync(join(dirname(gone), 'NOT-IN-STORE'), readFileSync(stranger));
    await svc.reindex(iter(items));
    expect((await svc.consistency(iter(items))).ok).toBe(true);
    expect(
      files()
        .map((f) => basename(f))
        .sort(),
    ).toEqual(items.map((i) => i.meta.itemId).sort());
    expect(await Promise.all(qs.map((q) => svc.search(viewer, { q, limit: 100 })))).toEqual(before);
  });

  it('refuses bad input with a clear error and changes nothing', async () => {
    const bad = (meta: Partial<StoredItem['meta']>, pages = items[0].pages) => svc.indexItem({ ...items[0].meta, ...meta }, pages);
    await expect(bad({ itemId: '../etc' })).rejects.toMatchObject({ code: 'SEARCH_BAD_ITEM_ID' });
    await expect(bad({ pageCount: 3 })).rejects.toMatchObject({ code: 'SEARCH_BAD_PAGES' });
    await expect(bad({}, [items[0].pages[0], { ...items[0].pages[1], page: 3 }])).rejects.toMatchObject({ code: 'SEARCH_BAD_PAGES' });
    await expect(bad({ posts: [] })).rejects.toMatchObject({ code: 'SEARCH_NO_POSTS' });
    expect((await svc.consistency(iter(items))).ok).toBe(true);
  });

  it('surfaces a failed Meilisearch task and an unreachable Meilisearch as ApplianceError', async () => {
    const admin = adminClient(m.conn);
    // A document without its primary key: accepted at enqueue, fails in the task.
    const err = await runTask(admin, 'bad doc', () => admin.index('items').addDocuments([{ title: 'no id' } as never])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplianceError);
    expect(err).toMatchObject({ code: 'SEARCH_TASK_FAILED' });
    expect((err as ApplianceError).zh).toMatch(/检索索引任务失败/);

    const down = createSearchService({ host: 'http://127.0.0.1:9', apiKey: 'x'.repeat(40) }, m.dir);
    await expect(down.indexItem(items[0].meta, items[0].pages)).rejects.toMatchObject({ code: 'SEARCH_UNAVAILABLE' });
    await expect(down.search(viewer, { q: '档案' })).rejects.toMatchObject({ code: 'SEARCH_UNAVAILABLE' });
  });
});
