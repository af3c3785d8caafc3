import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApplianceError } from './errors.ts';

/** Whether a process with this pid exists (EPERM: it does, under another user). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The live holder of a pid lock file (records left by a crashed process are ignored). */
export async function lockHolder<T extends { pid: number }>(path: string): Promise<T | undefined> {
  try {
    const info = JSON.parse(await readFile(path, 'utf8')) as T;
    return info.pid && pidAlive(info.pid) ? info : undefined;
  } catch {
    return undefined;
  }
}

export interface PidLock<T> {
  update(info: Partial<T>): Promise<void>;
  release(): Promise<void>;
}

/**
 * A lock held by a live process: a file with the holder's pid, created exclusively. A file left
 * by a process that no longer runs is taken over, so a crash never blocks the next start.
 */
export async function acquirePidLock<T extends object>(path: string, info: T, busy: (holder: T & { pid: number }) => ApplianceError): Promise<PidLock<T>> {
  const record = { ...info, pid: process.pid };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(path, JSON.stringify(record), { mode: 0o600, flag: 'wx' });
      return {
        async update(more) {
          Object.assign(record, more);
          await writeFile(path, JSON.stringify(record), { mode: 0o600 });
        },
        async release() {
          const holder = await lockHolder<{ pid: number }>(path);
          if (!holder || holder.pid === process.pid) await rm(path, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = await lockHolder<T & { pid: number }>(path);
      if (holder && holder.pid !== process.pid) throw busy(holder);
      await rm(path, { force: true });
    }
  }
  throw busy({ ...record });
}

export interface RunInfo {
  pid: number;
  httpAddr: string;
  /** https://… outside loopback (absent from appliances started before TLS). */
  url?: string;
  startedAt: string;
}

function runFile(dataDir: string): string {
  return join(dataDir, 'run', 'appliance.json');
}

/** The running appliance for this data dir, if any. */
export async function runningAppliance(dataDir: string): Promise<RunInfo | undefined> {
  const info = await lockHolder<RunInfo>(runFile(dataDir));
  return info && info.pid !== process.pid ? info : undefined;
}

/** One `archive serve` per data dir: a second would fight the first over Meilisearch and the store. */
export function acquireRunLock(dataDir: string, httpAddr: string): Promise<PidLock<Omit<RunInfo, 'pid'>>> {
  return acquirePidLock(
    runFile(dataDir),
    { httpAddr, startedAt: new Date().toISOString() },
    (other) => new ApplianceError('ALREADY_RUNNING', `该数据目录已有设备服务在运行（进程 ${other.pid}，地址 ${other.httpAddr}）。`, `an appliance is already running on ${dataDir} (pid ${other.pid})`),
  );
}
