import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApplianceError } from './errors.ts';

export interface RunInfo {
  pid: number;
  httpAddr: string;
  startedAt: string;
}

function runFile(dataDir: string): string {
  return join(dataDir, 'run', 'appliance.json');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The running appliance for this data dir, if any (stale records from a crash are ignored). */
export async function runningAppliance(dataDir: string): Promise<RunInfo | undefined> {
  try {
    const info = JSON.parse(await readFile(runFile(dataDir), 'utf8')) as RunInfo;
    return info.pid && alive(info.pid) && info.pid !== process.pid ? info : undefined;
  } catch {
    return undefined;
  }
}

/** One `archive serve` per data dir: a second would fight the first over Meilisearch and the store. */
export interface RunLock {
  /** Record the address actually listened on (port 0 resolved), for console commands. */
  update(httpAddr: string): Promise<void>;
  release(): Promise<void>;
}

export async function acquireRunLock(dataDir: string, httpAddr: string): Promise<RunLock> {
  const other = await runningAppliance(dataDir);
  if (other) {
    throw new ApplianceError('ALREADY_RUNNING', `该数据目录已有设备服务在运行（进程 ${other.pid}，地址 ${other.httpAddr}）。`, `an appliance is already running on ${dataDir} (pid ${other.pid})`);
  }
  const info: RunInfo = { pid: process.pid, httpAddr, startedAt: new Date().toISOString() };
  await writeFile(runFile(dataDir), JSON.stringify(info), { mode: 0o600 });
  return {
    async update(addr) {
      info.httpAddr = addr;
      await writeFile(runFile(dataDir), JSON.stringify(info), { mode: 0o600 });
    },
    async release() {
      await rm(runFile(dataDir), { force: true });
    },
  };
}
