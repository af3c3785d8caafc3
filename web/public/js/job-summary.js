// How a job ended and how fast it read, from the job's items: pure functions (tested in Node).

/** Outcomes that mean an item did not get into the archive for a reason someone must look at. */
const BAD = new Set(['failed', 'refused', 'quarantined']);

/**
 * The badge of a job: its state while it runs; once done, 'failed' when items went wrong and
 * none got archived, 'partial' when some did, else 'done'. A duplicate is already in the archive:
 * neither a failure nor new work.
 */
export function jobVerdict(state, outcomes) {
  if (state !== 'done') return state;
  const bad = outcomes.filter((o) => BAD.has(o)).length;
  if (!bad) return 'done';
  return outcomes.some((o) => o === 'archived' || o === 'duplicate') ? 'partial' : 'failed';
}

/** Item outcomes of a row of GET /api/jobs: every finished item without an error was archived. */
export function listedOutcomes(job) {
  const failed = job.failures.map((f) => f.outcome);
  const pending = job.items - job.itemsFinished;
  return [...failed, ...Array(Math.max(0, job.itemsFinished - failed.length)).fill('archived'), ...Array(Math.max(0, pending)).fill('pending')];
}

/**
 * Pages actually read into the archive: archived items whole, items in progress as far as they got.
 * Failed, refused, quarantined and duplicate items count nothing (the server's pagesDone counts
 * them as done, which is right for progress and wrong for a rate).
 */
export function processedPages(items) {
  let n = 0;
  for (const it of items) {
    if (it.outcome === 'archived') n += it.pageCount ?? it.pagesDone ?? 0;
    else if (it.outcome === 'pending') n += it.pagesDone ?? 0;
  }
  return n;
}

/** Below this a rate is noise (a batch that failed at once "ran" for milliseconds). */
export const MIN_RATE_MS = 5_000;

/**
 * How long the job has been running, in server time only (the browser's clock may differ):
 * start to finish once done, else what the server's own rate implies (pagesDone / pagesPerMinute).
 */
export function elapsedMs(progress, job) {
  if (job?.startedAt && job?.finishedAt) return Date.parse(job.finishedAt) - Date.parse(job.startedAt);
  if (progress.pagesPerMinute && progress.pagesDone) return (progress.pagesDone / progress.pagesPerMinute) * 60_000;
  return undefined;
}

/** Pages per minute, only when pages were read and over a span long enough to mean something. */
export function pagesPerMinute(pages, ms) {
  if (!(pages > 0) || !(ms >= MIN_RATE_MS)) return undefined;
  return Math.round((pages / (ms / 60_000)) * 10) / 10;
}
