import { readdir } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { Classification, Config } from '../appliance/config.ts';
import { dataPath } from '../appliance/data-dir.ts';
import { ApplianceError } from '../appliance/errors.ts';
import type { Logger } from '../appliance/log.ts';
import type { SearchService } from '../search/index.ts';
import { isRetryableScanError, scanFile, type AuditLog } from '../security/index.ts';
import { DOCUMENT_EXT, PAGE_IMAGE_EXT, naturalSort, planItems, type PlanProblem } from './batch-plan.ts';
import { readCsvManifest, requireValidCsv } from './csv-manifest.ts';
import { InboxWatcher } from './inbox.ts';
import { batchName } from './batch-name.ts';
import { submitJob, type IntakeItem } from './intake.ts';
import { ItemStore } from './item-store.ts';
import { JobStore, type Job, type JobActor } from './jobs.ts';
import { createOcrPool, type OcrPool } from './ocr/pool.ts';
import { assembleItemPdf, openOcrSession } from './ocr-session.ts';
import { IngestRunner } from './runner.ts';
import type { IngestDeps } from './runner-deps.ts';

/** Largest single file accepted at intake (a 300-page TIFF at 300 DPI is well under this). */
export const MAX_FILE_BYTES = 200 * 1024 * 1024;

export interface SubmitOptions {
  manifest?: string;
  posts?: string[];
  classification?: Classification;
  actor: JobActor;
  via: Job['via'];
  knownPosts?: ReadonlySet<string>;
  /** The batch's folder name (found from the paths when not given). */
  batch?: string;
}

/** Files of a folder the CSV names as one item: every scan in it, in natural page order. */
async function folderFiles(dir: string): Promise<string[]> {
  const names = (await readdir(dir)).filter((n) => !n.startsWith('.') && (PAGE_IMAGE_EXT.has(extname(n).toLowerCase()) || DOCUMENT_EXT.has(extname(n).toLowerCase())));
  return naturalSort(names).map((n) => join(dir, n));
}

/**
 * Turn paths (and an optional CSV) into intake items. The CSV is checked whole first and every bad
 * row reported before anything is copied; items the CSV does not name are still taken, with the
 * batch's defaults, so nothing in the batch is silently left behind.
 */
export async function planIntake(paths: string[], opts: Pick<SubmitOptions, 'manifest' | 'posts' | 'classification' | 'knownPosts'> & { ceiling: Classification }): Promise<{ items: IntakeItem[]; problems: PlanProblem[] }> {
  const unknown = opts.knownPosts ? (opts.posts ?? []).filter((p) => !opts.knownPosts!.has(p)) : [];
  if (unknown.length) {
    throw new ApplianceError('POSTS_UNKNOWN', `岗位不存在：${unknown.join('、')}。请核对岗位代码（archive post list），或请安全保密管理员先建立岗位。`, `unknown posts: ${unknown.join(', ')}`, { details: { posts: unknown } });
  }
  const items: IntakeItem[] = [];
  const named = new Set<string>();
  if (opts.manifest) {
    const rows = requireValidCsv(await readCsvManifest(opts.manifest, { ceiling: opts.ceiling, knownPosts: opts.knownPosts }), opts.manifest);
    for (const row of rows) {
      const files = row.kind === 'folder' ? await folderFiles(row.path) : [row.path];
      files.forEach((f) => named.add(f));
      items.push({ label: row.file, files, metadata: row.metadata, csvLine: row.line });
    }
  }
  const plan = paths.length ? await planItems(paths) : { items: [], problems: [] };
  for (const p of plan.items) if (!p.files.some((f) => named.has(f))) items.push({ label: p.label, files: p.files, metadata: {} });
  const noPosts = items.filter((i) => !(i.metadata.posts?.length || opts.posts?.length));
  if (noPosts.length) {
    const names = noPosts.slice(0, 10).map((i) => (i.csvLine ? `第 ${i.csvLine} 行 ${i.label}` : i.label));
    throw new ApplianceError('POSTS_REQUIRED', `以下条目未指定岗位（无人可以查阅）：${names.join('、')}${noPosts.length > 10 ? ` 等 ${noPosts.length} 件` : ''}。请在 CSV 的“岗位”列填写，或用 --posts 指定。`, 'items without posts', { details: { items: noPosts.map((i) => i.label) } });
  }
  return { items, problems: plan.problems };
}

/** Queue items as a job (the running appliance, or this console command, works it). */
export async function submitIntake(jobs: JobStore, audit: AuditLog, items: IntakeItem[], opts: SubmitOptions & { problems?: PlanProblem[] }): Promise<Job> {
  const job = await submitJob(jobs, items, { via: opts.via, actor: opts.actor, posts: opts.posts ?? [], classification: opts.classification ?? '内部', maxFileBytes: MAX_FILE_BYTES, problems: opts.problems, batch: opts.batch });
  await audit.append({ actor: opts.actor.name, role: opts.actor.role, source: opts.actor.source, action: 'ingest.submit', target: job.id, outcome: 'success', details: { via: opts.via, items: job.items.length, problems: job.problems.length } });
  return job;
}

export async function submitPaths(cfg: Config, jobs: JobStore, audit: AuditLog, paths: string[], opts: SubmitOptions): Promise<Job> {
  let planned: Awaited<ReturnType<typeof planIntake>>;
  try {
    planned = await planIntake(paths, { ...opts, ceiling: cfg.classificationCeiling });
  } catch (e) {
    // Classified rows in a CSV stop the whole batch before anything is copied; the security officer still needs the record.
    const above = e instanceof ApplianceError && e.code === 'CSV_INVALID' ? ((e.details as { problems?: Array<{ line: number; code: string }> } | undefined)?.problems ?? []).filter((p) => p.code === 'CSV_ABOVE_CEILING') : [];
    if (above.length) {
      await audit.append({ actor: opts.actor.name, role: opts.actor.role, source: opts.actor.source, action: 'ingest.refused', target: opts.manifest ?? '-', outcome: 'denied', details: { via: opts.via, reason: 'above-ceiling', ceiling: cfg.classificationCeiling, lines: above.map((p) => p.line) } });
    }
    throw e;
  }
  const { items, problems } = planned;
  return submitIntake(jobs, audit, items, { ...opts, problems, batch: opts.batch ?? (await batchName(paths)) });
}

export interface IngestService {
  readonly jobs: JobStore;
  readonly store: ItemStore;
  readonly runner: IngestRunner;
  submit(paths: string[], opts: SubmitOptions): Promise<Job>;
  submitItems(items: IntakeItem[], opts: SubmitOptions & { problems?: PlanProblem[] }): Promise<Job>;
  /** Read an archived item's originals again (re-OCR) and replace its pages, text and PDF. */
  reocr(itemId: string, actor: JobActor): Promise<Job>;
  /** Work the queue in the background (the server) and watch the inbox. */
  start(opts?: { inbox?: boolean; inboxSettleMs?: number }): void;
  /** Work the queue until it is empty (a console command with no server running). */
  drain(): Promise<void>;
  stop(): Promise<void>;
}

export async function createIngestService(cfg: Config, deps: { log: Logger; audit: AuditLog; search: SearchService; knownPosts?: () => Promise<ReadonlySet<string>> }): Promise<IngestService> {
  const jobs = new JobStore(cfg.dataDir);
  const store = await ItemStore.open(cfg.dataDir);
  let pool: Promise<OcrPool> | undefined;
  // Workers start with the first job, not with the appliance: ~370 MB each.
  const getPool = () => (pool ??= createOcrPool({ workers: cfg.ocr.workers, lang: cfg.ocr.lang, cacheDir: dataPath(cfg.dataDir, 'run', 'ocr-lang') }));

  const runnerDeps: IngestDeps = {
    dataDir: cfg.dataDir,
    ceiling: cfg.classificationCeiling,
    log: deps.log,
    scan: (path) => scanFile(cfg.clamd, path),
    scanRetryable: isRetryableScanError,
    openOcr: async (files) => openOcrSession(await getPool(), files),
    assemblePdf: (pages) => assembleItemPdf(pages),
    findDuplicate: async (shas) => store.findBySources(shas),
    archivalCodeTaken: async (code) => store.findByArchivalCode(code),
    storeItem: async (staged) => {
      await store.putItem(staged);
    },
    replaceItem: async (staged) => {
      await store.replaceItem(staged);
    },
    itemExists: (id) => store.itemExists(id),
    loadStored: (id) => store.loadStored(id),
    index: (meta, pages) => deps.search.indexItem(meta, pages),
    audit: async (e) => {
      await deps.audit.append({ actor: e.actor.name, role: e.actor.role, source: e.actor.source, action: e.action, target: e.target ?? '-', outcome: e.outcome === 'refused' ? 'denied' : e.outcome, details: e.details });
    },
  };
  const runner = new IngestRunner(jobs, runnerDeps, { pageConcurrency: cfg.ocr.workers + 1 });
  let inbox: InboxWatcher | undefined;

  const submitItems = (items: IntakeItem[], opts: SubmitOptions & { problems?: PlanProblem[] }) => submitIntake(jobs, deps.audit, items, opts);
  const submit = async (paths: string[], opts: SubmitOptions) => {
    // Post codes are checked against the registry once it has any (a typo like BSG for BGS would
    // otherwise archive an item nobody can see); before the first post exists there is nothing to check.
    const registered = opts.knownPosts ?? (await deps.knownPosts?.());
    return submitPaths(cfg, jobs, deps.audit, paths, { ...opts, knownPosts: registered?.size ? registered : undefined });
  };

  return {
    jobs,
    store,
    runner,
    submit,
    submitItems,
    async reocr(itemId, actor) {
      const meta = await store.getItem(itemId);
      if (!meta) throw new ApplianceError('ITEM_NOT_FOUND', `条目不存在：${itemId}`, `no such item ${itemId}`, { status: 404 });
      const files = await Promise.all(meta.originals.map((o) => store.originalPath(itemId, o.name)));
      const { itemId: _id, pageCount: _p, originals: _o, createdAt: _c, updatedAt: _u, ...metadata } = meta;
      return submitItems([{ label: meta.archivalCode ?? itemId, files, metadata, replaces: itemId }], { via: 'reocr', actor, posts: meta.posts, classification: meta.classification });
    },
    start(opts = {}) {
      runner.start();
      if (opts.inbox !== false) {
        const inboxActor: JobActor = { name: 'system', role: 'system', source: 'inbox' };
        inbox = new InboxWatcher(
          dataPath(cfg.dataDir, 'inbox'),
          async (batch) => ({ jobId: (await submit(batch.entries, { manifest: batch.manifest, actor: inboxActor, via: 'inbox' })).id }),
          deps.log,
          { settleMs: opts.inboxSettleMs ?? 15_000, pollMs: Math.min(2_000, opts.inboxSettleMs ?? 2_000) },
        );
        inbox.start();
      }
    },
    drain: () => runner.drain(),
    async stop() {
      inbox?.stop();
      await runner.stop();
      if (pool) await (await pool).close();
    },
  };
}
