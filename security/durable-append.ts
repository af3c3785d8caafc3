import { fdatasync, fstatSync, ftruncateSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';

// fdatasync flushes the bytes and the file's new size (what reading them back needs), not its
// times: on appends of one record it cost a quarter of fsync's time here.
export const fdatasyncFd = promisify(fdatasync);

/**
 * Append `buf` to the file open at `fd` (opened for appending) and flush it. If any of it fails,
 * the file is cut back to its size before, so no half line is ever left for the next reader: the
 * audit records and the seals both rely on a whole last line.
 */
export async function appendFlushed(fd: number, buf: Buffer): Promise<void> {
  let size = -1;
  try {
    size = fstatSync(fd).size;
    for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off);
    await fdatasyncFd(fd);
  } catch (e) {
    if (size >= 0) {
      try {
        ftruncateSync(fd, size);
      } catch {
        /* the reader's tail check refuses what is left */
      }
    }
    throw e;
  }
}
