import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataPath } from '../../core/data-dir.ts';
import { createIngestService, ItemStore, type IngestService } from '../../ingest/index.ts';
import type { SearchService } from '../../search/index.ts';
import { AuditLog } from '../../security/index.ts';
import { SHARED } from '../support/appliance.ts';
import { startTestClamd, type TestClamd } from '../support/clamd.ts';
import { startSearchDataDir, type SearchDataDir } from '../support/search-data-dir.ts';

describe('re-OCR of an archived item', () => {
  let env: SearchDataDir;
  let clamd: TestClamd;
  let svc: IngestService;
  let search: SearchService;
  let dataDir: string;
  const actor = { name: 'li', role: 'archivist', source: '127.0.0.1' };

  beforeAll(async () => {
    clamd = await startTestClamd();
    env = await startSearchDataDir('archive-reocr-', { ARCHIVE_CLAMD: clamd.address });
    ({ search } = env);
    const cfg = env.cfg;
    dataDir = cfg.dataDir;
    svc = await createIngestService(cfg, { log: pino({ level: 'silent' }), audit: new AuditLog(dataPath(dataDir, 'audit')), search });
  });
  afterAll(async () => {
    await svc?.stop();
    await env?.close();
    await clamd?.stop();
  });

  it('reads the originals again and replaces pages, text and PDF under the same id and catalogue data', async () => {
    const first = await svc.submit([join(SHARED, 'samples/items/S0008')], { posts: ['BGS'], classification: '内部', actor, via: 'cli' });
    await svc.drain();
    const itemId = (await svc.jobs.load(first.id)).items[0].itemId;
    const before = (await svc.store.getItem(itemId))!;

    const job = await svc.reocr(itemId, actor);
    expect(job.items[0]).toMatchObject({ itemId, replaces: itemId });
    await svc.drain();
    const done = await svc.jobs.load(job.id);
    expect(done.items[0]).toMatchObject({ outcome: 'archived', pageCount: 2 });

    const store = svc.store;
    expect(store.count).toBe(1);
    const after = (await store.getItem(itemId))!;
    expect(after).toMatchObject({ itemId, posts: ['BGS'], classification: '内部', pageCount: 2, createdAt: before.createdAt, originals: before.originals });
    expect(after.updatedAt > before.updatedAt).toBe(true);
    expect(await store.verifyItem(itemId)).toMatchObject({ status: 'ok' });
    expect((await store.readText(itemId)).map((p) => p.text.length).every((n) => n > 100)).toBe(true);

    // Still found, once.
    const gt = JSON.parse(await readFile(join(SHARED, 'samples/gt/S0008.json'), 'utf8')) as { pages: Array<{ lines: string[] }> };
    const phrase = gt.pages[0].lines[0].replace(/\s/g, '').slice(0, 6);
    const r = await search.search({ posts: ['BGS'], clearance: '内部' }, { q: phrase });
    expect(r.items.map((i) => i.itemId)).toEqual([itemId]);

    const trail = (await readFile(join(dataDir, 'audit', `audit-${new Date().getFullYear()}.jsonl`), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { action: string; target: string });
    expect(trail.filter((x) => x.action === 'item.reocr' && x.target === itemId)).toHaveLength(1);
  });

  it('puts the old item back if a replace stopped between its two renames', async () => {
    const store = svc.store;
    const [itemId] = store.ids();
    // What a crash between "old aside" and "new in place" leaves: the item only in items/.tmp.
    await rename(store.itemDir(itemId), join(dataDir, 'items', '.tmp', `999999-${itemId}-old-0123abcd`));
    expect(await store.itemExists(itemId)).toBe(false);
    const reopened = await ItemStore.open(dataDir);
    expect(await reopened.itemExists(itemId)).toBe(true);
    expect(await reopened.verifyItem(itemId)).toMatchObject({ status: 'ok' });
  });
});
