import { fileDigest } from '../core/index.ts';
import type { JobSource } from './jobs.ts';

/**
 * The first of an item's staged copies whose bytes are no longer those received (hashed at
 * intake, ingest/stage-file.ts), or undefined when all still are. A copy that cannot be read
 * counts as changed. The runner asks this just before OCR opens the files: the virus gate's
 * verdict holds for the bytes it was sent, which were the received ones (the scan hashes them
 * too), so bytes that still hash the same are bytes the gate passed.
 */
export async function changedStaged(files: readonly string[], sources: readonly JobSource[]): Promise<string | undefined> {
  for (const [i, file] of files.entries()) {
    const now = await fileDigest(file).catch(() => undefined);
    if (!now || now.sha256 !== sources[i].sha256.toLowerCase() || now.size !== sources[i].bytes) return sources[i].name;
  }
  return undefined;
}
