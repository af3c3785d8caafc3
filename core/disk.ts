import { statfs } from 'node:fs/promises';
import type { Config } from './config.ts';
import { ApplianceError } from './errors.ts';

export interface DiskHealth {
  status: 'ok' | 'degraded' | 'down';
  reason: string;
  freeBytes?: number;
  totalBytes?: number;
}

const GiB = 1024 ** 3;

/** The thresholds of Config.disk (defaults when not given: degraded < 5 GiB or < 5 %, work refused < 1 GiB). */
export type DiskThresholds = Config['disk'];
const DEFAULTS: DiskThresholds = { degradedBelowGiB: 5, degradedBelowPercent: 5, refuseWorkBelowGiB: 1, auditReserveMiB: 64 };

/**
 * Free space under the data dir: a full disk would stop every action (each needs its audit
 * record), so health warns well before it, and below refuseWorkBelowGiB new work is refused while
 * the audit trail keeps writing (with its reserve behind it, `reserveInUse` once given back).
 */
export async function diskHealth(path: string, t: DiskThresholds = DEFAULTS, reserveInUse = false): Promise<DiskHealth> {
  try {
    const s = await statfs(path);
    const free = s.bavail * s.bsize;
    const total = s.blocks * s.bsize;
    const freeGiB = (free / GiB).toFixed(1);
    const low = `低于 ${t.degradedBelowGiB} GiB 或 ${t.degradedBelowPercent}% 时提示`;
    if (free < 0.5 * GiB) return { status: 'down', reason: `可用空间仅 ${freeGiB} GiB，导入会失败`, freeBytes: free, totalBytes: total };
    if (reserveInUse) return { status: 'degraded', reason: `磁盘曾写满，审计预留空间已动用（可用 ${freeGiB} GiB）：请清理空间`, freeBytes: free, totalBytes: total };
    if (free < t.refuseWorkBelowGiB * GiB) return { status: 'degraded', reason: `可用空间仅 ${freeGiB} GiB：已暂停接收新的导入，审计照常记录`, freeBytes: free, totalBytes: total };
    if (free < t.degradedBelowGiB * GiB || free / total < t.degradedBelowPercent / 100)
      return { status: 'degraded', reason: `可用空间 ${freeGiB} GiB（偏低，${low}）`, freeBytes: free, totalBytes: total };
    return { status: 'ok', reason: `可用空间 ${freeGiB} GiB`, freeBytes: free, totalBytes: total };
  } catch (e) {
    return { status: 'down', reason: `无法读取磁盘用量：${(e as Error).message}` };
  }
}

/**
 * Non-essential work (new ingest jobs, re-OCR) is refused when the data dir's filesystem is below
 * refuseWorkBelowGiB: the room left belongs to the audit trail and to the jobs already running.
 */
export async function assertRoomForWork(dataDir: string, t: DiskThresholds = DEFAULTS): Promise<void> {
  let free: number;
  try {
    const s = await statfs(dataDir);
    free = s.bavail * s.bsize;
  } catch {
    return; // unreadable usage is reported by health; the writes themselves still fail closed
  }
  if (free < t.refuseWorkBelowGiB * GiB) {
    throw new ApplianceError(
      'DISK_LOW',
      `数据目录所在磁盘可用空间仅 ${(free / GiB).toFixed(2)} GiB（低于 ${t.refuseWorkBelowGiB} GiB），暂停接收新的导入，以保证审计记录可写。请系统管理员清理空间或扩容。`,
      `data dir below ${t.refuseWorkBelowGiB} GiB free: new work refused`,
      { status: 507, details: { freeBytes: free } },
    );
  }
}
