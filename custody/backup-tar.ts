import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { Header, Pax } from 'tar';
import { ApplianceError } from '../core/index.ts';

/**
 * Writing the backup's tar ourselves (with npm tar's Header/Pax encoders) instead of tar.c: each
 * file is read once, and the SHA-256 that goes into the manifest is of exactly the bytes that went
 * into the archive. A file is read up to the size recorded when the backup started (an audit file
 * appended to meanwhile contributes its snapshot, never half a line), and only regular files with
 * relative paths are written: the archive never holds a link, a device or an absolute path.
 */
export interface TarSource {
  /** Path inside the archive, "/"-separated, relative. */
  path: string;
  size: number;
  mtime: Date;
  /** In-memory content (small files read consistently up front), else read from `file`. */
  data?: Buffer;
  file?: string;
}

export interface TarWritten {
  path: string;
  size: number;
  sha256: string;
}

const BLOCK = 512;
const READ = 2 * 1024 * 1024;

export function tarHeader(path: string, size: number, mtime: Date): Buffer {
  const h = new Header({ path, mode: 0o600, size, mtime, type: 'File', uid: 0, gid: 0 });
  const parts: Buffer[] = [];
  if (h.encode()) parts.push(new Pax({ path, size, mtime }).encode());
  parts.push(h.block!);
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}

/** Buffers fresh from disk that nothing else holds: the consumer may take their memory over. */
const readBuffers = new WeakSet<Buffer>();
export const isReadBuffer = (b: Buffer): boolean => readBuffers.has(b);

const padding = (size: number) => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);

/** The blocks of one entry; calls done() with its hash once the last byte is out. */
export async function* tarEntry(src: TarSource, done: (w: TarWritten) => void, progress?: (n: number) => void): AsyncGenerator<Buffer> {
  yield tarHeader(src.path, src.size, src.mtime);
  const h = createHash('sha256');
  if (src.data) {
    h.update(src.data);
    yield src.data;
    progress?.(src.data.length);
  } else {
    const fh = await open(src.file!, 'r').catch((e: Error) => {
      throw sourceChanged(src.path, `cannot open: ${e.message}`);
    });
    // One read ahead: the next block is on its way from disk while this one is hashed, encrypted
    // and written (without it the pipeline sat idle on every read). A fresh buffer each time:
    // downstream may still hold the previous one.
    const readNext = (left: number) => {
      const buf = Buffer.allocUnsafe(Math.min(READ, left));
      return fh.read(buf, 0, buf.length, null).then(({ bytesRead }) => (bytesRead === buf.length ? buf : buf.subarray(0, bytesRead)));
    };
    let left = src.size;
    let next = left > 0 ? readNext(left) : undefined;
    try {
      while (next) {
        const part = await next;
        next = undefined;
        if (part.length === 0) throw sourceChanged(src.path, `shorter than its ${src.size} bytes`);
        left -= part.length;
        if (left > 0) next = readNext(left);
        h.update(part);
        progress?.(part.length);
        readBuffers.add(part);
        yield part;
      }
    } finally {
      await next?.catch(() => undefined);
      await fh.close();
    }
  }
  const pad = padding(src.size);
  if (pad.length) yield pad;
  done({ path: src.path, size: src.size, sha256: h.digest('hex') });
}

/** Files up to this size are read whole, several ahead of the one being written. */
const WHOLE_FILE = 8 * 1024 * 1024;
const AHEAD_FILES = 16;
const AHEAD_BYTES = 32 * 1024 * 1024;

async function readWhole(src: TarSource): Promise<Buffer> {
  const fh = await open(src.file!, 'r').catch((e: Error) => {
    throw sourceChanged(src.path, `cannot open: ${e.message}`);
  });
  try {
    // Its own memory (never the shared pool), so the consumer may take it over.
    const buf = Buffer.allocUnsafeSlow(src.size);
    let off = 0;
    while (off < src.size) {
      const { bytesRead } = await fh.read(buf, off, src.size - off, off);
      if (bytesRead === 0) throw sourceChanged(src.path, `shorter than its ${src.size} bytes`);
      off += bytesRead;
    }
    readBuffers.add(buf);
    return buf;
  } finally {
    await fh.close();
  }
}

/**
 * The entries of many sources in order. Small files are read whole up to AHEAD_FILES ahead:
 * an archive is mostly page images of a few hundred KB, and one open-read-close at a time left
 * the reader waiting on the disk between every two of them.
 */
export async function* tarEntries(sources: TarSource[], done: (w: TarWritten) => void, progress?: (n: number) => void): AsyncGenerator<Buffer> {
  const ahead = new Map<number, Promise<Buffer>>();
  let next = 0;
  let aheadBytes = 0;
  for (let i = 0; i < sources.length; i++) {
    next = Math.max(next, i);
    while (next < sources.length && ahead.size < AHEAD_FILES && aheadBytes < AHEAD_BYTES) {
      const s = sources[next];
      if (s.file && !s.data && s.size > 0 && s.size <= WHOLE_FILE) {
        const p = readWhole(s);
        p.catch(() => undefined); // awaited in turn below; a read left behind by an abort is not "unhandled"
        ahead.set(next, p);
        aheadBytes += s.size;
      }
      next++;
    }
    const pending = ahead.get(i);
    if (pending) {
      ahead.delete(i);
      aheadBytes -= sources[i].size;
      yield* tarEntry({ ...sources[i], data: await pending }, done, progress);
    } else yield* tarEntry(sources[i], done, progress);
  }
}

/** Two zero blocks end a tar archive. */
export const TAR_END = Buffer.alloc(BLOCK * 2);

function sourceChanged(path: string, why: string): ApplianceError {
  return new ApplianceError('BACKUP_SOURCE_CHANGED', `备份期间文件 ${path} 被截短或移除，备份已中止（未生成备份文件），请重试。`, `${path} changed during backup: ${why}`, {
    status: 409,
    details: { path },
  });
}
