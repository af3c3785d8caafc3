import { statfs } from 'node:fs/promises';

export interface DiskHealth {
  status: 'ok' | 'degraded' | 'down';
  reason: string;
  freeBytes?: number;
  totalBytes?: number;
}

const GiB = 1024 ** 3;

/** Free space under the data dir: a full disk stops ingest, so warn well before it. */
export async function diskHealth(path: string): Promise<DiskHealth> {
  try {
    const s = await statfs(path);
    const free = s.bavail * s.bsize;
    const total = s.blocks * s.bsize;
    const freeGiB = (free / GiB).toFixed(1);
    if (free < 0.5 * GiB) return { status: 'down', reason: `可用空间仅 ${freeGiB} GiB，导入会失败`, freeBytes: free, totalBytes: total };
    if (free < 5 * GiB || free / total < 0.05) return { status: 'degraded', reason: `可用空间 ${freeGiB} GiB（偏低）`, freeBytes: free, totalBytes: total };
    return { status: 'ok', reason: `可用空间 ${freeGiB} GiB`, freeBytes: free, totalBytes: total };
  } catch (e) {
    return { status: 'down', reason: `无法读取磁盘用量：${(e as Error).message}` };
  }
}
