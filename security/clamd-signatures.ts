import { ApplianceError } from '../core/index.ts';
import { clamdCommand } from './clamd-address.ts';

/** What clamd says about itself: engine version and the signature database it has loaded. */
export interface SignatureStatus {
  /** Engine version, e.g. "1.4.6". */
  engine: string;
  /** Version of the daily database (absent when only custom databases are loaded, as in tests). */
  signatureVersion?: number;
  /** Build time of that database as clamd reports it (ISO 8601). */
  signatureDate?: string;
  /** Whole days between signatureDate and now. */
  ageDays?: number;
  /** The raw VERSION reply, for logs. */
  raw: string;
}

/**
 * Parse a VERSION reply: "ClamAV 1.4.6/27100/Mon Nov 23 09:00:00 2026" with official databases,
 * "ClamAV 1.4.6" with only custom ones. Anything else is not clamd and is rejected.
 */
export function parseClamdVersion(reply: string, now: Date = new Date()): SignatureStatus {
  const raw = reply.trim();
  const m = /^ClamAV ([0-9][0-9A-Za-z.+~-]*)(?:\/(\d+)\/(.+))?$/.exec(raw);
  if (!m) {
    throw new ApplianceError('SCAN_FAILED', `病毒扫描服务返回了无法识别的版本信息：${raw.slice(0, 80)}`, `unrecognised clamd VERSION reply: ${raw.slice(0, 80)}`, {
      status: 502,
      details: { reply: raw.slice(0, 200), retryable: true },
    });
  }
  const status: SignatureStatus = { engine: m[1], raw };
  if (m[2]) status.signatureVersion = Number(m[2]);
  if (m[3]) {
    // clamd prints ctime() in the machine's local time; Date parses that form as local time too.
    const t = new Date(m[3]);
    if (!Number.isNaN(t.getTime())) {
      status.signatureDate = t.toISOString();
      status.ageDays = Math.max(0, Math.floor((now.getTime() - t.getTime()) / 86_400_000));
    }
  }
  return status;
}

/** Ask clamd (VERSION) which engine and signatures it runs. Throws SCANNER_UNAVAILABLE if it is not there. */
export async function clamdSignatures(address: string, timeoutMs = 3_000): Promise<SignatureStatus> {
  let reply: string;
  try {
    reply = await clamdCommand(address, 'VERSION', timeoutMs);
  } catch (e) {
    throw scannerUnavailable(address, e);
  }
  return parseClamdVersion(reply);
}

/**
 * Check, before a job starts, that the configured clamd answers PING with PONG. Fails closed:
 * anything but PONG is SCANNER_UNAVAILABLE, and the caller must not proceed.
 */
export async function assertScannerReady(address: string, timeoutMs = 3_000): Promise<SignatureStatus> {
  let pong: string;
  try {
    pong = await clamdCommand(address, 'PING', timeoutMs);
  } catch (e) {
    throw scannerUnavailable(address, e);
  }
  if (pong.trim() !== 'PONG') throw scannerUnavailable(address, new Error(`unexpected reply to PING: ${pong.slice(0, 80)}`));
  return clamdSignatures(address, timeoutMs);
}

export function scannerUnavailable(address: string, cause: unknown): ApplianceError {
  const why = (cause as Error)?.message ?? String(cause);
  return new ApplianceError('SCANNER_UNAVAILABLE', `病毒扫描服务（clamd）不可用：${address}。文件未被处理，待扫描服务恢复后将继续。`, `clamd unavailable at ${address}: ${why}`, {
    status: 503,
    cause,
    details: { address, reason: why, retryable: true },
  });
}
