import type { EnqueuedTask, Meilisearch, Settings } from 'meilisearch';
import { type MeiliConnection, ApplianceError, type ItemMetadata, type PageText } from '../core/index.ts';
import { adminClient, ensureIndex, meiliError, runTask, waitTask } from './meili-admin.ts';
import { confirmedWithin } from './task-wait.ts';
import { INDEX_ITEMS, INDEX_PAGES, ITEMS_SETTINGS, PAGES_SETTINGS, buildDocs, checkItemId, contentHash, pageDocId, type ItemDoc, type PageDoc } from './schema.ts';
import { filterString } from './tenant-token.ts';
import type { PageTextStore } from './text-store.ts';

/** One item as the item store holds it: what the index is built from. */
export interface StoredItem {
  meta: ItemMetadata;
  pages: PageText[];
}

export interface ReindexReport {
  items: number;
  pages: number;
  /** Items with more pages than the item document holds (their tail pages are not searchable). */
  truncated: string[];
  ms: number;
}

/** Index versus item store. Usable by the integrity report. */
export interface ConsistencyReport {
  ok: boolean;
  storeItems: number;
  indexedItems: number;
  /** In the store, not in the index. */
  missing: string[];
  /**
   * In both, but the index holds other metadata or text (contentHash differs), or page documents
   * or the page-text file are missing.
   */
  stale: string[];
  /** In the index, not in the store. */
  orphaned: string[];
  /** Page documents without their item in the store or past its page count. */
  orphanedPages: string[];
  truncated: string[];
}

const BATCH_ITEMS = 200;
const TMP_ITEMS = `${INDEX_ITEMS}__rebuild`;
const TMP_PAGES = `${INDEX_PAGES}__rebuild`;

/** Writes the index. Only the server calls it (master key); tasks are awaited and failures surface. */
export class Indexer {
  private readonly client: Meilisearch;
  private ready?: Promise<void>;
  private rebuilding = false;
  /** While a rebuild runs and its sweep of the text store: the items indexed meanwhile. */
  private touched?: Set<string>;

  constructor(
    conn: MeiliConnection,
    private readonly texts: PageTextStore,
  ) {
    this.client = adminClient(conn);
  }

  private createWithSettings(uid: string, settings: Settings): Promise<void> {
    return ensureIndex(this.client, uid, settings);
  }

  /** Create both indexes and apply their settings (idempotent; once per process). */
  ensureIndexes(): Promise<void> {
    this.ready ??= (async () => {
      await this.createWithSettings(INDEX_ITEMS, ITEMS_SETTINGS);
      await this.createWithSettings(INDEX_PAGES, PAGES_SETTINGS);
    })().catch((e) => {
      this.ready = undefined;
      throw e;
    });
    return this.ready;
  }

  /** Index items; their page-text files first (a file is used only for the hash a hit names). */
  private async write(items: StoredItem[], itemsIndex: string, pagesIndex: string, texts = true): Promise<{ pages: number; truncated: string[] }> {
    const built = items.map((s) => buildDocs(s.meta, s.pages));
    const itemDocs: ItemDoc[] = built.map((b) => b.item);
    const pageDocs: PageDoc[] = built.flatMap((b) => b.pages);
    const what = items.length === 1 ? `index item ${items[0].meta.itemId}` : `index ${items.length} items`;
    if (texts) {
      for (const b of built) this.touched?.add(b.item.itemId);
      try {
        await Promise.all(
          built.map((b) =>
            this.texts.write(
              b.item.itemId,
              b.item.contentHash,
              b.pages.map((p) => p.text),
            ),
          ),
        );
      } catch (e) {
        throw new ApplianceError(
          'SEARCH_TEXTS_UNWRITABLE',
          `无法写入页面文本文件（${(e as Error).message}），未编入索引。请检查数据目录的磁盘空间与权限。`,
          `${what}: page-text files: ${(e as Error).message}`,
          { cause: e },
        );
      }
    }
    // Enqueued one after the other (Meilisearch runs tasks in enqueue order): page documents
    // first, so an item document that is found always has its page texts.
    const enqueued: EnqueuedTask[] = [];
    try {
      enqueued.push(await this.client.index<PageDoc>(pagesIndex).addDocuments(pageDocs));
      enqueued.push(await this.client.index<ItemDoc>(itemsIndex).addDocuments(itemDocs));
      // Pages past the new page count (an item re-indexed with fewer pages).
      const shrink = built.map((b) => `(itemId = ${filterString(b.item.itemId)} AND page > ${b.item.pageCount})`);
      for (let i = 0; i < shrink.length; i += 100) enqueued.push(await this.client.index(pagesIndex).deleteDocuments({ filter: shrink.slice(i, i + 100).join(' OR ') }));
    } catch (e) {
      throw meiliError(e, what);
    }
    for (const t of enqueued) await waitTask(this.client, what, t);
    return { pages: pageDocs.length, truncated: built.filter((b) => b.item.truncatedPages > 0).map((b) => b.item.itemId) };
  }

  /**
   * Add or replace one item (its metadata, access fields and every page) and wait until searchable.
   * With `deadlineMs`, give up with SEARCH_UNAVAILABLE when Meilisearch has not confirmed by then
   * (stopped, restarting, overloaded): a caller that must not go on unconfirmed (a narrowing edit)
   * gets an answer instead of hanging for the client's minute-long timeouts.
   */
  async indexItem(meta: ItemMetadata, pages: PageText[], opts: { deadlineMs?: number } = {}): Promise<void> {
    const work = (async () => {
      await this.ensureIndexes();
      await this.write([{ meta, pages }], INDEX_ITEMS, INDEX_PAGES);
      if (this.rebuilding) await this.write([{ meta, pages }], TMP_ITEMS, TMP_PAGES, false);
    })();
    await confirmedWithin(work, opts.deadlineMs, '索引更新', `meilisearch index item ${meta.itemId}`);
  }

  /** Add or replace many items in one go (bulk ingest, benches). */
  async indexItems(items: StoredItem[]): Promise<{ pages: number; truncated: string[] }> {
    await this.ensureIndexes();
    if (items.length === 0) return { pages: 0, truncated: [] };
    const r = await this.write(items, INDEX_ITEMS, INDEX_PAGES);
    if (this.rebuilding) await this.write(items, TMP_ITEMS, TMP_PAGES, false);
    return r;
  }

  /** Remove an item and all its pages from the index and wait until they are gone. */
  async removeItem(itemId: string): Promise<void> {
    checkItemId(itemId);
    await this.ensureIndexes();
    await this.remove(itemId, INDEX_ITEMS, INDEX_PAGES);
    if (this.rebuilding) await this.remove(itemId, TMP_ITEMS, TMP_PAGES);
    this.touched?.delete(itemId);
    await this.texts.remove(itemId);
  }

  private async remove(itemId: string, itemsIndex: string, pagesIndex: string): Promise<void> {
    const what = `remove item ${itemId}`;
    let a: EnqueuedTask;
    let b: EnqueuedTask;
    try {
      a = await this.client.index(itemsIndex).deleteDocument(itemId);
      b = await this.client.index(pagesIndex).deleteDocuments({ filter: `itemId = ${filterString(itemId)}` });
    } catch (e) {
      throw meiliError(e, what);
    }
    await waitTask(this.client, what, a);
    await waitTask(this.client, what, b);
  }

  /**
   * Rebuild from the item store into fresh indexes and swap them in atomically: searches keep
   * answering from the old index until the new one is complete, and a failure leaves it untouched.
   * Page-text files are rewritten as items are read (a file serves only the hash it names), and
   * those of items no longer in the store are removed after the swap.
   */
  async reindex(source: AsyncIterable<StoredItem>): Promise<ReindexReport> {
    const started = Date.now();
    await this.ensureIndexes();
    if (this.rebuilding) throw new ApplianceError('SEARCH_REINDEX_RUNNING', '索引重建已在进行中，请等待其完成。', 'a reindex is already running', { status: 409 });
    const tmpItems = TMP_ITEMS;
    const tmpPages = TMP_PAGES;
    const drop = async () => {
      for (const uid of [tmpItems, tmpPages]) await runTask(this.client, `drop ${uid}`, () => this.client.deleteIndex(uid)).catch(() => undefined);
    };
    await drop();
    const report: ReindexReport = { items: 0, pages: 0, truncated: [], ms: 0 };
    // Items indexed or removed while the rebuild runs go to both (the store is read once, in order).
    this.rebuilding = true;
    const touched = (this.touched = new Set<string>());
    try {
      await this.createWithSettings(tmpItems, ITEMS_SETTINGS);
      await this.createWithSettings(tmpPages, PAGES_SETTINGS);
      let batch: StoredItem[] = [];
      const flush = async () => {
        if (batch.length === 0) return;
        const r = await this.write(batch, tmpItems, tmpPages);
        report.items += batch.length;
        report.pages += r.pages;
        report.truncated.push(...r.truncated);
        batch = [];
      };
      for await (const item of source) {
        batch.push(item);
        if (batch.length >= BATCH_ITEMS) await flush();
      }
      await flush();
      await runTask(this.client, 'swap rebuilt indexes', () =>
        this.client.swapIndexes([
          { indexes: [INDEX_ITEMS, tmpItems], rename: false },
          { indexes: [INDEX_PAGES, tmpPages], rename: false },
        ]),
      );
    } catch (e) {
      this.rebuilding = false;
      this.touched = undefined;
      await drop();
      throw e;
    }
    this.rebuilding = false;
    try {
      await this.texts.sweep(touched);
    } finally {
      this.touched = undefined;
    }
    await drop();
    report.ms = Date.now() - started;
    return report;
  }

  private async allDocs<T extends Record<string, unknown>>(uid: string, fields: string[]): Promise<T[]> {
    const out: T[] = [];
    for (let offset = 0; ; offset += 1000) {
      let res;
      try {
        res = await this.client.index(uid).getDocuments<T>({ offset, limit: 1000, fields: fields as Array<Extract<keyof T, string>> });
      } catch (e) {
        throw meiliError(e, `read ${uid}`);
      }
      out.push(...res.results);
      if (res.results.length < 1000) return out;
    }
  }

  /** Compare the index with the item store: missing, stale and orphaned documents. */
  async consistency(source: AsyncIterable<StoredItem>): Promise<ConsistencyReport> {
    await this.ensureIndexes();
    const indexed = new Map(
      (await this.allDocs<Pick<ItemDoc, 'id' | 'contentHash' | 'pageCount' | 'truncatedPages'>>(INDEX_ITEMS, ['id', 'contentHash', 'pageCount', 'truncatedPages'])).map((d) => [d.id, d]),
    );
    const pageIds = new Set((await this.allDocs<Pick<PageDoc, 'id'>>(INDEX_PAGES, ['id'])).map((d) => d.id));
    const r: ConsistencyReport = { ok: true, storeItems: 0, indexedItems: indexed.size, missing: [], stale: [], orphaned: [], orphanedPages: [], truncated: [] };
    const seen = new Set<string>();
    for await (const { meta, pages } of source) {
      r.storeItems++;
      seen.add(meta.itemId);
      const doc = indexed.get(meta.itemId);
      let pagesOk = true;
      for (let p = 1; p <= meta.pageCount; p++) {
        if (!pageIds.delete(pageDocId(meta.itemId, p))) pagesOk = false;
      }
      const hash = contentHash(meta, pages);
      if (!doc) r.missing.push(meta.itemId);
      else if (!pagesOk || doc.contentHash !== hash || !this.texts.read(meta.itemId, hash)) r.stale.push(meta.itemId);
      if (doc && doc.truncatedPages > 0) r.truncated.push(meta.itemId);
    }
    for (const id of indexed.keys()) if (!seen.has(id)) r.orphaned.push(id);
    r.orphanedPages = [...pageIds].sort();
    r.ok = r.missing.length + r.stale.length + r.orphaned.length + r.orphanedPages.length === 0;
    return r;
  }
}
