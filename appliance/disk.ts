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
    if (free < 0.5 * GiB) return { status: 'down', reason: `only ${freeGiB} GiB free`, freeBytes: free, totalBytes: total };
    if (free < 5 * GiB || free / total < 0.05) return { status: 'degraded', reason: `${freeGiB} GiB free (low)`, freeBytes: free, totalBytes: total };
    return { status: 'ok', reason: `${freeGiB} GiB free`, freeBytes: free, totalBytes: total };
  } catch (e) {
    return { status: 'down', reason: `cannot read disk usage: ${(e as Error).message}` };
  }
}
