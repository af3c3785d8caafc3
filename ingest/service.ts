import { readdir, realpath } from 'node:fs/promises';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { type Classification, type Config, dataPath, assertRoomForWork, ApplianceError, type Logger } from '../core/index.ts';
import type { SearchService } from '../search/index.ts';
import { assertMayFile, isRetryableScanError, scanFileDigest, type AuditLog, type Filer } from '../security/index.ts';
import { DOCUMENT_EXT, PAGE_IMAGE_EXT, REFUSED_FILE_CODES, naturalSort, planItems, type PlanProblem } from './batch-plan.ts';
import { readCsvManifest, requireValidCsv } from './csv-manifest.ts';
import { InboxWatcher } from './inbox.ts';
import { batchName } from './batch-name.ts';
import { submitJob, type IntakeItem } from './intake.ts';
import { ItemStore } from './item-store.ts';
import { JobStore, type Job, type JobActor } from './jobs.ts';
import { createOcrPool, type OcrPool } from './ocr/pool.ts';
import { openOcrSession } from './ocr/page-session.ts';
import { writeItemPdf } from './pdf/assemble-item.ts';
import { openInputs } from './ocr/decode.ts';
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
  /** Filled with the paths of the files the job took (see IntakeOptions.taken). */
  taken?: string[];
  /** The archivist filing these items (web upload): every item only into their posts, at most at their clearance. */
  filer?: Filer;
  /** The batch's folder name (found from the paths when not given). */
  batch?: string;
}

/** Files of a folder the CSV names as one item: every scan in it, in natural page order. */
async function folderFiles(dir: string): Promise<string[]> {
  // Regular files only: links and devices were refused when the CSV was checked, and staging
  // opens each file without following a link in any case.
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => e.name)
    .filter((n) => !n.startsWith('.') && (PAGE_IMAGE_EXT.has(extname(n).toLowerCase()) || DOCUMENT_EXT.has(extname(n).toLowerCase())));
  return naturalSort(names).map((n) => join(dir, n));
}

/**
 * Turn paths (and an optional CSV) into intake items. The CSV is checked whole first and every bad
 * row reported before anything is copied; items the CSV does not name are still taken, with the
 * batch's defaults, so nothing in the batch is silently left behind.
 */
export async function planIntake(
  paths: string[],
  opts: Pick<SubmitOptions, 'manifest' | 'posts' | 'classification' | 'knownPosts' | 'filer'> & { ceiling: Classification },
): Promise<{ items: IntakeItem[]; problems: PlanProblem[] }> {
  const unknown = opts.knownPosts ? (opts.posts ?? []).filter((p) => !opts.knownPosts!.has(p)) : [];
  if (unknown.length) {
    throw new ApplianceError('POSTS_UNKNOWN', `岗位不存在：${unknown.join('、')}。请核对岗位代码（archive post list），或请安全保密管理员先建立岗位。`, `unknown posts: ${unknown.join(', ')}`, {
      details: { posts: unknown },
    });
  }
  const items: IntakeItem[] = [];
  const named = new Set<string>();
  if (opts.manifest) {
    const rows = requireValidCsv(await readCsvManifest(opts.manifest, { ceiling: opts.ceiling, knownPosts: opts.knownPosts }), opts.manifest);
    const root = await realpath(dirname(resolve(opts.manifest)));
    for (const row of rows) {
      const files = row.kind === 'folder' ? await folderFiles(row.path) : [row.path];
      files.forEach((f) => named.add(f));
      items.push({ label: row.file, files, metadata: row.metadata, csvLine: row.line, root });
    }
  }
  const plan = paths.length ? await planItems(paths) : { items: [], problems: [] };
  for (const p of plan.items) if (!p.files.some((f) => named.has(f))) items.push({ label: p.label, files: p.files, metadata: {}, root: p.root });
  const noPosts = items.filter((i) => !(i.metadata.posts?.length || opts.posts?.length));
  if (noPosts.length) {
    const names = noPosts.slice(0, 10).map((i) => (i.csvLine ? `第 ${i.csvLine} 行 ${i.label}` : i.label));
    throw new ApplianceError(
      'POSTS_REQUIRED',
      `以下条目未指定岗位（无人可以查阅）：${names.join('、')}${noPosts.length > 10 ? ` 等 ${noPosts.length} 件` : ''}。请在 CSV 的“岗位”列填写，或用 --posts 指定。`,
      'items without posts',
      { details: { items: noPosts.map((i) => i.label) } },
    );
  }
  // As the runner will file them (runner.ts: the CSV's posts and 密级 win over the batch's).
  if (opts.filer)
    assertMayFile(
      opts.filer,
      items.map((i) => ({
        label: i.csvLine ? `第 ${i.csvLine} 行 ${i.label}` : i.label,
        posts: i.metadata.posts?.length ? i.metadata.posts : (opts.posts ?? []),
        classification: i.metadata.classification ?? opts.classification ?? '内部',
      })),
    );
  return { items, problems: plan.problems };
}

/**
 * Links and special files met at a door, on record for the security officer: one
 * record per batch, naming the files relative to the batch root (the first 50, and how many).
 */
async function auditRefusedFiles(audit: AuditLog, opts: Pick<SubmitOptions, 'actor' | 'via'>, problems: Array<{ code: string; path?: string; message: string; line?: number }>): Promise<void> {
  const refused = problems.filter((p) => REFUSED_FILE_CODES.has(p.code));
  if (!refused.length) return;
  const files = refused.map((p) => p.path ?? (p.line !== undefined ? `第 ${p.line} 行` : '-'));
  await audit.append({
    actor: opts.actor.name,
    role: opts.actor.role,
    source: opts.actor.source,
    action: 'ingest.file-refused',
    target: files[0],
    outcome: 'denied',
    details: { via: opts.via, count: refused.length, files: files.slice(0, 50), reasons: [...new Set(refused.map((p) => p.code))], messages: refused.slice(0, 10).map((p) => p.message) },
  });
}

function problemsOf(e: unknown): Array<{ code: string; path?: string; message: string; line?: number }> {
  return e instanceof ApplianceError ? ((e.details as { problems?: Array<{ code: string; path?: string; message: string; line?: number }> } | undefined)?.problems ?? []) : [];
}

/** Queue items as a job (the running appliance, or this console command, works it). */
export async function submitIntake(jobs: JobStore, audit: AuditLog, items: IntakeItem[], opts: SubmitOptions & { problems?: PlanProblem[]; root?: string }): Promise<Job> {
  let job: Job;
  try {
    job = await submitJob(jobs, items, {
      via: opts.via,
      actor: opts.actor,
      posts: opts.posts ?? [],
      classification: opts.classification ?? '内部',
      maxFileBytes: MAX_FILE_BYTES,
      problems: opts.problems,
      taken: opts.taken,
      root: opts.root,
      batch: opts.batch,
    });
  } catch (e) {
    await auditRefusedFiles(audit, opts, problemsOf(e));
    throw e;
  }
  await auditRefusedFiles(audit, opts, job.problems);
  await audit.append({
    actor: opts.actor.name,
    role: opts.actor.role,
    source: opts.actor.source,
    action: 'ingest.submit',
    target: job.id,
    outcome: 'success',
    details: { via: opts.via, items: job.items.length, problems: job.problems.length },
  });
  return job;
}

/** The folder holding everything named: the parent of a single folder, so its own name is kept. */
export function batchRoot(paths: string[]): string | undefined {
  if (paths.length === 0) return undefined;
  const parents = paths.map((p) => dirname(resolve(p)).split(sep));
  const common: string[] = [];
  for (let i = 0; parents.every((p) => i < p.length && p[i] === parents[0][i]); i++) common.push(parents[0][i]);
  return common.join(sep) || sep;
}

export async function submitPaths(cfg: Config, jobs: JobStore, audit: AuditLog, paths: string[], opts: SubmitOptions): Promise<Job> {
  await assertRoomForWork(cfg.dataDir, cfg.disk);
  let planned: Awaited<ReturnType<typeof planIntake>>;
  try {
    planned = await planIntake(paths, { ...opts, ceiling: cfg.classificationCeiling });
  } catch (e) {
    // Classified rows in a CSV stop the whole batch before anything is copied; the security officer still needs the record.
    const above =
      e instanceof ApplianceError && e.code === 'CSV_INVALID'
        ? ((e.details as { problems?: Array<{ line: number; code: string }> } | undefined)?.problems ?? []).filter((p) => p.code === 'CSV_ABOVE_CEILING')
        : [];
    await auditRefusedFiles(audit, opts, e instanceof ApplianceError && ['CSV_INVALID', 'LINK_REFUSED', 'SPECIAL_FILE_REFUSED'].includes(e.code) ? problemsOf(e) : []);
    if (above.length) {
      await audit.append({
        actor: opts.actor.name,
        role: opts.actor.role,
        source: opts.actor.source,
        action: 'ingest.refused',
        target: opts.manifest ?? '-',
        outcome: 'denied',
        details: { via: opts.via, reason: 'above-ceiling', ceiling: cfg.classificationCeiling, lines: above.map((p) => p.line) },
      });
    }
    if (e instanceof ApplianceError && e.code === 'FILING_FORBIDDEN') {
      await audit.append({
        actor: opts.actor.name,
        role: opts.actor.role,
        source: opts.actor.source,
        action: 'ingest.refused',
        target: '-',
        outcome: 'denied',
        details: { via: opts.via, reason: 'filing-rights', ...(e.details as Record<string, unknown>) },
      });
    }
    throw e;
  }
  const { items, problems } = planned;
  return submitIntake(jobs, audit, items, { ...opts, problems, batch: opts.batch ?? (await batchName(paths)), root: batchRoot([...paths, ...(opts.manifest ? [opts.manifest] : [])]) });
}

export interface IngestService {
  readonly jobs: JobStore;
  readonly store: ItemStore;
  readonly runner: IngestRunner;
  submit(paths: string[], opts: SubmitOptions): Promise<Job>;
  submitItems(items: IntakeItem[], opts: SubmitOptions & { problems?: PlanProblem[] }): Promise<Job>;
  /** Refuse new work when the data dir's disk is low (before an upload is even received). */
  assertRoom(): Promise<void>;
  /** Read an archived item's originals again (re-OCR) and replace its pages, text and PDF. */
  reocr(itemId: string, actor: JobActor): Promise<Job>;
  /** Work the queue in the background (the server) and watch the inbox. */
  start(opts?: { inbox?: boolean; inboxSettleMs?: number }): void;
  /** Work the queue until it is empty (a console command with no server running). */
  drain(): Promise<void>;
  stop(): Promise<void>;
}

/** The runner's view of the appliance: real scanner, OCR pool, store, index and audit log. */
export function ingestDeps(cfg: Config, deps: { log: Logger; audit: AuditLog; search: SearchService }, store: ItemStore, getPool: () => Promise<OcrPool>): IngestDeps {
  return {
    dataDir: cfg.dataDir,
    ceiling: cfg.classificationCeiling,
    log: deps.log,
    scan: (path) => scanFileDigest(cfg.clamd, path),
    scanRetryable: isRetryableScanError,
    openOcr: async (files) => openOcrSession(await getPool(), files),
    warmOcr: () => void getPool().catch(() => undefined),
    countPages: async (files) => (await openInputs(files).catch(() => undefined))?.length,
    assemblePdf: async (pages, out) => void (await writeItemPdf(pages, out)),
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
    indexItems: async (items) => {
      await deps.search.indexItems(items);
    },
    audit: async (e) => {
      await deps.audit.append({
        actor: e.actor.name,
        role: e.actor.role,
        source: e.actor.source,
        action: e.action,
        target: e.target ?? '-',
        outcome: e.outcome === 'refused' ? 'denied' : e.outcome,
        details: e.details,
      });
    },
  };
}

export async function createIngestService(
  cfg: Config,
  deps: {
    log: Logger;
    audit: AuditLog;
    search: SearchService;
    knownPosts?: () => Promise<ReadonlySet<string>>;
    /** Another OCR engine (bench/big-item.ts --substitute-ocr measures memory without OCR's time). */
    ocrPool?: () => Promise<OcrPool>;
  },
): Promise<IngestService> {
  const jobs = new JobStore(cfg.dataDir);
  const store = await ItemStore.open(cfg.dataDir);
  let pool: Promise<OcrPool> | undefined;
  // Workers start with the first job, not with the appliance: ~370 MB each.
  const getPool = () => (pool ??= deps.ocrPool?.() ?? createOcrPool({ workers: cfg.ocr.workers, lang: cfg.ocr.lang, cacheDir: dataPath(cfg.dataDir, 'run', 'ocr-lang') }));

  const runnerDeps = ingestDeps(cfg, deps, store, getPool);
  const runner = new IngestRunner(jobs, runnerDeps, { pageConcurrency: cfg.ocr.workers + 1 });
  let inbox: InboxWatcher | undefined;

  const submitItems = async (items: IntakeItem[], opts: SubmitOptions & { problems?: PlanProblem[] }) => {
    await assertRoomForWork(cfg.dataDir, cfg.disk);
    return submitIntake(jobs, deps.audit, items, opts);
  };
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
    assertRoom: () => assertRoomForWork(cfg.dataDir, cfg.disk),
    async reocr(itemId, actor) {
      const meta = await store.getItem(itemId);
      if (!meta) throw new ApplianceError('ITEM_NOT_FOUND', `条目不存在：${itemId}`, `no such item ${itemId}`, { status: 404 });
      const files = await Promise.all(meta.originals.map((o) => store.originalPath(itemId, o.name)));
      const { itemId: _id, pageCount: _p, originals: _o, createdAt: _c, updatedAt: _u, ...metadata } = meta;
      const label = [meta.archivalCode, meta.title].filter(Boolean).join(' ') || meta.originals[0]?.name || itemId;
      return submitItems([{ label, files, metadata, replaces: itemId }], { via: 'reocr', actor, posts: meta.posts, classification: meta.classification });
    },
    start(opts = {}) {
      runner.start();
      if (opts.inbox !== false) {
        const inboxActor: JobActor = { name: 'system', role: 'system', source: 'inbox' };
        inbox = new InboxWatcher(
          dataPath(cfg.dataDir, 'inbox'),
          async (batch) => {
            const taken: string[] = [];
            const job = await submit(batch.entries, { manifest: batch.manifest, actor: inboxActor, via: 'inbox', taken });
            return { jobId: job.id, taken, problems: job.problems };
          },
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
