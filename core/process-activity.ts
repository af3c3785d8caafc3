import { readFile } from 'node:fs/promises';

/**
 * What a process has done so far, read from /proc (Linux): CPU time of all its threads, and the
 * bytes it has read and written (syscalls and storage). Only this machine's process table is
 * read; nothing is asked of the process itself, so a process too busy to answer still shows
 * here whether it is working.
 */
export interface ProcessActivity {
  pid: number;
  /** utime + stime of the whole thread group, in clock ticks. */
  cpuTicks: number;
  /** rchar + wchar + read_bytes + write_bytes; undefined where /proc/<pid>/io is not readable. */
  ioBytes?: number;
  /** The state letter of /proc/<pid>/stat: R running, S sleeping, D disk wait, T stopped, Z zombie… */
  state: string;
}

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
    for (const m of io.matchAll(/^(rchar|wchar|read_bytes|write_bytes):\s+(\d+)$/gm)) ioBytes += Number(m[2]);
  } catch {
    /* not readable (another user's process, hardened /proc): CPU time alone */
  }
  return { pid, cpuTicks, ioBytes, state };
}

/** True when the same process used CPU or did I/O between the two readings. */
export function activityAdvanced(before: ProcessActivity | undefined, after: ProcessActivity | undefined): boolean {
  if (!before || !after || before.pid !== after.pid || after.state === 'Z') return false;
  if (after.cpuTicks > before.cpuTicks) return true;
  return before.ioBytes !== undefined && after.ioBytes !== undefined && after.ioBytes > before.ioBytes;
}
