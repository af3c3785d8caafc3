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
  /** Tells the id of each item this process stores or edits (ItemStore.onChange); without it every reconcile reads the whole store. */
  onChange?(listener: (itemId: string) => void): () => void;
}

export interface ReconcileReport {
  /** full: every item of the store was read; changes: only the items changed since the last pass. */
  kind: 'full' | 'changes';
  /** Items of the store read by the pass. */
  checked: number;
  /** Items in the shared index after the pass (as far as this process knows, between full passes). */
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
 * How often the reconcile reads the whole store even when nothing says it must (the first pass
 * after a start, a change of policy or office, and a failed pass always do): the safety net for
 * what no change notice covers (the shared index changed or restored behind the appliance's back).
 */
export const FULL_RECONCILE_INTERVAL_MS = 24 * 3600_000;
/** The reconcile's count of the shared items, asked under the lock: at most this long, else the pass fails and the next one asks again. */
const COUNT_DEADLINE_MS = 5_000;

/**
 * Keeps Meilisearch's `shared` index (search/shared-schema.ts) equal to what the item store and
 * the 安全保密管理员's policy say may leave the office:
 * - narrowing is fail-closed, as for posts: the index drops or narrows the item (or, for a policy,
 *   every item the new policy keeps home), Meilisearch confirms, and only then is the store or the
 *   policy written; unconfirmed means refused and nothing changed;
 * - widening and other changes follow after the store (syncItem), and a reconcile every
 *   RECONCILE_INTERVAL_MS repairs a failed or missing write within a minute and loses nothing.
 *   It reads only the items the store told of since the last pass (ItemStore.onChange: CSV and
 *   other ingest, edits whose sync failed, a narrowing whose store write did not follow), so its
 *   cost follows the changes, not the archive's size. It reads the whole store and compares it
 *   with the index (a full pass) at the first pass after a start — which is what repairs a crash
 *   between a change and its index update, the notice being lost with the process —, whenever
 *   the policy or the office code read at a pass differs from the last pass's, after a failed
 *   full pass, when the index holds another number of items than this process wrote (written
 *   behind its back), and every FULL_RECONCILE_INTERVAL_MS;
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
  /** Items changed (as the store told) and not yet written to the index from the store's state. */
  private readonly pending = new Set<string>();
  /** Items in the shared index, as far as the passes and syncs of this process wrote it. */
  private sharedIds = new Set<string>();
  /** The policy and office the last full pass compared the store under; unset: the next pass is full. */
  private fullUnder?: string;
  private lastFullAt = 0;
  private unsubscribe?: () => void;

  constructor(
    private readonly deps: {
      dataDir: string;
      writer: SharedIndexWriter;
      store: SharedItemSource;
      office: string | undefined;
      narrowingDeadlineMs?: number;
      /** FULL_RECONCILE_INTERVAL_MS unless given (tests). */
      fullReconcileMs?: number;
    },
  ) {
    this.writer = deps.writer;
    this.listen();
  }

  /** From here on the store tells this index of its changes (until stop). */
  private listen(): void {
    this.unsubscribe ??= this.deps.store.onChange?.((id) => this.pending.add(id));
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
    // If the store write does not follow (refused, failed), the next pass puts the stored state back.
    this.pending.add(next.itemId);
    try {
      if (after === 'office') {
        await this.writer.remove([next.itemId], { deadlineMs });
        this.sharedIds.delete(next.itemId);
      } else {
        await this.writer.put([{ meta: next, pages: await this.deps.store.readText(next.itemId), scope: after }], this.deps.office!, { deadlineMs });
        this.sharedIds.add(next.itemId);
      }
    } catch (e) {
      throw notIndexed(e);
    }
    return true;
  }

  /** After an item was stored, edited or deleted: bring its shared documents in line (best effort; the reconcile repairs). */
  syncItem(itemId: string): Promise<void> {
    // Under the lock: it writes what the store says at that moment, so a narrowing that follows
    // cannot be overtaken by this (older, wider) write landing after it.
    return this.exclusive(() => this.writeCurrent([itemId]));
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
    return this.exclusive(() => this.setPolicyNow(body, by, deadlineMs), { bounded: true }).then((r) => {
      void this.reconcile().catch((e) => log.warn({ err: (e as Error).message }, 'shared index reconcile after policy change failed'));
      return r;
    });
  }

  private async setPolicyNow(body: z.infer<typeof sharingPolicyBody>, by: string, deadlineMs: number): Promise<{ policy: SharingPolicy; withdrawn: number }> {
    // Whatever happens below (withdrawn but the policy not saved, say), the next pass compares everything.
    this.fullUnder = undefined;
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
      for (const id of out) this.sharedIds.delete(id);
      if (down.length && this.deps.office) await this.writer.put(down, this.deps.office, { deadlineMs });
      for (const e of down) this.sharedIds.add(e.meta.itemId);
    } catch (e) {
      throw notIndexed(e);
    }
    const policy = await writeSharingPolicy(this.deps.dataDir, body, by);
    this.policyCache = policy;
    return { policy, withdrawn: narrowed.length };
  }

  /**
   * Bring the shared index in line with the store: the items changed since the last pass, or
   * (see the class comment; `full` asks for it) every item of the store compared with the index.
   * One at a time.
   */
  reconcile(opts: { full?: boolean } = {}): Promise<ReconcileReport> {
    if (opts.full) this.fullUnder = undefined;
    this.running ??= this.reconcileOnce().finally(() => (this.running = undefined));
    return this.running;
  }

  private async reconcileOnce(): Promise<ReconcileReport> {
    const started = Date.now();
    // Re-read the policy: another process (the CLI) may have saved one, or the file was damaged.
    this.policyCache = undefined;
    const policy = await this.policy();
    const under = JSON.stringify([policy.classifications, policy.posts, this.deps.office ?? null]);
    const due =
      !this.deps.store.onChange ||
      this.fullUnder !== under ||
      Date.now() - this.lastFullAt >= (this.deps.fullReconcileMs ?? FULL_RECONCILE_INTERVAL_MS) ||
      // The index holds another number of items than this process wrote: changed behind its back
      // (another process's write, say `archive reindex` racing a narrowing here, or a restored database).
      // Bounded: a Meilisearch that does not answer (stopped, busy) must not hold the lock that a
      // person's edit or a policy change waits for (measured: a SIGSTOP held it until the restart).
      (await this.exclusive(async () => (await this.writer.countItems({ deadlineMs: COUNT_DEADLINE_MS })) !== this.sharedIds.size));
    const report = due ? await this.fullPass(policy) : await this.changesPass();
    if (due) {
      this.fullUnder = under;
      this.lastFullAt = started;
    }
    report.ms = Date.now() - started;
    this.lastReport = { ...report, at: new Date().toISOString() };
    return report;
  }

  /** The items the store told of since the last pass, each written as the store says now. */
  private async changesPass(): Promise<ReconcileReport> {
    const ids = [...this.pending];
    const before = new Set(this.sharedIds);
    for (let i = 0; i < ids.length; i += 50) await this.exclusive(() => this.writeCurrent(ids.slice(i, i + 50)));
    const report: ReconcileReport = { kind: 'changes', checked: ids.length, shared: this.sharedIds.size, added: 0, updated: 0, removed: 0, ms: 0 };
    for (const id of ids) {
      if (this.sharedIds.has(id)) report[before.has(id) ? 'updated' : 'added']++;
      else if (before.has(id)) report.removed++;
    }
    return report;
  }

  /** Every item of the store compared with the shared index; every difference repaired. */
  private async fullPass(policy: SharingPolicy): Promise<ReconcileReport> {
    // Changes told from here on are either read by this pass or left for the next.
    this.pending.clear();
    const indexed = await this.writer.list();
    this.sharedIds = new Set(indexed.keys());
    const report: ReconcileReport = { kind: 'full', checked: 0, shared: 0, added: 0, updated: 0, removed: 0, ms: 0 };
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
      report.checked++;
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
    return report;
  }

  /** Under the lock: write these items' shared state as the store and the policy say now. */
  private async writeCurrent(ids: string[]): Promise<void> {
    // Told changes from here on are read below or left for the next pass; on failure all stay pending.
    for (const id of ids) this.pending.delete(id);
    try {
      await this.writeCurrentNow(ids);
    } catch (e) {
      for (const id of ids) this.pending.add(id);
      throw e;
    }
  }

  private async writeCurrentNow(ids: string[]): Promise<void> {
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
    for (const id of out) this.sharedIds.delete(id);
    if (put.length) await this.writer.put(put, this.deps.office!);
    for (const e of put) this.sharedIds.add(e.meta.itemId);
  }

  /** Rebuild from nothing (archive reindex). */
  async rebuild(): Promise<ReconcileReport> {
    await this.running?.catch(() => undefined);
    await this.exclusive(async () => {
      await this.writer.clear();
      this.hashes.clear();
      this.sharedIds.clear();
    });
    return this.reconcile({ full: true });
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
    if (!this.unsubscribe) {
      // Stopped before: changes meanwhile were not told, so the first pass compares everything.
      this.listen();
      this.fullUnder = undefined;
    }
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
    this.unsubscribe?.();
    this.unsubscribe = undefined;
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
