import { createHash } from 'node:crypto';
import { close as fsClose, constants, futimes as fsFutimes, open as fsOpen, writev as fsWritev } from 'node:fs';
import { lstat, mkdir, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { Parser, type ReadEntry } from 'tar';
import { ApplianceError, isApplianceError } from '../core/index.ts';
import { BACKUP_INFO, BACKUP_MANIFEST, manifestMismatch, unsafeEntry, unsafeEntryError } from './backup-entries.ts';

/**
 * A restore's unpacking, in place of tar.extract: the authenticated plaintext is parsed here (as
 * verify parses it), every entry hashed as it goes by, and the same bytes written to a new file
 * in the staging folder by the thread pool while the main thread parses and hashes on and the
 * opening worker decrypts on. The hashes are of exactly the bytes handed to the kernel (each write
 * checked for its full length), so the files need not be read back to be hashed again: that pass
 * (the whole restore once more through SHA-256) was most of a restore's time. What is on disk is
 * then listed and compared with what was written, name and size, before anything is believed.
 *
 * Only regular files and folders are made, each file created new (O_EXCL, never through a link)
 * inside a staging folder this restore made itself, mode 0600 (folders 0700).
 */
export interface Unpacked {
  /** Path → size and SHA-256 of what was written, every file of the archive. */
  seen: Map<string, { size: number; sha256: string }>;
  /** Paths in archive order. */
  order: string[];
  /** backup.json and manifest.jsonl as they came (also on disk). */
  infoText?: string;
  manifestText?: string;
}

/** A file's parts are gathered up to this, then written with one writev. */
const WRITE_AT_ONCE = 4 * 1024 * 1024;
/** Plaintext parsed but not yet written: past this the parser waits for the disk. */
const PENDING_BYTES = 64 * 1024 * 1024;
/** Files open at once (each is open from its first byte to its last write). */
const PENDING_FILES = 64;
const KEEP_LIMIT = 512 * 1024 * 1024;

class Staging {
  pendingBytes = 0;
  openFiles = 0;
  failure?: unknown;
  private readonly dirs = new Map<string, Promise<unknown>>();
  private readonly running = new Set<Promise<void>>();
  /** Files begun whose entry has not ended (an aborted parse leaves some: they are closed at the end). */
  readonly unfinished = new Set<FileOut>();
  private waiters: Array<() => void> = [];

  constructor(readonly root: string) {
    this.dirs.set('.', Promise.resolve());
  }

  fail(e: unknown): void {
    this.failure ??= e;
    this.wake();
  }

  wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  full(): boolean {
    return this.pendingBytes > PENDING_BYTES || this.openFiles > PENDING_FILES;
  }

  /** Resolves once the disk has caught up enough to take more, or something failed. */
  async room(): Promise<void> {
    while (!this.failure && this.full()) await new Promise<void>((r) => this.waiters.push(r));
  }

  folder(rel: string): Promise<unknown> {
    let p = this.dirs.get(rel);
    if (!p) {
      p = this.folder(dirname(rel)).then(() =>
        mkdir(join(this.root, rel), { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => (e.code === 'EEXIST' ? assertDir(join(this.root, rel)) : Promise.reject(e))),
      );
      this.dirs.set(rel, p);
    }
    return p;
  }

  track(p: Promise<void>): void {
    const t = p.catch((e: unknown) => this.fail(e)).finally(() => this.running.delete(t));
    this.running.add(t);
  }

  /** Every write started has ended (so nothing lands in the staging folder after this). */
  async settled(): Promise<void> {
    while (this.running.size) await Promise.all([...this.running]);
  }
}

async function assertDir(path: string): Promise<void> {
  if (!(await lstat(path)).isDirectory()) throw Object.assign(new Error(`${path} exists and is not a folder`), { code: 'ENOTDIR' });
}

const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** One file being written: parts gathered and written in order, its mtime set, then closed. */
class FileOut {
  private parts: Buffer[] = [];
  private bytes = 0;
  private chain: Promise<number>;

  constructor(
    private readonly s: Staging,
    private readonly rel: string,
  ) {
    s.openFiles++;
    s.unfinished.add(this);
    this.chain = s.folder(dirname(rel)).then(() => fdOpen(join(s.root, rel)));
    // A failure is known at once (the parser stops feeding), not only when the entry ends.
    this.chain.catch((e: unknown) => s.fail(e));
  }

  add(d: Buffer): void {
    this.parts.push(d);
    this.bytes += d.length;
    this.s.pendingBytes += d.length;
    if (this.bytes >= WRITE_AT_ONCE) this.flush();
  }

  private flush(): void {
    if (!this.bytes) return;
    const parts = this.parts;
    const n = this.bytes;
    this.parts = [];
    this.bytes = 0;
    const written = this.chain.then(async (fd) => {
      try {
        await writeAll(fd, parts, n);
      } catch (e) {
        await fdClose(fd).catch(() => undefined);
        throw e;
      }
      return fd;
    });
    written
      .catch((e: unknown) => this.s.fail(e))
      .finally(() => {
        this.s.pendingBytes -= n;
        this.s.wake();
      });
    this.chain = written;
  }

  end(mtime: Date | undefined): void {
    if (!this.s.unfinished.delete(this)) return;
    this.flush();
    const done = this.chain.then(async (fd) => {
      try {
        if (mtime) await fdTimes(fd, mtime);
      } finally {
        await fdClose(fd);
      }
    });
    this.s.track(
      done.finally(() => {
        this.s.openFiles--;
        this.s.wake();
      }),
    );
  }
}

// Plain descriptors and callbacks, not FileHandle: four calls per file, and the promise API's
// handle objects cost more main-thread time than the calls themselves.
const fdOpen = (path: string) => new Promise<number>((res, rej) => fsOpen(path, CREATE, 0o600, (e, fd) => (e ? rej(e) : res(fd))));
const fdWritev = (fd: number, parts: Buffer[]) => new Promise<number>((res, rej) => fsWritev(fd, parts, (e, n) => (e ? rej(e) : res(n))));
const fdTimes = (fd: number, t: Date) => new Promise<void>((res, rej) => fsFutimes(fd, t, t, (e) => (e ? rej(e) : res())));
const fdClose = (fd: number) => new Promise<void>((res, rej) => fsClose(fd, (e) => (e ? rej(e) : res())));

async function writeAll(fd: number, parts: Buffer[], n: number): Promise<void> {
  let left = n;
  while (left > 0) {
    const bytesWritten = await fdWritev(fd, parts);
    if (bytesWritten <= 0) throw new Error(`write returned ${bytesWritten}`);
    left -= bytesWritten;
    if (left === 0) return;
    // A short write: go on from where it stopped.
    let skip = bytesWritten;
    while (skip >= parts[0].length) skip -= parts.shift()!.length;
    parts[0] = parts[0].subarray(skip);
  }
}

/**
 * Parse `plaintext` (a backup's authenticated tar) into `dir`, a folder this restore has just made
 * and that nobody else writes into. Throws the first problem: an unsafe entry (BACKUP_UNSAFE_ENTRY),
 * a tar that does not parse, a duplicate entry, or a write that fails (RESTORE_WRITE_FAILED). It
 * returns, or throws, only once every write it started has ended.
 */
export async function unpackBackup(plaintext: Readable, dir: string): Promise<Unpacked> {
  const s = new Staging(dir);
  const seen = new Map<string, { size: number; sha256: string }>();
  const order: string[] = [];
  const out: Unpacked = { seen, order };
  const parser = new Parser({ strict: true });
  const fail = (e: unknown) => {
    s.fail(e);
    parser.abort(e as Error);
  };
  parser.on('entry', (entry: ReadEntry) => {
    const path = entry.path;
    const why = unsafeEntry(path, entry.type);
    if (why || s.failure) {
      if (why) fail(unsafeEntryError(path, why));
      entry.resume();
      return;
    }
    if (entry.type === 'Directory') {
      s.track(s.folder(path.replace(/\/$/, '')).then(() => undefined));
      return entry.resume();
    }
    const f = new FileOut(s, path);
    const h = createHash('sha256');
    const keep = path === BACKUP_INFO || path === BACKUP_MANIFEST;
    const kept: Buffer[] = [];
    let n = 0;
    entry.on('data', (d: Buffer) => {
      h.update(d);
      n += d.length;
      f.add(d);
      if (keep && n <= KEEP_LIMIT) kept.push(d);
    });
    entry.on('end', () => {
      f.end(entry.mtime);
      order.push(path);
      seen.set(path, { size: n, sha256: h.digest('hex') });
      if (path === BACKUP_INFO) out.infoText = Buffer.concat(kept).toString('utf8');
      else if (path === BACKUP_MANIFEST) out.manifestText = Buffer.concat(kept).toString('utf8');
    });
  });
  const tarError = (code: string, msg: unknown) => manifestMismatch(`tar 结构错误（${code}）`, `tar: ${code} ${String(msg)}`);
  parser.on('warn', (code: string, msg: string | Error) => fail(tarError(code, msg)));
  const ended = new Promise<void>((resolve, reject) => {
    parser.on('end', resolve);
    parser.on('abort', reject);
    parser.on('error', reject);
  });
  ended.catch(() => undefined); // looked at below only when nothing else failed first
  try {
    // Fed by hand, not piped: the parser gets no more while the disk is behind (it parses, hashes
    // and queues synchronously in write()). Chunk by chunk as pushed ('data'): an async iterator
    // reads the stream's whole buffer at once, and concatenating it copied every byte once more.
    await new Promise<void>((resolve, reject) => {
      const stop = (e: unknown) => {
        plaintext.destroy();
        reject(e);
      };
      plaintext.on('data', (chunk: Buffer) => {
        try {
          parser.write(chunk);
        } catch (e) {
          return stop(e);
        }
        if (s.failure) return stop(s.failure);
        if (s.full()) {
          plaintext.pause();
          void s.room().then(() => (s.failure ? stop(s.failure) : plaintext.resume()));
        }
      });
      plaintext.on('error', reject);
      plaintext.on('end', resolve);
    });
    parser.end();
    await ended;
  } catch (e) {
    // In strict mode tar throws some structure errors instead of warning about them.
    const code = (e as { code?: unknown }).code;
    if (!s.failure && !isApplianceError(e) && typeof code === 'string' && code.startsWith('TAR_')) s.fail(tarError(code, (e as Error).message));
    else s.fail(e);
  }
  // An entry cut off by an abort: its file is closed (the staging folder goes with the failure).
  for (const f of [...s.unfinished]) f.end(undefined);
  await s.settled();
  if (s.failure) throw writeError(s.failure);
  await compareWithDisk(dir, seen);
  return out;
}

function writeError(e: unknown): unknown {
  if (isApplianceError(e)) return e;
  const err = e as NodeJS.ErrnoException;
  // The staging folder is new and only this restore writes to it: a file already there is a second entry of the same name.
  if (err.code === 'EEXIST' || err.code === 'EISDIR' || err.code === 'ENOTDIR' || err.code === 'ELOOP') return manifestMismatch('有重复的条目', `duplicate entry: ${err.message}`);
  if (typeof err.code === 'string' && !err.code.startsWith('ERR_')) {
    return new ApplianceError('RESTORE_WRITE_FAILED', `写入恢复数据失败：${err.message}。请检查目标磁盘是否已满或只读；恢复未完成，已写入的临时内容已删除。`, `restore write failed: ${err.message}`, {
      status: 500,
      details: { code: err.code },
    });
  }
  return e;
}

/** What is in the staging folder is exactly what was written: the same files, the same sizes, nothing else. */
async function compareWithDisk(dir: string, seen: Map<string, { size: number; sha256: string }>): Promise<void> {
  const found = new Map<string, number>();
  const walk = async (rel: string): Promise<void> => {
    for (const d of await readdir(join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) await walk(r);
      else if (d.isFile()) found.set(r, -1);
      else throw unsafeEntryError(r, 'entry type link is not allowed');
    }
  };
  await walk('');
  const paths = [...found.keys()];
  await Promise.all(
    Array.from({ length: 8 }, async (_, lane) => {
      for (let i = lane; i < paths.length; i += 8) {
        const st = await lstat(join(dir, paths[i]));
        if (!st.isFile()) throw unsafeEntryError(paths[i], 'entry type link is not allowed');
        found.set(paths[i], st.size);
      }
    }),
  );
  for (const [p, size] of found) {
    const w = seen.get(p);
    if (!w) throw manifestMismatch(`恢复目录中多出未写入的文件 ${p}`, `unexpected file in staging: ${p}`, { path: p });
    if (w.size !== size) throw manifestMismatch(`文件 ${p} 写入后大小不符`, `size on disk differs: ${p}`, { path: p });
  }
  for (const p of seen.keys()) if (!found.has(p)) throw manifestMismatch(`缺少文件 ${p}`, `missing on disk: ${p}`, { path: p });
}
