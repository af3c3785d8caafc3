import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import { link, copyFile, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApplianceError, isApplianceError, pathExists, writeFileAtomic, classificationRank, type ItemMetadata, type PageText } from '../core/index.ts';
import { provisionalTitle } from './provisional-title.ts';
import { jobProgress, type Job, type JobItem, type JobProgress, type JobStore } from './jobs.ts';
import type { IngestDeps, PdfSource, RecognisedPage } from './runner-deps.ts';
import { ITEM_LAYOUT } from './item-store.ts';
import { Batcher } from './batcher.ts';
import { ScanAhead } from './scan-ahead.ts';
import { changedStaged } from './staged-check.ts';

const RETRY_MS = 5_000;
/**
 * When stored items are indexed: together, once this many items or pages wait, once the first has
 * waited this long, or when the job has no more items to read. Meilisearch's cost is per update
 * far more than per document (ingest/batcher.ts); the wait bounds how long an archived item is
 * not yet findable while a long batch is read. The first item a run reads is indexed once stored
 * (firstAtOnce): the archivist sees early that the batch is findable, and Meilisearch's dearer first
 * update (measured: 1-3 s of CPU on a freshly started Meilisearch, 0.35 s once warm) runs beside OCR
 * instead of after the last page, where nothing else is left to overlap it.
 */
export const INDEX_BATCH = { maxItems: 64, maxPages: 2_000, maxWaitMs: 60_000, firstAtOnce: true };
/**
 * How many items the virus gate may be ahead of OCR (ingest/scan-ahead.ts): OCR of an item starts
 * once that item has passed, while the next ones are scanned. Bounded, so that a scan is never long
 * before the item is read (signatures imported meanwhile apply to the items not yet scanned).
 */
export const SCAN_AHEAD = 8;

/**
 * The journal could not be written (disk full, read-only, failing). The run stops as if the process
 * had crashed at that point: nothing after the last recorded step is done or announced, nothing is
 * marked failed for it, and the runner retries from the journal on disk.
 */
export class JournalWriteError extends ApplianceError {
  constructor(jobId: string, cause: unknown) {
    const why = (cause as Error).message;
    super('JOB_JOURNAL_WRITE', `无法写入任务 ${jobId} 的日志（${why}）。任务已暂停，磁盘恢复可写后自动从上一步继续，已完成的工作不会丢失。`, `cannot write the journal of job ${jobId}: ${why}`, {
      status: 503,
      cause,
    });
  }
}

export interface RunnerEvents {
  progress: [JobProgress & { item?: { n: number; label: string; stage: string; outcome: string; pagesDone: number; pageCount?: number } }];
  /**
   * The same moment as 'progress', with the journal itself: listeners that show a job to a person
   * (web/job-view.ts) filter it for that person. Read it synchronously; the runner keeps mutating it.
   */
  journal: [Job, JobItem | undefined];
}

/**
 * Works the job queue: each item goes received → scanned → ocr (page by page) → assembled →
 * stored → indexed → done, and every step is written to the job's journal before the next one
 * starts. Killed at any moment, the next start picks up at the last recorded step: an item is
 * stored by one rename (all or nothing) under an id fixed at intake, so it is never stored twice.
 */
export class IngestRunner extends EventEmitter<RunnerEvents> {
  private stopped = false;
  private loopDone?: Promise<void>;
  /** Everything asleep now: the idle loop, and the gate and the index each waiting out a service. */
  private readonly sleepers = new Set<() => void>();
  private watcher?: FSWatcher;
  private saving = Promise.resolve();
  /** Per job, the services it waits for now (what → reason): the gate and the index wait side by side. */
  private readonly waits = new Map<string, Map<string, string>>();

  constructor(
    private readonly jobs: JobStore,
    private readonly deps: IngestDeps,
    private readonly opts: { pageConcurrency: number; retryMs?: number; indexBatch?: Partial<typeof INDEX_BATCH>; scanAhead?: number },
  ) {
    super();
  }

  start(): void {
    this.stopped = false;
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    this.watcher?.close();
    await this.loopDone;
  }

  /** Run until every job in the queue is done (console use without `archive serve`). */
  async drain(): Promise<void> {
    await this.jobs.cleanIncoming();
    for (;;) {
      const pending = (await this.jobs.list()).filter((j) => j.state !== 'done');
      if (pending.length === 0 || this.stopped) return;
      for (const job of pending) await this.runJob(job);
    }
  }

  private async loop(): Promise<void> {
    await this.jobs.cleanIncoming();
    try {
      this.watcher = watch(this.jobs.dir, () => this.wake());
    } catch {
      /* polling below still finds new jobs */
    }
    while (!this.stopped) {
      try {
        const pending = (await this.jobs.list()).filter((j) => j.state !== 'done');
        for (const job of pending) {
          if (this.stopped) break;
          await this.runJob(job);
        }
        if (pending.length === 0) await this.sleep(2_000);
      } catch (e) {
        this.deps.log.error({ err: (e as Error).message, stack: (e as Error).stack }, 'ingest loop error');
        await this.sleep(this.opts.retryMs ?? RETRY_MS);
      }
    }
  }

  private wake(): void {
    for (const done of [...this.sleepers]) done();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      const sleepers = this.sleepers;
      function done() {
        clearTimeout(t);
        sleepers.delete(done);
        resolve();
      }
      sleepers.add(done);
    });
  }

  private save(job: Job, item?: JobItem): Promise<void> {
    // Saves are serialised: concurrent pages must not interleave two renames of the journal.
    const write = this.saving.then(() => this.jobs.save(job));
    this.saving = write.catch(() => undefined);
    const p = jobProgress(job);
    const event = item ? { ...p, item: { n: item.n, label: item.label, stage: item.stage, outcome: item.outcome, pagesDone: item.pagesDone, pageCount: item.pageCount ?? item.pagesExpected } } : p;
    // Tell listeners only once the journal says so: a page that reloads GET /api/jobs on an
    // event must find the state the event announced (it found "running" after "done").
    return write.then(
      () => {
        this.emit('progress', event);
        this.emit('journal', job, item);
      },
      (e) => {
        const err = e instanceof JournalWriteError ? e : new JournalWriteError(job.id, e);
        this.deps.log.error({ job: job.id, err: err.message }, 'journal save failed; job paused');
        this.emit('progress', { ...jobProgress(job), state: 'waiting', waitingReason: err.zh });
        this.emit('journal', { ...job, state: 'waiting', waitingReason: err.zh }, undefined);
        throw err;
      },
    );
  }

  private async runJob(job: Job): Promise<void> {
    if (job.state === 'queued') {
      job.state = 'running';
      job.startedAt = new Date().toISOString();
      await this.save(job);
      await this.deps.audit({ actor: job.actor, action: 'ingest.job.start', target: job.id, outcome: 'success', details: { via: job.via, items: job.items.length } });
    }
    // Only OCR is on the critical path. Beside it, one item at a time and in order, the items
    // already read are assembled and stored; stored items are indexed together (INDEX_BATCH). An
    // item joins a batch only once the journal says 'stored', and counts as done only once its
    // batch is searchable: a crash anywhere in between indexes again what the journal says stored.
    let journal: JournalWriteError | undefined;
    let broken: { error: unknown } | undefined;
    const failed = async (item: JobItem, e: unknown) => {
      try {
        if (e instanceof JournalWriteError) throw e;
        await this.failItem(job, item, e);
      } catch (e2) {
        if (!(e2 instanceof JournalWriteError)) throw e2;
        journal ??= e2;
      }
    };
    const limits = { ...INDEX_BATCH, ...this.opts.indexBatch };
    const indexing = new Batcher<JobItem>(
      (batch) =>
        this.indexBatch(job, batch, failed).catch((e) => {
          // Stopping while the index is down is no failure: the journal says 'stored', the next start indexes.
          if (this.stopped) return;
          if (e instanceof JournalWriteError) journal ??= e;
          else broken ??= { error: e };
        }),
      {
        maxItems: limits.maxItems,
        maxWeight: limits.maxPages,
        weight: (i) => i.pageCount ?? 1,
        maxWaitMs: limits.maxWaitMs,
      },
    );
    let finishing = Promise.resolve();
    let firstIndexed = !limits.firstAtOnce;
    const finish = (item: JobItem) => {
      // Read by OCR in this run (not resumed past it): the first such item goes to the index at once.
      const read = item.stage === 'ocr';
      finishing = finishing.then(async () => {
        if (this.stopped || journal || broken) return;
        try {
          await this.finishItem(job, item);
          // 'indexed' too: a crash between its two journal writes indexes it again (idempotent).
          if (!this.stopped && (item.stage === 'stored' || item.stage === 'indexed')) {
            indexing.add(item);
            if (read && !firstIndexed) {
              firstIndexed = true;
              indexing.now();
            }
          }
        } catch (e) {
          await failed(item, e).catch((e2) => void (broken ??= { error: e2 }));
        }
      });
    };
    // The engine starts while the gate works (it reads no file of the job).
    if (job.items.some((i) => i.outcome === 'pending' && ['received', 'scanned', 'ocr'].includes(i.stage))) this.deps.warmOcr?.();
    // The virus gate runs ahead of OCR, one item at a time and in order: OCR of item n starts once
    // item n has passed (scanned clean, its pages counted from the file headers), while items n+1…
    // n+SCAN_AHEAD are scanned. Nothing parses a file clamd has not passed: only an item whose
    // journal says 'scanned' is read, and its staged bytes must still be the ones scanned.
    const halted = () => this.stopped || Boolean(journal) || Boolean(broken);
    const unscanned = job.items.filter((i) => i.outcome === 'pending' && i.stage === 'received');
    const gate = new ScanAhead(
      unscanned,
      async (item) => {
        try {
          return await this.admit(job, item);
        } catch (e) {
          await failed(item, e);
          return false;
        }
      },
      { ahead: this.opts.scanAhead ?? SCAN_AHEAD, halted },
    );
    try {
      for (const item of job.items) {
        if (halted()) break;
        if (item.outcome !== 'pending') continue;
        // By membership, not by stage: the gate sets 'scanned' before it has journalled it.
        if (unscanned.includes(item)) {
          let passed: boolean;
          try {
            passed = await gate.answer(item);
          } catch (e) {
            // Not this item's fault (failing it failed, e.g. the audit trail): the run stops.
            broken ??= { error: e };
            break;
          }
          if (!passed) continue;
        }
        try {
          if (await this.readItem(job, item)) finish(item);
        } catch (e) {
          await failed(item, e);
        }
      }
    } finally {
      // All of them settled before anything else: a late save of this run must not land after a retry's.
      await gate.close();
      await finishing;
      await indexing.flush();
      this.waits.delete(job.id);
    }
    if (journal) throw journal;
    if (broken) throw broken.error;
    if (this.stopped) return;
    job.state = 'done';
    job.waitingReason = undefined;
    job.finishedAt = new Date().toISOString();
    await this.save(job);
    // The originals now live in the item store (or quarantine): the staged copies can go.
    await rm(this.jobs.filesDir(job.id), { recursive: true, force: true });
    await rm(this.jobs.workDir(job.id), { recursive: true, force: true });
    const counts = Object.fromEntries(['archived', 'quarantined', 'duplicate', 'refused', 'failed'].map((o) => [o, job.items.filter((i) => i.outcome === o).length]));
    await this.deps.audit({ actor: job.actor, action: 'ingest.job.done', target: job.id, outcome: 'success', details: counts });
  }

  private async failItem(job: Job, item: JobItem, e: unknown): Promise<void> {
    if (this.stopped) return; // not a failure: the next start resumes the item
    const err = isApplianceError(e) ? e : new ApplianceError('INGEST_FAILED', `处理失败：${(e as Error).message}`, (e as Error).message);
    this.deps.log.error({ job: job.id, item: item.n, code: err.code, err: err.message }, 'item failed');
    item.outcome = 'failed';
    item.error = { code: err.code, message: err.zh };
    item.finishedAt = new Date().toISOString();
    await this.save(job, item);
    await this.deps.audit({ actor: job.actor, action: 'ingest.item', target: item.label, outcome: 'failure', details: { job: job.id, code: err.code, message: err.message } });
    await rm(this.workDir(job, item), { recursive: true, force: true });
  }

  private workDir(job: Job, item: JobItem): string {
    return this.jobs.workDir(job.id, item.n);
  }

  private files(job: Job, item: JobItem): string[] {
    return item.sources.map((s) => join(this.jobs.jobDir(job.id), s.staged));
  }

  /**
   * Retry while a service the job needs is down. Nothing proceeds past the step meanwhile: the
   * job says why it waits, and continues by itself when the service is back.
   */
  private async whileUnavailable<T>(job: Job, what: string, fn: () => Promise<T>, retryable: (e: unknown) => boolean): Promise<T> {
    for (;;) {
      const waits = this.waits.get(job.id) ?? new Map<string, string>();
      this.waits.set(job.id, waits);
      try {
        const r = await fn();
        waits.delete(what);
        // Still waiting for another service (the gate and the index wait side by side): say that one.
        const other = waits.values().next().value;
        if (job.state === 'waiting' && job.waitingReason !== other) {
          job.state = other ? 'waiting' : 'running';
          job.waitingReason = other;
          await this.save(job);
        }
        return r;
      } catch (e) {
        if (!retryable(e) || this.stopped) throw e;
        const reason = `${what}：${isApplianceError(e) ? e.zh : (e as Error).message}。恢复后自动继续。`;
        waits.set(what, reason);
        if (job.waitingReason !== reason) {
          job.state = 'waiting';
          job.waitingReason = reason;
          this.deps.log.warn({ job: job.id, reason }, 'ingest waiting');
          await this.save(job);
        }
        await this.sleep(RETRY_MS);
        if (this.stopped) throw e;
      }
    }
  }

  /** Virus gate, ceiling and duplicate check, then the page count. False when the item was refused. */
  private async admit(job: Job, item: JobItem): Promise<boolean> {
    const t0 = performance.now();
    try {
      if (await this.gate(job, item)) return false;
    } finally {
      item.timings = { ...item.timings, scan: Math.round((item.timings?.scan ?? 0) + performance.now() - t0) };
    }
    // Counting parses the headers: only of the bytes the scan passed (a copy changed since is not read).
    const changed = await changedStaged(this.files(job, item), item.sources);
    if (changed) {
      await this.refuseChanged(job, item, changed);
      return false;
    }
    item.pagesExpected ??= await this.deps.countPages(this.files(job, item));
    item.stage = 'scanned';
    await this.save(job, item);
    return true;
  }

  /** Time spent per stage, kept in the journal: where a batch's time goes (bench/ingest, the UI). */
  private async timed<T>(item: JobItem, stage: keyof NonNullable<JobItem['timings']>, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      item.timings = { ...item.timings, [stage]: Math.round((item.timings?.[stage] ?? 0) + performance.now() - t0) };
    }
  }

  /** scanned → ocr: the item's pages read. False when it was refused or the runner stops. */
  private async readItem(job: Job, item: JobItem): Promise<boolean> {
    // Fail closed: an item the gate has not passed is never opened (the gate answers for it first).
    if (item.stage === 'received') return false;
    if (item.stage === 'scanned' || item.stage === 'ocr') {
      // The bytes OCR opens are the ones the gate passed: a staged copy changed since is not read.
      const changed = await changedStaged(this.files(job, item), item.sources);
      if (changed) {
        await this.refuseChanged(job, item, changed);
        return false;
      }
      await this.timed(item, 'ocr', () => this.recognise(job, item));
    }
    return !this.stopped;
  }

  /** ocr → assembled → stored (beside the next item's OCR). */
  private async finishItem(job: Job, item: JobItem): Promise<void> {
    if (item.stage === 'ocr' || item.stage === 'scanned') {
      // Page by page from the work folder: a 500-page item is never in memory whole.
      await this.timed(item, 'assemble', () => this.deps.assemblePdf(this.loadPages(job, item), join(this.workDir(job, item), 'document.pdf')));
      item.stage = 'assembled';
      await this.save(job, item);
    }
    if (item.stage === 'assembled') {
      await this.timed(item, 'store', async () => {
        // A replace is repeated after a crash (same pages again); a new item is stored once.
        if (item.replaces || !(await this.deps.itemExists(item.itemId))) await this.store(job, item);
      });
      item.stage = 'stored';
      await this.save(job, item);
    }
  }

  /**
   * stored → indexed → done for a batch: the items become searchable in one index update, then each
   * is recorded as archived. Every item of the batch is in the store already (the journal said
   * 'stored' before it joined). An update the index refuses is retried item by item, so one bad item
   * fails alone.
   */
  private async indexBatch(job: Job, batch: JobItem[], failed: (item: JobItem, e: unknown) => Promise<void>): Promise<void> {
    if (this.stopped) return; // the journal still says 'stored': the next start indexes them
    const t0 = performance.now();
    const loaded: Array<{ item: JobItem; stored: { meta: ItemMetadata; pages: PageText[] } }> = [];
    for (const item of batch) {
      try {
        loaded.push({ item, stored: await this.deps.loadStored(item.itemId) });
      } catch (e) {
        await failed(item, e);
      }
    }
    if (loaded.length === 0) return;
    try {
      await this.whileUnavailable(
        job,
        '检索服务暂不可用',
        () => this.deps.indexItems(loaded.map((l) => l.stored)),
        (e) => !isApplianceError(e) || e.code.startsWith('SEARCH_UNAVAILABLE'),
      );
    } catch (e) {
      if (loaded.length === 1 || this.stopped || e instanceof JournalWriteError) throw e;
      for (const { item } of loaded) await this.indexBatch(job, [item], failed).catch((e2) => failed(item, e2));
      return;
    }
    // The batch's wall time shared out: summed over items it is the time indexing took.
    const share = Math.round((performance.now() - t0) / loaded.length);
    for (const { item } of loaded) {
      item.timings = { ...item.timings, index: (item.timings?.index ?? 0) + share };
      item.stage = 'indexed';
      await this.save(job, item);
      item.stage = 'done';
      item.outcome = 'archived';
      item.finishedAt = new Date().toISOString();
      await this.save(job, item);
      await this.deps.audit({
        actor: job.actor,
        action: item.replaces ? 'item.reocr' : 'ingest.item',
        target: item.itemId,
        outcome: 'success',
        details: { job: job.id, label: item.label, archivalCode: item.metadata.archivalCode, pages: item.pageCount },
      });
      await rm(this.workDir(job, item), { recursive: true, force: true });
    }
  }

  /** Classification ceiling, virus gate and duplicate check. Returns true when the item is refused. */
  private async gate(job: Job, item: JobItem): Promise<boolean> {
    const classification = item.metadata.classification ?? job.options.classification;
    if (classificationRank(classification) > classificationRank(this.deps.ceiling)) {
      await this.finish(job, item, 'refused', 'ABOVE_CEILING', `密级“${classification}”高于本设备允许的最高密级“${this.deps.ceiling}”，不得导入本网络。`);
      await rm(this.jobs.filesDir(job.id, item.n), { recursive: true, force: true });
      await this.deps.audit({
        actor: job.actor,
        action: 'ingest.refused',
        target: item.label,
        outcome: 'refused',
        details: { job: job.id, reason: 'above-ceiling', classification, ceiling: this.deps.ceiling },
      });
      return true;
    }
    for (const [i, path] of this.files(job, item).entries()) {
      const verdict = await this.whileUnavailable(
        job,
        '病毒扫描服务不可用，导入暂停',
        () => this.deps.scan(path),
        (e) => this.deps.scanRetryable(e),
      );
      if (verdict.verdict.verdict === 'infected') {
        await this.quarantine(job, item, item.sources[i].name, verdict.verdict.signature);
        return true;
      }
      // What clamd passed must be what was received: a staged copy changed since intake is not read.
      if (verdict.sha256 !== item.sources[i].sha256.toLowerCase()) {
        await this.refuseChanged(job, item, item.sources[i].name);
        return true;
      }
    }
    if (item.replaces) return false; // re-OCR: the item's own originals, its own 档号
    // Neither message names the other item: it may belong to a post the submitter does not hold.
    // The journal keeps its id apart (duplicateOf / codeHolder) and web/job-view.ts shows it only to
    // someone who may see that item; the audit record names it, so an auditor can see probing.
    const dup = await this.deps.findDuplicate(item.sources.map((s) => s.sha256));
    if (dup) {
      item.duplicateOf = dup;
      await this.finish(job, item, 'duplicate', 'DUPLICATE', '该文件已归档，未重复归档。');
      await this.deps.audit({ actor: job.actor, action: 'ingest.refused', target: item.label, outcome: 'refused', details: { job: job.id, reason: 'duplicate', existing: dup } });
      return true;
    }
    const code = item.metadata.archivalCode;
    const holder = code ? await this.deps.archivalCodeTaken(code) : undefined;
    if (code && holder) {
      item.codeHolder = holder;
      await this.finish(job, item, 'failed', 'ARCHIVAL_CODE_TAKEN', `档号 ${code} 已被占用，档号必须唯一。`);
      await this.deps.audit({
        actor: job.actor,
        action: 'ingest.refused',
        target: item.label,
        outcome: 'refused',
        details: { job: job.id, reason: 'archival-code-taken', archivalCode: code, existing: holder },
      });
      return true;
    }
    return false;
  }

  private async finish(job: Job, item: JobItem, outcome: JobItem['outcome'], code: string, message: string): Promise<void> {
    item.outcome = outcome;
    item.error = { code, message };
    item.finishedAt = new Date().toISOString();
    await this.save(job, item);
  }

  /** Infected: the item's files go to quarantine/ with a record; nothing else reads them. */
  private async quarantine(job: Job, item: JobItem, file: string, signature: string): Promise<void> {
    await this.toQuarantine(job, item, { infectedFile: file, signature });
    await this.finish(job, item, 'quarantined', 'INFECTED', `文件 ${file} 检出病毒（${signature}），已隔离，未归档。`);
    await this.deps.audit({ actor: job.actor, action: 'ingest.quarantine', target: item.label, outcome: 'refused', details: { job: job.id, file, signature } });
  }

  /**
   * A staged copy whose bytes are no longer those received (ingest/staged-check.ts): something
   * changed the job's files. Nothing reads them further; they go to quarantine/ for the security
   * officer, the item is refused and audited.
   */
  private async refuseChanged(job: Job, item: JobItem, file: string): Promise<void> {
    await this.toQuarantine(job, item, { reason: 'changed-after-intake', changedFile: file });
    await this.finish(job, item, 'refused', 'STAGED_FILE_CHANGED', `文件 ${file} 在接收后被改动，与接收时的内容不一致，已隔离，未归档。请联系安全保密管理员。`);
    await this.deps.audit({ actor: job.actor, action: 'ingest.refused', target: item.label, outcome: 'refused', details: { job: job.id, reason: 'changed-after-intake', file } });
  }

  /** The item's staged files to quarantine/<job>-<n>/files beside a record.json saying why; its work dir removed. */
  private async toQuarantine(job: Job, item: JobItem, why: Record<string, string>): Promise<void> {
    const dir = join(this.deps.dataDir, 'quarantine', `${job.id}-${item.n}`);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const record = {
      time: new Date().toISOString(),
      job: job.id,
      item: item.label,
      actor: job.actor,
      ...why,
      files: item.sources.map(({ name, sha256, bytes }) => ({ name, sha256, bytes })),
    };
    await writeFileAtomic(join(dir, 'record.json'), JSON.stringify(record, null, 1));
    // Moved already when a crash came between this and the journal: the files are in quarantine.
    await rename(this.jobs.filesDir(job.id, item.n), join(dir, 'files')).catch(async (e) => {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || !(await pathExists(join(dir, 'files')))) throw e;
    });
    await rm(this.workDir(job, item), { recursive: true, force: true });
  }

  private async recognise(job: Job, item: JobItem): Promise<void> {
    const work = this.workDir(job, item);
    await mkdir(work, { recursive: true, mode: 0o700 });
    const session = await this.deps.openOcr(this.files(job, item));
    try {
      item.pageCount = session.pageCount;
      item.stage = 'ocr';
      const done = new Set((await readdir(work)).filter((n) => /^page-\d+\.json$/.test(n)).map((n) => Number(n.slice(5, -5))));
      item.pagesDone = done.size;
      await this.save(job, item);
      const todo = Array.from({ length: session.pageCount }, (_, i) => i).filter((i) => !done.has(i + 1));
      const worker = async () => {
        for (let i = todo.shift(); i !== undefined && !this.stopped; i = todo.shift()) {
          const page = await session.recognise(i);
          const n = String(i + 1).padStart(4, '0');
          await writeFileAtomic(join(work, `viewer-${n}.jpg`), page.viewer);
          const pdf = page.pdf.kind === 'copy' ? page.pdf : { kind: page.pdf.kind };
          if (page.pdf.kind !== 'copy') await writeFileAtomic(join(work, `pdf-${n}.${page.pdf.kind}`), page.pdf.bytes);
          // The page's JSON is written last: its presence means the page is complete.
          await writeFileAtomic(join(work, `page-${i + 1}.json`), JSON.stringify({ text: { ...page.text, page: i + 1 }, pdf }));
          item.pagesDone++;
          await this.save(job, item);
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.opts.pageConcurrency, todo.length) }, worker));
    } finally {
      await session.close();
    }
  }

  /** The recognised pages from the work folder, read one at a time as they are asked for. */
  private async *loadPages(job: Job, item: JobItem): AsyncGenerator<RecognisedPage> {
    const work = this.workDir(job, item);
    for (let i = 1; i <= (item.pageCount ?? 0); i++) {
      const n = String(i).padStart(4, '0');
      const saved = JSON.parse(await readFile(join(work, `page-${i}.json`), 'utf8')) as { text: PageText; pdf: PdfSource | { kind: 'jpeg' | 'png' } };
      const pdf: PdfSource = 'bytes' in saved.pdf || saved.pdf.kind === 'copy' ? (saved.pdf as PdfSource) : { kind: saved.pdf.kind, bytes: await readFile(join(work, `pdf-${n}.${saved.pdf.kind}`)) };
      yield { text: saved.text, viewer: await readFile(join(work, `viewer-${n}.jpg`)), pdf };
    }
  }

  /** Lay the item out as the store keeps it, then hand it over for the atomic move into items/. */
  private async store(job: Job, item: JobItem): Promise<void> {
    const work = this.workDir(job, item);
    const dir = join(work, 'item');
    await rm(dir, { recursive: true, force: true });
    for (const d of ITEM_LAYOUT.dirs) await mkdir(join(dir, d), { recursive: true });
    for (const s of item.sources) {
      const from = join(this.jobs.jobDir(job.id), s.staged);
      await link(from, join(dir, ITEM_LAYOUT.original(s.name))).catch(() => copyFile(from, join(dir, ITEM_LAYOUT.original(s.name))));
    }
    const pages: PageText[] = [];
    for await (const p of this.loadPages(job, item)) {
      await writeFile(join(dir, ITEM_LAYOUT.page(p.text.page)), p.viewer);
      pages.push(p.text);
    }
    await writeFile(join(dir, ITEM_LAYOUT.text), JSON.stringify(pages));
    await link(join(work, 'document.pdf'), join(dir, ITEM_LAYOUT.pdf)).catch(() => copyFile(join(work, 'document.pdf'), join(dir, ITEM_LAYOUT.pdf)));
    const now = new Date().toISOString();
    const md = item.metadata;
    const meta: ItemMetadata = {
      ...md,
      ...(item.replaces ? {} : provisionalTitle(item.label, md)),
      itemId: item.itemId,
      classification: md.classification ?? job.options.classification,
      posts: md.posts?.length ? md.posts : job.options.posts,
      pageCount: pages.length,
      originals: item.sources.map(({ name, sha256, bytes }) => ({ name, sha256, bytes })),
      createdAt: now,
      updatedAt: now,
    };
    // Pages the OCR was unsure of, for the archivist's review list (a new reading replaces the old list).
    const review = pages.filter((p) => p.review).map((p) => p.page);
    if (review.length) meta.reviewPages = review;
    else delete meta.reviewPages;
    await (item.replaces ? this.deps.replaceItem({ meta, dir }) : this.deps.storeItem({ meta, dir }));
  }
}
