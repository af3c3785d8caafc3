// A page's module is fetched the first time the page is opened. While the appliance restarts that
// fetch fails (import() rejects with a TypeError); the page should come back by itself once the
// appliance answers again, not stay broken until someone reloads. No DOM here: tested in Node.

/** Wait before each new try: quick at first, then every 5 s. */
export function retryDelay(failures) {
  return Math.min(250 * 2 ** (failures - 1), 5_000);
}

/** How long to keep trying before asking the person to reload later (a restart takes far less). */
export const GIVE_UP_AFTER_MS = 120_000;

/** import() could not fetch the module (network, restart); a syntax or evaluation error is not retried. */
export function isFetchFailure(e) {
  return e instanceof TypeError;
}

/**
 * Import a page's module, trying again while the fetch fails.
 * Resolves { module } when it arrived, { stale: true } once stillWanted() says the address moved on,
 * and { unavailable: error } after GIVE_UP_AFTER_MS of failures. onWaiting() runs after every failed try.
 */
export async function importPage(load, { stillWanted, onWaiting, sleep = (ms) => new Promise((r) => setTimeout(r, ms)), now = () => Date.now(), giveUpAfterMs = GIVE_UP_AFTER_MS }) {
  const started = now();
  for (let failures = 1; ; failures++) {
    try {
      return { module: await load() };
    } catch (e) {
      if (!isFetchFailure(e)) throw e;
      if (!stillWanted()) return { stale: true };
      if (now() - started >= giveUpAfterMs) return { unavailable: e };
      onWaiting();
      await sleep(retryDelay(failures));
      if (!stillWanted()) return { stale: true };
    }
  }
}
