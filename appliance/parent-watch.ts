/**
 * `npx archive serve` (and `npm start`) run the appliance as npm → `sh -c archive …` → node.
 * A SIGTERM to npm (what a service manager or `kill` sends to the pid it started) ends npm and
 * its shell, but neither passes the signal on: the appliance would be re-parented and keep
 * running with its Meilisearch. So under npm the appliance watches its parent and stops cleanly
 * as soon as it changes. Node cannot exec(2) over npm's wrapper or ask for PR_SET_PDEATHSIG, and
 * the re-parenting is what every way of npm dying (TERM, KILL, HUP) has in common.
 *
 * Started any other way (systemd, a shell, nohup) the parent is not watched: there, being
 * re-parented is normal and says nothing about the operator's wish.
 */
export function underNpm(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.npm_execpath || env.npm_lifecycle_event);
}

/** Call `onOrphaned` once when this process's parent is no longer the one it started with. Returns a stop function. */
export function watchParent(onOrphaned: (was: number, now: number) => void, intervalMs = 1_000): () => void {
  const first = process.ppid;
  const timer = setInterval(() => {
    const now = process.ppid;
    if (now !== first) {
      clearInterval(timer);
      onOrphaned(first, now);
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
