// Types for the tests that import the browser module (this file is not served).
export type JobState = 'queued' | 'running' | 'waiting' | 'done';
export type ItemOutcome = 'pending' | 'archived' | 'quarantined' | 'duplicate' | 'refused' | 'failed';
export function jobVerdict(state: JobState, outcomes: ItemOutcome[]): JobState | 'partial' | 'failed';
export function listedOutcomes(job: { items: number; itemsFinished: number; failures: Array<{ outcome: ItemOutcome }> }): ItemOutcome[];
export function processedPages(items: Iterable<{ outcome: ItemOutcome; pageCount?: number; pagesDone?: number }>): number;
export const MIN_RATE_MS: number;
export function elapsedMs(progress: { pagesDone: number; pagesPerMinute?: number }, job?: { startedAt?: string; finishedAt?: string }): number | undefined;
export function pagesPerMinute(pages: number, ms: number | undefined): number | undefined;
