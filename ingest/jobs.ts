import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ApplianceError, checkFormatVersion, FORMAT_VERSIONS, fsyncDir, writeFileAtomic, type Classification, type ItemMetadata } from '../core/index.ts';
import type { PlanProblem } from './batch-plan.ts';

/** Stages of one item, in order: each is recorded before the next begins. */
export const ITEM_STAGES = ['received', 'scanned', 'ocr', 'assembled', 'stored', 'indexed', 'done'] as const;
export type ItemStage = (typeof ITEM_STAGES)[number];

/** How an item ended: archived, refused for a virus, already archived, or failed with a reason. */
export type ItemOutcome = 'pending' | 'archived' | 'quarantined' | 'duplicate' | 'refused' | 'failed';

export interface JobSource {
  /** Name as received (sanitised), relative to the item's original/ folder. */
  name: string;
  /** Staged copy, relative to the job dir. */
  staged: string;
  sha256: string;
  bytes: number;
}

/** Catalogue data given at intake (CSV row, form or options); completed when the item is stored. */
export type IntakeMetadata = Partial<Omit<ItemMetadata, 'itemId' | 'pageCount' | 'originals' | 'createdAt' | 'updatedAt'>>;

export interface JobItem {
  n: number;
  label: string;
  /** Assigned at intake so a crash after the store's rename is recognised on resume. */
  itemId: string;
  /** Re-OCR: this job reads an archived item's originals again and replaces its pages, text and PDF. */
  replaces?: string;
  sources: JobSource[];
  metadata: IntakeMetadata;
  /** CSV line the item came from, for messages. */
  csvLine?: number;
  stage: ItemStage;
  outcome: ItemOutcome;
  pageCount?: number;
  /** Pages counted at intake (headers only), so a job's page total is known before OCR starts. */
  pagesExpected?: number;
  pagesDone: number;
  error?: { code: string; message: string };
  duplicateOf?: string;
  /** The archived item already holding this item's 档号 (shown only to someone who may see it). */
  codeHolder?: string;
  finishedAt?: string;
  /** Milliseconds spent in each stage (a waiting scanner counts as scan time). */
  timings?: { scan?: number; ocr?: number; assemble?: number; store?: number; index?: number };
}

export interface JobActor {
  name: string;
  role: string;
  source: string;
}

export type JobState = 'queued' | 'running' | 'waiting' | 'done';

export interface Job {
  /** Format version of job.json (docs/FORMATS.md); absent in journals written before versions: 1. */
  formatVersion?: number;
  id: string;
  createdAt: string;
  updatedAt: string;
  via: 'cli' | 'upload' | 'inbox' | 'reocr';
  /** The batch's folder name as the archivist gave it (one folder uploaded, named or dropped). */
  batch?: string;
  /** Who submitted it, as the audit trail names them. */
  actor: JobActor;
  options: { posts: string[]; classification: Classification };
  state: JobState;
  /** Why the job is not moving (scanner down, search engine down), in words a person can act on. */
  waitingReason?: string;
  items: JobItem[];
  /** Files named at intake that could not become items, with the reason. */
  problems: PlanProblem[];
  /** Folder the batch was named from: names in the job are shown relative to it, never as host paths. */
  root?: string;
  startedAt?: string;
  finishedAt?: string;
}

export function newJobId(): string {
  // Time-ordered so listing the folder gives submission order.
  return `${Date.now().toString(36).padStart(9, '0')}-${randomBytes(4).toString('hex')}`;
}

/**
 * The job journals under data/jobs/: one folder per job with job.json (the journal, rewritten
 * atomically at every stage) and the staged files. A job folder appears only when complete.
 */
export class JobStore {
  readonly dir: string;
  constructor(dataDir: string) {
    this.dir = join(dataDir, 'jobs');
  }

  jobDir(id: string): string {
    if (!/^[0-9a-z]+-[0-9a-f]+$/.test(id)) throw new ApplianceError('JOB_NOT_FOUND', `任务不存在：${id}`, `no such job ${id}`, { status: 404 });
    return join(this.dir, id);
  }

  /**
   * The job folder's layout (docs/FORMATS.md), owned here: job.json, files/<n>/<name> (the received
   * copies of item n, paths in job.json relative to the job folder) and work/<n>/ (OCR work).
   */
  static stagedPath(n: number, name?: string): string {
    return name === undefined ? join('files', String(n)) : join('files', String(n), name);
  }

  /** Received copies: of item n, or of the whole job. */
  filesDir(jobId: string, n?: number): string {
    return n === undefined ? join(this.jobDir(jobId), 'files') : join(this.jobDir(jobId), JobStore.stagedPath(n));
  }

  /** OCR work of item n (pages read so far, the assembled PDF), or of the whole job. */
  workDir(jobId: string, n?: number): string {
    return n === undefined ? join(this.jobDir(jobId), 'work') : join(this.jobDir(jobId), 'work', String(n));
  }

  /** A folder to build a new job in; `commit` makes it visible to the runner in one rename. */
  async stage(id: string): Promise<{ dir: string; commit: (job: Job) => Promise<void>; abort: () => Promise<void> }> {
    const dir = join(this.dir, `.incoming-${id}`);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return {
      dir,
      commit: async (job) => {
        await writeFileAtomic(join(dir, 'job.json'), JSON.stringify({ ...job, formatVersion: FORMAT_VERSIONS['job.json'] }, null, 1));
        await rename(dir, this.jobDir(id));
        await fsyncDir(this.dir);
      },
      abort: () => rm(dir, { recursive: true, force: true }),
    };
  }

  async save(job: Job): Promise<void> {
    job.updatedAt = new Date().toISOString();
    await writeFileAtomic(join(this.jobDir(job.id), 'job.json'), JSON.stringify({ ...job, formatVersion: FORMAT_VERSIONS['job.json'] }, null, 1));
  }

  async load(id: string): Promise<Job> {
    try {
      const job = JSON.parse(await readFile(join(this.jobDir(id), 'job.json'), 'utf8')) as Job;
      checkFormatVersion('job.json', job.formatVersion, `任务 ${id} 的日志 job.json`);
      return job;
    } catch (e) {
      if (e instanceof ApplianceError) throw e;
      throw new ApplianceError('JOB_NOT_FOUND', `任务不存在或日志无法读取：${id}`, `job ${id} missing or unreadable: ${(e as Error).message}`, { status: 404 });
    }
  }

  async list(): Promise<Job[]> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const ids = (await readdir(this.dir)).filter((n) => !n.startsWith('.')).sort();
    const jobs: Job[] = [];
    for (const id of ids) {
      try {
        jobs.push(await this.load(id));
      } catch {
        /* a folder without a journal is not a job */
      }
    }
    return jobs;
  }

  /** Leftovers of a submission that crashed before its commit: never seen by the runner. */
  async cleanIncoming(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const n of await readdir(this.dir)) if (n.startsWith('.incoming-')) await rm(join(this.dir, n), { recursive: true, force: true });
  }
}

/** Progress a person can read: pages done, rate and time left. */
export interface JobProgress {
  jobId: string;
  state: JobState;
  waitingReason?: string;
  items: number;
  itemsFinished: number;
  pagesTotal: number;
  pagesDone: number;
  pagesPerMinute?: number;
  etaSeconds?: number;
}

/** Below this a rate is noise (a batch that failed at once "ran" for milliseconds). */
export const MIN_RATE_MS = 5_000;

/** Pages of one item as far as known: read by OCR, else counted at intake, else one per file. */
export function itemPages(i: JobItem): number {
  return i.pageCount ?? i.pagesExpected ?? i.sources.length;
}

export function jobProgress(job: Job, now = Date.now()): JobProgress {
  const pagesTotal = job.items.reduce((s, i) => s + itemPages(i), 0);
  const pagesDone = job.items.reduce((s, i) => s + (i.outcome === 'pending' ? i.pagesDone : itemPages(i)), 0);
  const p: JobProgress = {
    jobId: job.id,
    state: job.state,
    waitingReason: job.waitingReason,
    items: job.items.length,
    itemsFinished: job.items.filter((i) => i.outcome !== 'pending').length,
    pagesTotal,
    pagesDone,
  };
  // The rate counts pages read into the archive (archived items whole, running ones as far as they
  // got), not failed, refused or duplicate items that pagesDone counts as finished; a done job's
  // rate is over its own run, not up to now.
  const read = job.items.reduce((s, i) => s + (i.outcome === 'archived' ? itemPages(i) : i.outcome === 'pending' ? i.pagesDone : 0), 0);
  const ms = job.startedAt ? (job.state === 'done' && job.finishedAt ? Date.parse(job.finishedAt) : now) - Date.parse(job.startedAt) : 0;
  if (read > 0 && ms >= MIN_RATE_MS) {
    p.pagesPerMinute = Math.round((read / (ms / 60_000)) * 10) / 10;
    if (job.state !== 'done') p.etaSeconds = Math.round(((pagesTotal - pagesDone) / p.pagesPerMinute) * 60);
  }
  return p;
}
