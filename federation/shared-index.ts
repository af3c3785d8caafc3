import { ApplianceError, type ItemMetadata, type PageText, isApplianceError, log as rootLog } from '../core/index.ts';
import { SharedIndexWriter, type SharedEntry } from '../search/index.ts';
import { effectiveScope, readSharingPolicy, scopeReach, sharingPolicyBody, writeSharingPolicy, type NotSharedReason, type SharingPolicy } from './sharing-policy.ts';
import type { z } from 'zod';

const NOTHING: SharingPolicy = { version: 1, classifications: [], posts: [] };
const log = { warn: (o: object, m: string) => rootLog().warn({ room: 'federation', ...o }, m) };

/** What the shared index needs of the item store. */
export interface SharedItemSource {
  listItems(): AsyncIterable<ItemMetadata>;
  getItem(id: string): Promise<ItemMetadata | undefined>;
  readText(id: string): Promise<PageText[]>;
}

export interface ReconcileReport {
  shared: number;
  added: number;
  updated: number;
  removed: number;
  ms: number;
}

/** Where an item stands in 联合检索 (the item page says it). */
export interface ItemSharingStatus {
  scope: NonNullable<ItemMetadata['sharing']>;
  /** The scope it actually goes out under ('office' when it is not shared). */
  effective: NonNullable<ItemMetadata['sharing']>;
  reason?: NotSharedReason;
}

/** How long a narrowing (of scope or of policy) waits for Meilisearch before it is refused. */
export const SHARING_NARROWING_DEADLINE_MS = 20_000;
/** The periodic reconcile: a change of scope reaches the federation within a minute. */
export const RECONCILE_INTERVAL_MS = 20_000;

/**
 * Keeps Meilisearch's `shared` index (search/shared-schema.ts) equal to what the item store and
 * the 安全保密管理员's policy say may leave the office:
 * - narrowing is fail-closed, as for posts: the index drops or narrows the item (or, for a policy,
 *   every item the new policy keeps home), Meilisearch confirms, and only then is the store or the
 *   policy written; unconfirmed means refused and nothing changed;
 * - widening and other changes follow after the store (syncItem), and a reconcile every
 *   RECONCILE_INTERVAL_MS compares the whole store with the index, so a crash or a failed write is
 *   repaired within a minute and nothing is lost;
 * - with no office code configured nothing is shared (there is no office to name a hit with).
 */
export class SharedIndex {
  private readonly writer: SharedIndexWriter;
  private policyCache?: SharingPolicy;
  private timer?: NodeJS.Timeout;
  private running?: Promise<ReconcileReport>;
  /** itemId:updatedAt:scope → contentHash, so the reconcile reads a text.json only when an item changed. */
  private hashes = new Map<string, string>();
  private lastReport?: ReconcileReport & { at: string };
  private lock: Promise<void> = Promise.resolve();

  constructor(private readonly deps: { dataDir: string; writer: SharedIndexWriter; store: SharedItemSource; office: string | undefined; narrowingDeadlineMs?: number }) {
    this.writer = deps.writer;
  }

  get office(): string | undefined {
    return this.deps.office;
  }

  /** The policy; a damaged file shares nothing (until the secadmin saves the policy again), and edits go on. */
  async policy(): Promise<SharingPolicy> {
    if (this.policyCache) return this.policyCache;
    try {
      this.policyCache = await readSharingPolicy(this.deps.dataDir);
      return this.policyCache;
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'sharing policy unreadable: nothing is shared until it is saved again');
      return NOTHING;
    }
  }

  async status(meta: ItemMetadata): Promise<ItemSharingStatus> {
    const scope = meta.sharing ?? 'office';
    const e = effectiveScope(await this.policy(), meta);
    return e.scope === 'office' ? { scope, effective: 'office', reason: e.reason } : { scope, effective: e.scope };
  }

  /**
   * Run `fn` alone with respect to the reconcile and other narrowings: a reconcile that read the
   * store before an edit must not put the wider, old state back after the edit's narrowing. An edit
   * wraps its whole store write in it.
   */
  exclusive<T>(fn: () => Promise<T>, opts: { bounded?: boolean } = {}): Promise<T> {
    const prev = this.lock;
    let release!: () => void;
    const done = new Promise<void>((r) => (release = r));
    this.lock = prev.then(() => done);
    return (async () => {
      if (opts.bounded) {
        // A person's edit does not wait behind a stalled Meilisearch for minutes: refused, nothing written.
        const waitMs = this.deps.narrowingDeadlineMs ?? SHARING_NARROWING_DEADLINE_MS;
        let timer: NodeJS.Timeout | undefined;
        const got = await Promise.race([prev.then(() => true), new Promise<false>((r) => (timer = setTimeout(() => r(false), waitMs)))]);
        clearTimeout(timer);
        if (!got) {
          void prev.then(release);
          throw new ApplianceError('SHARING_BUSY', '共享索引正忙（检索服务未及时响应），本次修改未保存。请稍后重试。', `shared index busy: waited ${waitMs} ms`, { status: 503 });
        }
      } else await prev;
      try {
        return await fn();
      } finally {
        release();
      }
    })();
  }

  /** The scope the item goes out under now (office = not shared); nothing leaves without an office code. */
  private async reach(meta: ItemMetadata, policy?: SharingPolicy): Promise<'office' | 'parent' | 'all'> {
    if (!this.deps.office) return 'office';
    return effectiveScope(policy ?? (await this.policy()), meta).scope;
  }

  /**
   * Before an item's metadata is written: if the change narrows how far it goes out (scope
   * narrowed, 密级 raised past the policy, a post outside the policy), the shared index takes the
   * new, narrower state first and Meilisearch confirms it, else SHARING_NOT_INDEXED and the caller
   * writes nothing.
   */
  async beforeWrite(current: ItemMetadata, next: ItemMetadata, deadlineMs = this.deps.narrowingDeadlineMs ?? SHARING_NARROWING_DEADLINE_MS): Promise<boolean> {
    const before = await this.reach(current);
    const after = await this.reach(next);
    if (scopeReach(after) >= scopeReach(before)) return false;
    try {
      if (after === 'office') await this.writer.remove([next.itemId], { deadlineMs });
      else await this.writer.put([{ meta: next, pages: await this.deps.store.readText(next.itemId), scope: after }], this.deps.office!, { deadlineMs });
    } catch (e) {
      throw notIndexed(e);
    }
    return true;
  }

  /** After an item was stored, edited or deleted: bring its shared documents in line (best effort; the reconcile repairs). */
  syncItem(itemId: string): Promise<void> {
    // Under the lock: it writes what the store says at that moment, so a narrowing that follows
    // cannot be overtaken by this (older, wider) write landing after it.
    return this.exclusive(async () => {
      const meta = await this.deps.store.getItem(itemId);
      const reach = meta ? await this.reach(meta) : 'office';
      if (!meta || reach === 'office') await this.writer.remove([itemId]);
      else await this.writer.put([{ meta, pages: await this.deps.store.readText(itemId), scope: reach }], this.deps.office!);
    });
  }

  /**
   * syncItem for a route: waits at most the narrowing deadline, then answers while the sync goes
   * on in order under the lock (or fails, and the reconcile repairs it).
   */
  async syncItemSoon(itemId: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const work = this.syncItem(itemId).catch((e) => log.warn({ itemId, err: (e as Error).message }, 'shared index: sync failed; the reconcile repairs it'));
    await Promise.race([work, new Promise<void>((r) => (timer = setTimeout(r, this.deps.narrowingDeadlineMs ?? SHARING_NARROWING_DEADLINE_MS)))]);
    clearTimeout(timer);
  }

  /**
   * A new policy from the secadmin. Every item the new policy keeps home (or narrows) leaves the
   * shared index first, confirmed; only then is the policy saved. Items it newly allows follow in a
   * reconcile right after.
   */
  setPolicy(body: z.infer<typeof sharingPolicyBody>, by: string, deadlineMs = this.deps.narrowingDeadlineMs ?? SHARING_NARROWING_DEADLINE_MS): Promise<{ policy: SharingPolicy; withdrawn: number }> {
    return this.exclusive(() => this.setPolicyNow(body, by, deadlineMs)).then((r) => {
      void this.reconcile().catch((e) => log.warn({ err: (e as Error).message }, 'shared index reconcile after policy change failed'));
      return r;
    });
  }

  private async setPolicyNow(body: z.infer<typeof sharingPolicyBody>, by: string, deadlineMs: number): Promise<{ policy: SharingPolicy; withdrawn: number }> {
    const old = await this.policy();
    const draft: SharingPolicy = { version: 1, classifications: body.classifications, posts: body.posts };
    const narrowed: ItemMetadata[] = [];
    for await (const m of this.deps.store.listItems()) {
      if (scopeReach(await this.reach(m, draft)) < scopeReach(await this.reach(m, old))) narrowed.push(m);
    }
    try {
      const out = narrowed.filter((m) => effectiveScope(draft, m).scope === 'office').map((m) => m.itemId);
      const down: SharedEntry[] = [];
      for (const m of narrowed) {
        const s = effectiveScope(draft, m).scope;
        if (s !== 'office') down.push({ meta: m, pages: await this.deps.store.readText(m.itemId), scope: s });
      }
      if (out.length) await this.writer.remove(out, { deadlineMs });
      if (down.length && this.deps.office) await this.writer.put(down, this.deps.office, { deadlineMs });
    } catch (e) {
      throw notIndexed(e);
    }
    const policy = await writeSharingPolicy(this.deps.dataDir, body, by);
    this.policyCache = policy;
    return { policy, withdrawn: narrowed.length };
  }

  /** Compare the item store with the shared index and repair every difference. One at a time. */
  reconcile(): Promise<ReconcileReport> {
    this.running ??= this.reconcileOnce().finally(() => (this.running = undefined));
    return this.running;
  }

  private async reconcileOnce(): Promise<ReconcileReport> {
    const started = Date.now();
    // Re-read the policy: another process (the CLI) may have saved one.
    this.policyCache = undefined;
    const policy = await this.policy();
    const indexed = await this.writer.list();
    const report: ReconcileReport = { shared: 0, added: 0, updated: 0, removed: 0, ms: 0 };
    const seen = new Set<string>();
    let batch: SharedEntry[] = [];
    // The diff is found without the lock; each batch is written under it from the store as it is
    // then (an edit or a narrowing meanwhile wins), so the lock is held for one batch at a time.
    const flush = async () => {
      const ids = batch.map((e) => e.meta.itemId);
      batch = [];
      if (ids.length) await this.exclusive(() => this.writeCurrent(ids));
    };
    const hashes = new Map<string, string>();
    for await (const m of this.deps.store.listItems()) {
      const reach = await this.reach(m, policy);
      if (reach === 'office') continue;
      seen.add(m.itemId);
      report.shared++;
      const key = `${m.itemId}:${m.updatedAt}:${reach}:${this.deps.office}`;
      let pages: PageText[] | undefined;
      let hash = this.hashes.get(key);
      if (!hash) {
        try {
          pages = await this.deps.store.readText(m.itemId);
          hash = SharedIndexWriter.hashOf({ meta: m, pages, scope: reach }, this.deps.office!);
        } catch (e) {
          // An item whose text cannot be read is not shared (and leaves the index below); the others go on.
          log.warn({ itemId: m.itemId, err: (e as Error).message }, 'shared index: item skipped');
          seen.delete(m.itemId);
          report.shared--;
          continue;
        }
      }
      hashes.set(key, hash);
      const have = indexed.get(m.itemId);
      if (have === hash) continue;
      if (have === undefined) report.added++;
      else report.updated++;
      batch.push({ meta: m, pages: [], scope: reach });
      if (batch.length >= 50) await flush();
    }
    await flush();
    this.hashes = hashes;
    const gone = [...indexed.keys()].filter((id) => !seen.has(id));
    for (let i = 0; i < gone.length; i += 50) await this.exclusive(() => this.writeCurrent(gone.slice(i, i + 50)));
    report.removed = gone.length;
    report.ms = Date.now() - started;
    this.lastReport = { ...report, at: new Date().toISOString() };
    return report;
  }

  /** Under the lock: write these items' shared state as the store and the policy say now. */
  private async writeCurrent(ids: string[]): Promise<void> {
    const put: SharedEntry[] = [];
    const out: string[] = [];
    for (const id of ids) {
      const meta = await this.deps.store.getItem(id).catch(() => undefined);
      const reach = meta ? await this.reach(meta) : 'office';
      if (!meta || reach === 'office') {
        out.push(id);
        continue;
      }
      try {
        put.push({ meta, pages: await this.deps.store.readText(id), scope: reach });
      } catch (e) {
        log.warn({ itemId: id, err: (e as Error).message }, 'shared index: item skipped');
        out.push(id);
      }
    }
    if (out.length) await this.writer.remove(out);
    if (put.length) await this.writer.put(put, this.deps.office!);
  }

  /** Rebuild from nothing (archive reindex). */
  async rebuild(): Promise<ReconcileReport> {
    await this.running?.catch(() => undefined);
    await this.exclusive(async () => {
      await this.writer.clear();
      this.hashes.clear();
    });
    return this.reconcile();
  }

  /** Items in the shared index now (for the integrity report and the peers page). */
  async count(): Promise<number> {
    return (await this.writer.list()).size;
  }

  get last(): (ReconcileReport & { at: string }) | undefined {
    return this.lastReport;
  }

  start(intervalMs = RECONCILE_INTERVAL_MS): void {
    if (this.timer) return;
    const tick = () => {
      this.reconcile()
        .catch((e) => log.warn({ err: (e as Error).message }, 'shared index reconcile failed; retried at the next interval'))
        .finally(() => {
          if (this.timer) this.timer = setTimeout(tick, intervalMs).unref();
        });
    };
    this.timer = setTimeout(tick, 0).unref();
  }

  async stop(): Promise<void> {
    const t = this.timer;
    this.timer = undefined;
    if (t) clearTimeout(t);
    await this.running?.catch(() => undefined);
  }
}

function notIndexed(e: unknown): ApplianceError {
  return new ApplianceError(
    'SHARING_NOT_INDEXED',
    '检索服务暂时无法更新共享索引，为防止条目在收窄共享范围后仍被其他单位检索到，本次修改未保存。请稍后重试。',
    `sharing narrowing refused: shared index not confirmed (${isApplianceError(e) ? e.code : ''} ${(e as Error)?.message ?? e})`,
    { status: 503, cause: e },
  );
}
