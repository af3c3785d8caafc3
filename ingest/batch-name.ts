import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';

/**
 * The name a batch goes by: when the archivist hands over one folder (uploaded, named on the
 * command line or dropped into the hot folder), its name — 2014年文书 says more than a job id.
 * Several loose entries have no one name.
 */
export async function batchName(paths: string[]): Promise<string | undefined> {
  if (paths.length !== 1) return undefined;
  const p = resolve(paths[0]);
  const st = await stat(p).catch(() => undefined);
  if (!st?.isDirectory()) return undefined;
  const name = basename(p);
  return name && name !== '/' ? name.slice(0, 200) : undefined;
}
