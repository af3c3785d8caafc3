import { constants } from 'node:fs';
import { open, readlink, type FileHandle } from 'node:fs/promises';

/**
 * Links and special files are refused at every door. Planning already looks with
 * lstat, but a file can be swapped for a link between planning and copying: the check that counts
 * is made on the file actually opened. O_NOFOLLOW refuses a link in the last component, fstat of
 * the opened descriptor refuses anything that is not a regular file (a FIFO is opened
 * non-blocking so it cannot hang the intake), and the descriptor's own path (/proc/self/fd)
 * must be exactly the path planned, so a folder on the way swapped for a link is refused too.
 */
export type RefusedKind = 'link' | 'special';

export class RefusedFile extends Error {
  constructor(
    readonly kind: RefusedKind,
    readonly path: string,
  ) {
    super(kind === 'link' ? `symbolic link refused: ${path}` : `not a regular file: ${path}`);
  }
}

/**
 * Open `path` for reading only if it is a regular file reached without following any link.
 * `exact`: the path is canonical (its batch root resolved once, nothing below it a link), so the
 * opened file's real path must equal it.
 */
export async function openRegularNoFollow(path: string, exact: boolean): Promise<FileHandle> {
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') throw new RefusedFile('link', path);
    throw e;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new RefusedFile('special', path);
    if (exact) {
      const actual = await readlink(`/proc/self/fd/${fh.fd}`);
      if (actual !== path) throw new RefusedFile('link', path);
    }
    return fh;
  } catch (e) {
    await fh.close();
    throw e;
  }
}
