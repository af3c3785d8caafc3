import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * SHA-256 and size of a file, read in 1 MiB pieces (no whole-file buffering). With `sync`, also
 * fsync it: the item store hashes every file once before its rename, and that pass is where it
 * makes sure the bytes are on disk.
 */
export async function fileDigest(path: string, opts: { sync?: boolean } = {}): Promise<{ sha256: string; size: number }> {
  const fh = await open(path, 'r');
  try {
    const h = createHash('sha256');
    const buf = Buffer.allocUnsafe(1 << 20);
    let size = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
      size += bytesRead;
    }
    if (opts.sync) await fh.sync();
    return { sha256: h.digest('hex'), size };
  } finally {
    await fh.close();
  }
}

/** SHA-256 of a file (see fileDigest). */
export async function sha256File(path: string, opts: { sync?: boolean } = {}): Promise<string> {
  return (await fileDigest(path, opts)).sha256;
}

/** Whether anything exists at `path` (a missing parent or no permission count as no). */
export function pathExists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Write a file so that it is either the old content or the new, never half: temp file in the
 * same directory, fsync, rename, fsync the directory.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  // Folders it has to make are private like the data dir (selfcheck fails a 0755 one there).
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = join(dirname(path), `.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await fsyncDir(dirname(path));
}

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
