import { pidAlive } from './run-lock.ts';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { readFile, rename, rm, stat } from 'node:fs/promises';
import { ApplianceError } from './errors.ts';

/**
 * An exclusive lock between processes on one machine: a lock file created with O_EXCL holding
 * the owner's pid. `archive serve` and console commands both append to the audit trail and change
 * the identity store in the same data dir; this lock makes each append / read-modify-write whole.
 *
 * A lock left by a crashed process (its pid is gone, or the file stayed empty for seconds) is
 * taken over. Known limit: two processes breaking the same stale lock at the same instant could
 * both proceed; the window is a few microseconds after a crash and both would still re-read
 * before writing.
 */
const held = new Map<string, Promise<void>>();
const STALE_EMPTY_MS = 5_000;

async function isStale(lockPath: string): Promise<boolean> {
  let text: string;
  let mtime: number;
  try {
    text = await readFile(lockPath, 'utf8');
    mtime = (await stat(lockPath)).mtimeMs;
  } catch {
    return false; // gone already: the next O_EXCL attempt decides
  }
  const [pidText, host] = text.split('\n');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return Date.now() - mtime > STALE_EMPTY_MS;
  if (host && host !== hostname()) return false; // never judge another machine's pid
  if (pid === process.pid) return true; // ours but not held in-process: left by a failed release
  return !pidAlive(pid);
}

/**
 * One attempt, synchronously: three small syscalls cost less than three trips through the thread
 * pool, and the audit trail takes this lock for every search it records (bench/search.ts).
 */
function tryAcquire(lockPath: string): boolean {
  let fd: number;
  try {
    fd = openSync(lockPath, 'wx', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    writeSync(fd, `${process.pid}\n${hostname()}\n${new Date().toISOString()}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

async function acquire(lockPath: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let wait = 2;
  for (;;) {
    if (tryAcquire(lockPath)) return;
    if (await isStale(lockPath)) {
      // Move aside rather than unlink, so a lock another process has just re-created is not removed twice.
      const aside = `${lockPath}.stale-${randomBytes(4).toString('hex')}`;
      await rename(lockPath, aside)
        .then(() => rm(aside, { force: true }))
        .catch(() => undefined);
      continue;
    }
    if (Date.now() > deadline) {
      throw new ApplianceError('LOCK_TIMEOUT', `等待文件锁超时：${lockPath}。若无其他 archive 进程在运行，可删除该文件后重试。`, `timed out waiting for lock ${lockPath}`, { status: 503 });
    }
    await new Promise((r) => setTimeout(r, wait));
    wait = Math.min(wait * 2, 50);
  }
}

/** Run fn while holding the lock: serialised within this process, exclusive across processes. */
export async function withFileLock<T>(lockPath: string, fn: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
  const before = held.get(lockPath) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((r) => (release = r));
  const chain = before.then(() => mine);
  held.set(lockPath, chain);
  await before;
  try {
    await acquire(lockPath, timeoutMs);
    try {
      return await fn();
    } finally {
      rmSync(lockPath, { force: true });
    }
  } finally {
    release();
    if (held.get(lockPath) === chain) held.delete(lockPath);
  }
}
