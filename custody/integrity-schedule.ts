import type { ItemStore } from '../ingest/index.ts';
import type { Config, Logger } from '../core/index.ts';
import type { SearchService } from '../search/index.ts';
import { runIntegrityCheck, type IntegrityReport } from './integrity.ts';

/** Milliseconds from `now` to the next time the local clock shows hour:00 (always in the future). */
export function msUntilHour(now: Date, hour: number): number {
  const next = new Date(now);
  next.setHours(hour, 0, 0, 0);
  if (next.getTime() <= now.getTime()) next.setDate(next.getDate() + 1);
  return next.getTime() - now.getTime();
}

export interface DailySchedule {
  /** When the next run is due. */
  next(): Date;
  stop(): Promise<void>;
}

/**
 * Run `task` every day at `hour` (local time). One run at a time; a failing run is logged and the
 * next day's still happens. The timer does not keep the process alive. stop() waits for a run
 * in progress, so shutdown never cuts a check (and its audit record) in half.
 */
export function startDaily(hour: number, task: () => Promise<unknown>, opts: { now?: () => Date; onError?: (e: unknown) => void } = {}): DailySchedule {
  const now = opts.now ?? (() => new Date());
  let timer: NodeJS.Timeout | undefined;
  let due = new Date(now().getTime() + msUntilHour(now(), hour));
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;
  // After a run the next one is counted from the time it was due, not from "now": a timer may
  // fire a millisecond before the clock shows hour:00, and counting from then ran it twice.
  const arm = (after = 0) => {
    if (stopped) return;
    const base = Math.max(now().getTime(), after);
    due = new Date(base + msUntilHour(new Date(base), hour));
    const dueAt = due.getTime();
    timer = setTimeout(
      () => {
        running = task()
          .catch((e) => opts.onError?.(e))
          .finally(() => arm(dueAt));
      },
      Math.max(0, dueAt - now().getTime()),
    );
    timer.unref();
  };
  arm();
  return {
    next: () => due,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

/** The appliance's daily 四性检测 (server.ts starts it; stop() is a shutdown step). */
export function scheduleIntegrityCheck(cfg: Config, deps: { log: Logger; search?: SearchService; store?: ItemStore; run?: (cfg: Config) => Promise<IntegrityReport> }): () => Promise<void> {
  const hour = cfg.integrity.hour;
  if (hour === 'off') return async () => {};
  const run = deps.run ?? ((c: Config) => runIntegrityCheck(c, { search: deps.search, store: deps.store, scan: cfg.integrity.scan, maxSignatureAgeDays: cfg.signatureMaxAgeDays }));
  const s = startDaily(
    hour,
    async () => {
      const r = await run(cfg);
      deps.log[r.ok ? 'info' : 'warn']({ counts: r.counts, problems: r.problems.length }, 'daily integrity check finished');
    },
    { onError: (e) => deps.log.error({ err: (e as Error).message }, 'daily integrity check failed') },
  );
  deps.log.info({ next: s.next().toISOString() }, 'daily integrity check scheduled');
  return () => s.stop();
}
