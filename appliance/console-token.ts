import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The console's key to the full health report. `archive serve` writes a fresh random token to
 * run/console-token (0600, in the 0700 data dir) at every start; `archive status` reads it and
 * sends it with GET /api/health. Whoever can read the data dir (root, the service user) is at
 * the console already; a browser or another machine gets ok / degraded / down only.
 */
function tokenPath(dataDir: string): string {
  return join(dataDir, 'run', 'console-token');
}

export async function issueConsoleToken(dataDir: string): Promise<{ token: string; remove(): Promise<void> }> {
  const token = randomBytes(32).toString('base64url');
  const path = tokenPath(dataDir);
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${token}\n`, { mode: 0o600, flag: 'w' });
  await rename(tmp, path);
  return {
    token,
    async remove() {
      // Only our own: a second appliance cannot run on this data dir, but be exact anyway.
      if ((await readConsoleToken(dataDir)) === token) await rm(path, { force: true });
    },
  };
}

export async function readConsoleToken(dataDir: string): Promise<string | undefined> {
  try {
    return (await readFile(tokenPath(dataDir), 'utf8')).trim() || undefined;
  } catch {
    return undefined;
  }
}
