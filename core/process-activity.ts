import { readFile } from 'node:fs/promises';

/**
 * What a process has done so far, read from /proc (Linux): CPU time of all its threads, and the
 * bytes it has made storage read and write. Only this machine's process table is read; nothing is
 * asked of the process itself, so a process too busy to answer still shows here whether it works.
 * Socket traffic (rchar/wchar) is left out on purpose: a hung server still reads our own checks.
 */
export interface ProcessActivity {
  pid: number;
  /** utime + stime of the whole thread group, in clock ticks (USER_HZ: 100 a second). */
  cpuTicks: number;
  /** read_bytes + write_bytes of /proc/<pid>/io; undefined where that file is not readable. */
  ioBytes?: number;
  /** The state letter of /proc/<pid>/stat: R running, S sleeping, D disk wait, T stopped, Z zombie… */
  state: string;
}

/** /proc counts CPU time in USER_HZ, 100 a second on Linux whatever the kernel's own tick. */
const TICK_MS = 10;

/** The process's activity now, or undefined when it is gone (or /proc cannot be read). */
export async function readProcessActivity(pid: number): Promise<ProcessActivity | undefined> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces or ')': fields start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const state = fields[0] ?? '?';
  const cpuTicks = Number(fields[11]) + Number(fields[12]);
  if (!Number.isFinite(cpuTicks)) return undefined;
  let ioBytes: number | undefined;
  try {
    const io = await readFile(`/proc/${pid}/io`, 'utf8');
    ioBytes = 0;
    for (const m of io.matchAll(/^(read_bytes|write_bytes):\s+(\d+)$/gm)) ioBytes += Number(m[2]);
  } catch {
    /* not readable (another user's process, hardened /proc): CPU time alone */
  }
  return { pid, cpuTicks, ioBytes, state };
}

/**
 * True when the same process worked between the two readings, `elapsedMs` apart: CPU time of at
 * least `minCpuShare` of the elapsed time (and at least one tick), or storage read or written. The
 * share keeps the crumbs of CPU an idle or hung server spends on answering nothing from counting.
 */
export function activityAdvanced(before: ProcessActivity | undefined, after: ProcessActivity | undefined, elapsedMs: number, minCpuShare = 0.02): boolean {
  if (!before || !after || before.pid !== after.pid || after.state === 'Z') return false;
  const cpuMs = (after.cpuTicks - before.cpuTicks) * TICK_MS;
  if (cpuMs > 0 && cpuMs >= minCpuShare * elapsedMs) return true;
  return before.ioBytes !== undefined && after.ioBytes !== undefined && after.ioBytes > before.ioBytes;
}

/**
 * Judges a process's activity over windows of at least `windowMs`: readings come as often as the
 * caller likes, and each verdict covers the window that ended last (short windows would let one
 * stray tick count as work).
 */
export class ActivityMeter {
  private ref?: { at: number; sample: ProcessActivity };
  private verdict = false;

  constructor(
    private readonly windowMs = 1_000,
    private readonly minCpuShare = 0.02,
  ) {}

  reset(): void {
    this.ref = undefined;
    this.verdict = false;
  }

  /** Whether the process worked in the last full window (false for a new or vanished process). */
  observe(sample: ProcessActivity | undefined, now: number): boolean {
    if (!sample || !this.ref || this.ref.sample.pid !== sample.pid) {
      this.ref = sample && { at: now, sample };
      this.verdict = false;
      return false;
    }
    const elapsed = now - this.ref.at;
    if (elapsed < this.windowMs) return this.verdict;
    this.verdict = activityAdvanced(this.ref.sample, sample, elapsed, this.minCpuShare);
    this.ref = { at: now, sample };
    return this.verdict;
  }
}
