import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';

/**
 * Stops a child left running by an appliance that was killed (it would hold a socket or a
 * database lock): the pid in `pidFile`, only if its command line is still that child's (`isOurs`:
 * a pid reused by another process is left alone). Waits up to 5 s for it to be gone.
 */
export async function stopLeftover(pidFile: string, isOurs: (cmdline: string[]) => boolean, log: Logger, component: string): Promise<void> {
  let pid: number;
  try {
    pid = Number((await readFile(pidFile, 'utf8')).trim());
  } catch {
    return;
  }
  if (!pid) return;
  try {
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    if (!isOurs(cmdline)) return;
    log.warn({ component, pid }, `stopping ${component} left over from a previous run`);
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 50; i++) {
      await new Promise((r) => setTimeout(r, 100));
      process.kill(pid, 0);
    }
  } catch {
    /* gone */
  }
}
