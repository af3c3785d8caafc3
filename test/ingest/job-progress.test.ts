import { describe, expect, it } from 'vitest';
import { jobProgress, type Job, type JobItem } from '../../ingest/index.ts';

// The rate a person reads (web card and `archive ingest`): pages read into the archive over the
// job's own run, never the pages of items that failed at once.

const T0 = Date.parse('2026-11-24T10:00:00Z');
const item = (n: number, outcome: JobItem['outcome'], pageCount: number, pagesDone: number): JobItem => ({ n, label: `i${n}`, itemId: `id${n}`, sources: [], metadata: {}, stage: 'received', outcome, pageCount, pagesDone });
const job = (state: Job['state'], items: JobItem[], finishedAfterMs?: number): Job => ({
  id: 'j', createdAt: new Date(T0).toISOString(), updatedAt: new Date(T0).toISOString(), via: 'upload', actor: { name: 'a', role: 'archivist', source: '-' }, options: { posts: [], classification: '内部' },
  state, items, problems: [], startedAt: new Date(T0).toISOString(), ...(finishedAfterMs === undefined ? {} : { finishedAt: new Date(T0 + finishedAfterMs).toISOString() }),
});

describe('job progress rate', () => {
  it('counts pages read into the archive only, and gives no rate for a batch that failed at once', () => {
    // The old figure counted the failed pages as done: 100 pages in 1.1 s ("5454.5 页/分钟").
    const failedAtOnce = jobProgress(job('done', [item(1, 'failed', 100, 0)], 1_100), T0 + 60_000);
    expect(failedAtOnce.pagesDone).toBe(100);
    expect(failedAtOnce.pagesPerMinute).toBeUndefined();
    expect(jobProgress(job('done', [item(1, 'archived', 3, 3)], 1_000), T0 + 60_000).pagesPerMinute).toBeUndefined();
    // Done: over its own run (a minute), not up to now (an hour later).
    const items = [item(1, 'archived', 4, 4), item(2, 'failed', 50, 0), item(3, 'archived', 2, 2)];
    expect(jobProgress(job('done', items, 60_000), T0 + 3_600_000).pagesPerMinute).toBe(6);
  });

  it('while running: archived and in-progress pages over the time so far, and the time left', () => {
    const p = jobProgress(job('running', [item(1, 'archived', 4, 4), item(2, 'pending', 10, 2), item(3, 'failed', 50, 0)]), T0 + 60_000);
    expect(p.pagesPerMinute).toBe(6);
    expect(p.etaSeconds).toBe(80); // 8 pages left at 6 a minute
  });
});
