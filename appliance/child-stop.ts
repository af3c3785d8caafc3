import type { ChildProcess } from 'node:child_process';

/** Stop a supervised child: SIGTERM, SIGKILL if it has not exited after `graceMs`; resolves once it has. */
export async function stopChild(child: ChildProcess | undefined, graceMs = 10_000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(killer);
}

/**
 * How long a supervisor waits after its child exits before calling it a crash: a Ctrl-C reaches the
 * whole process group, and the child can exit a moment before the appliance's own stop begins.
 */
export const EXIT_GRACE_MS = 300;
