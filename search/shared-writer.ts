import type { EnqueuedTask, Meilisearch } from 'meilisearch';
import type { MeiliConnection, ItemMetadata, PageText } from '../core/index.ts';
import { adminClient, ensureIndex, meiliError, runTask, waitTask } from './meili-admin.ts';
import { confirmedWithin } from './task-wait.ts';
import { INDEX_SHARED, SHARED_SETTINGS, buildSharedDocs, type SharedItemDoc, type SharedPageDoc, type SharedScope } from './shared-schema.ts';
import { filterString } from './tenant-token.ts';

/** One item to put into the shared index, with the scope it goes out under. */
export interface SharedEntry {
  meta: ItemMetadata;
  pages: PageText[];
  scope: SharedScope;
}

/**
 * Writes the shared index (federation/shared-index.ts decides what goes in). Master key, server
 * side only; every write waits for Meilisearch's confirmation, and `deadlineMs` bounds that wait
 * for callers that must not go on unconfirmed (a narrowing of scope or policy).
 */
export class SharedIndexWriter {
  private readonly client: Meilisearch;
  private ready?: Promise<void>;

  constructor(conn: MeiliConnection) {
    this.client = adminClient(conn);
  }

  ensure(): Promise<void> {
    this.ready ??= (async () => {
      await ensureIndex(this.client, INDEX_SHARED, SHARED_SETTINGS);
    })().catch((e) => {
      this.ready = undefined;
      throw e;
    });
    return this.ready;
  }

  /** Contents hash of what `put` would write for the entry (to compare with `list`). */
  static hashOf(e: SharedEntry, office: string): string {
    return buildSharedDocs(e.meta, e.pages, office, e.scope).item.contentHash;
  }

  /** Add or replace items: their page documents first, then the item documents, then pages past a new page count. */
  put(entries: SharedEntry[], office: string, opts: { deadlineMs?: number } = {}): Promise<void> {
    return this.bounded(`share ${entries.length} items`, opts.deadlineMs, async () => {
      await this.ensure();
      if (entries.length === 0) return;
      const built = entries.map((e) => buildSharedDocs(e.meta, e.pages, office, e.scope));
      const idx = this.client.index<SharedItemDoc | SharedPageDoc>(INDEX_SHARED);
      const enqueued: EnqueuedTask[] = [];
      try {
        enqueued.push(await idx.addDocuments(built.flatMap((b) => b.pages)));
        enqueued.push(await idx.addDocuments(built.map((b) => b.item)));
        const shrink = built.map((b) => `(itemId = ${filterString(b.item.itemId)} AND kind = "page" AND page > ${b.item.pageCount})`);
        for (let i = 0; i < shrink.length; i += 100) enqueued.push(await idx.deleteDocuments({ filter: shrink.slice(i, i + 100).join(' OR ') }));
      } catch (e) {
        throw meiliError(e, 'write shared index');
      }
      for (const t of enqueued) await waitTask(this.client, 'write shared index', t);
    });
  }

  /** Take items out of the shared index (item and page documents), confirmed. */
  remove(itemIds: string[], opts: { deadlineMs?: number } = {}): Promise<void> {
    return this.bounded(`unshare ${itemIds.length} items`, opts.deadlineMs, async () => {
      await this.ensure();
      const idx = this.client.index(INDEX_SHARED);
      for (let i = 0; i < itemIds.length; i += 100) {
        const ids = itemIds.slice(i, i + 100);
        await runTask(this.client, 'remove from shared index', () => idx.deleteDocuments({ filter: `itemId IN [${ids.map(filterString).join(', ')}]` }));
      }
    });
  }

  /** Every shared item: itemId → contentHash of its item document. */
  async list(): Promise<Map<string, string>> {
    await this.ensure();
    const out = new Map<string, string>();
    for (let offset = 0; ; offset += 1000) {
      let res;
      try {
        res = await this.client.index(INDEX_SHARED).getDocuments<SharedItemDoc>({ offset, limit: 1000, fields: ['itemId', 'contentHash'], filter: 'kind = "item"' });
      } catch (e) {
        throw meiliError(e, `read ${INDEX_SHARED}`);
      }
      for (const d of res.results) out.set(d.itemId, d.contentHash);
      if (res.results.length < 1000) return out;
    }
  }

  /** How many items the shared index holds: one cheap request, where `list` reads them all. */
  /** `deadlineMs`: the reconcile asks under the lock that edits wait for, so a stopped Meilisearch must not hold it. */
  countItems(opts: { deadlineMs?: number } = {}): Promise<number> {
    return this.bounded(`count ${INDEX_SHARED}`, opts.deadlineMs, async () => {
      await this.ensure();
      try {
        return (await this.client.index(INDEX_SHARED).getDocuments<SharedItemDoc>({ limit: 1, fields: ['itemId'], filter: 'kind = "item"' })).total;
      } catch (e) {
        throw meiliError(e, `count ${INDEX_SHARED}`);
      }
    });
  }

  /** Drop every document (a rebuild starts from nothing). */
  async clear(): Promise<void> {
    await this.ensure();
    await runTask(this.client, `clear ${INDEX_SHARED}`, () => this.client.index(INDEX_SHARED).deleteAllDocuments());
  }

  private async bounded<T>(what: string, deadlineMs: number | undefined, work: () => Promise<T>): Promise<T> {
    return confirmedWithin(work(), deadlineMs, '共享索引更新', what);
  }
}
