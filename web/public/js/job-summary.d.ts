// Types for the tests that import the browser module (this file is not served).
export type JobState = 'queued' | 'running' | 'waiting' | 'done';
export type ItemOutcome = 'pending' | 'archived' | 'quarantined' | 'duplicate' | 'refused' | 'failed';
export function jobVerdict(state: JobState, outcomes: ItemOutcome[]): JobState | 'partial' | 'failed';
export function listedOutcomes(job: { items: number; itemsFinished: number; failures: Array<{ outcome: ItemOutcome }> }): ItemOutcome[];
