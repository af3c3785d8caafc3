// Types for the tests that import the browser module (this file is not served).
export function retryDelay(failures: number): number;
export const GIVE_UP_AFTER_MS: number;
export function isFetchFailure(e: unknown): boolean;
export type PageImport<M> =
  { module: M; stale?: undefined; unavailable?: undefined } | { stale: true; module?: undefined; unavailable?: undefined } | { unavailable: unknown; module?: undefined; stale?: undefined };
export function importPage<M>(
  load: () => Promise<M>,
  opts: { stillWanted: () => boolean; onWaiting: () => void; sleep?: (ms: number) => Promise<void>; now?: () => number; giveUpAfterMs?: number },
): Promise<PageImport<M>>;
