// How a job ended, from its items' outcomes: pure functions (tested in Node).

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
