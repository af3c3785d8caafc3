/**
 * Where a page's reading spends its time, for measurement only (bench/ocr-stages.ts). The product
 * passes no stats object and every call below is then a plain call. Wall and CPU time are taken
 * around each stage; CPU is the whole process's (the recogniser's worker threads included), so the
 * figures attribute cleanly only when one page is read at a time with one worker (as the bench does).
 */
export interface StageStat {
  calls: number;
  wallMs: number;
  cpuMs: number;
  /** Pixels the stage handled (re-reads: the crops' area), where it says. */
  px: number;
}

export type StageStats = Map<string, StageStat>;

function entry(stats: StageStats, name: string): StageStat {
  let s = stats.get(name);
  if (!s) stats.set(name, (s = { calls: 0, wallMs: 0, cpuMs: 0, px: 0 }));
  return s;
}

/** Run `fn` as stage `name` (timed when `stats` is given). */
export async function timed<T>(stats: StageStats | undefined, name: string, fn: () => Promise<T> | T, px = 0): Promise<T> {
  if (!stats) return fn();
  const t = performance.now();
  const u = process.cpuUsage();
  try {
    return await fn();
  } finally {
    const d = process.cpuUsage(u);
    const s = entry(stats, name);
    s.calls++;
    s.wallMs += performance.now() - t;
    s.cpuMs += (d.user + d.system) / 1000;
    s.px += px;
  }
}

/** Count something (no time): e.g. lines found weak, lines replaced. */
export function tally(stats: StageStats | undefined, name: string, n = 1, px = 0): void {
  if (!stats) return;
  const s = entry(stats, name);
  s.calls += n;
  s.px += px;
}
