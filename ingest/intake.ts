import { mkdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { type Classification, ApplianceError } from '../core/index.ts';
import { refusedProblem, shownPath, type PlanProblem } from './batch-plan.ts';
import { RefusedFile } from './no-follow.ts';
import { newJobId, type IntakeMetadata, type Job, type JobItem, JobStore } from './jobs.ts';
import { safeFileName } from './safe-name.ts';
import { stageFile } from './stage-file.ts';
import { randomBytes } from 'node:crypto';

/** One item as intake hands it over: its files in page order, and what the CSV or form said of it. */
export interface IntakeItem {
  label: string;
  /** A path on this machine, or a stream with the name it was uploaded under. */
  files: Array<string | { name: string; stream: NodeJS.ReadableStream }>;
  metadata: IntakeMetadata;
  csvLine?: number;
  /** Re-OCR of this archived item (its own originals). */
  replaces?: string;
  /**
   * The batch root the paths were planned under (resolved, nothing below it a link): each file is
   * then read only if the file opened is exactly that path, and refusals name it relative to here.
   */
  root?: string;
}

export interface IntakeOptions {
  via: Job['via'];
  actor: Job['actor'];
  posts: string[];
  classification: Classification;
  /** Largest single file accepted (uploads and scanner folders alike). */
  maxFileBytes: number;
  problems?: PlanProblem[];
  /** Folder the batch was named from (names are shown relative to it). */
  root?: string;
  /** Filled with the paths of the files the job took (the hot folder removes only these). */
  taken?: string[];
  /** The batch's folder name, kept with the job. */
  batch?: string;
}

export function newItemId(): string {
  // Time-ordered and URL-safe; the two-letter shard of items/ comes from the random part.
  return `${Date.now().toString(36)}${randomBytes(5).toString('hex')}`;
}

/**
 * Make a job: copy every file into the job's own staging folder (hashing as it goes) and write
 * its journal. The job becomes visible to the runner in one rename, so a crash during intake
 * leaves no half job; the sources can be unplugged as soon as this returns.
 */
export async function submitJob(jobs: JobStore, items: IntakeItem[], opts: IntakeOptions): Promise<Job> {
  if (items.length === 0) {
    const why = opts.problems?.length ? `：\n  ${opts.problems.map((p) => p.message).join('\n  ')}` : '。';
    throw new ApplianceError('NOTHING_TO_INGEST', `没有可导入的文件${why}`, 'nothing to ingest', { details: { problems: opts.problems ?? [] } });
  }
  const id = newJobId();
  const staging = await jobs.stage(id);
  const problems = [...(opts.problems ?? [])];
  try {
    const jobItems: JobItem[] = [];
    for (const item of items) {
      const n = jobItems.length;
      const dir = join(staging.dir, JobStore.stagedPath(n + 1));
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const used = new Set<string>();
      const sources = [];
      let refused: PlanProblem | undefined;
      for (const [i, f] of item.files.entries()) {
        let name = safeFileName(typeof f === 'string' ? basename(f) : f.name);
        if (used.has(name)) name = `${i + 1}-${name}`;
        used.add(name);
        const staged = JobStore.stagedPath(n + 1, name);
        try {
          const { sha256, bytes } = await stageFile(typeof f === 'string' ? f : f.stream, join(staging.dir, staged), opts.maxFileBytes, { exact: item.root !== undefined });
          if (bytes === 0) throw new ApplianceError('EMPTY_FILE', `文件为空（0 字节）：${name}`, `empty file: ${name}`);
          sources.push({ name, staged, sha256, bytes });
        } catch (e) {
          // Swapped for a link (or a device) since it was planned: this item is refused by name,
          // the rest of the batch goes on.
          if (e instanceof RefusedFile) {
            refused = refusedProblem(e.kind, shownPath(item.root ?? dirname(e.path), e.path));
            break;
          }
          if ((e as { code?: string }).code === 'FILE_TOO_LARGE') {
            throw new ApplianceError('FILE_TOO_LARGE', `文件超过大小上限（${Math.round(opts.maxFileBytes / 2 ** 20)} MB）：${name}`, `file too large: ${name}`, { status: 413 });
          }
          throw e;
        }
      }
      if (refused) {
        problems.push(refused);
        await rm(dir, { recursive: true, force: true });
        continue;
      }
      for (const f of item.files) if (typeof f === 'string') opts.taken?.push(f);
      jobItems.push({
        n: n + 1,
        label: item.label,
        itemId: item.replaces ?? newItemId(),
        replaces: item.replaces,
        sources,
        metadata: item.metadata,
        csvLine: item.csvLine,
        stage: 'received',
        outcome: 'pending',
        pagesDone: 0,
      });
    }
    const now = new Date().toISOString();
    if (jobItems.length === 0) {
      throw new ApplianceError('NOTHING_TO_INGEST', `没有可导入的文件：\n  ${problems.map((p) => p.message).join('\n  ')}`, 'nothing to ingest', { details: { problems } });
    }
    const job: Job = {
      id,
      createdAt: now,
      updatedAt: now,
      via: opts.via,
      ...(opts.batch ? { batch: opts.batch } : {}),
      actor: opts.actor,
      options: { posts: opts.posts, classification: opts.classification },
      state: 'queued',
      items: jobItems,
      problems,
      root: opts.root,
    };
    await staging.commit(job);
    return job;
  } catch (e) {
    await staging.abort();
    throw e;
  }
}
