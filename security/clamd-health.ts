import { clamdCommand } from './clamd-address.ts';
import { parseClamdVersion, type SignatureStatus } from './clamd-signatures.ts';

export interface ClamdHealth {
  status: 'ok' | 'degraded' | 'down';
  reason: string;
  version?: string;
  /** Engine and signature database version, date and age (from the same VERSION reply). */
  signatures?: SignatureStatus;
}

/**
 * Signatures older than this make the scanner "degraded": it still scans (nothing stops), but the
 * security officer should import fresh signatures from approved media.
 */
export const SIGNATURE_MAX_AGE_DAYS = 30;

/** PING and VERSION: is the scanner there, and which signatures does it hold. */
export async function clamdHealth(address: string, opts: { maxAgeDays?: number; now?: Date } = {}): Promise<ClamdHealth> {
  const maxAgeDays = opts.maxAgeDays ?? SIGNATURE_MAX_AGE_DAYS;
  try {
    const pong = await clamdCommand(address, 'PING');
    if (pong.trim() !== 'PONG') return { status: 'down', reason: `unexpected reply to PING: ${pong.slice(0, 80)}` };
    const version = (await clamdCommand(address, 'VERSION')).trim();
    let signatures: SignatureStatus;
    try {
      signatures = parseClamdVersion(version, opts.now);
    } catch {
      return { status: 'down', reason: `unexpected reply to VERSION: ${version.slice(0, 80)}`, version };
    }
    if (signatures.ageDays !== undefined && signatures.ageDays > maxAgeDays) {
      return { status: 'degraded', reason: `answering; signatures ${signatures.ageDays} days old (over ${maxAgeDays}): import fresh signatures`, version, signatures };
    }
    const age = signatures.ageDays !== undefined ? `signatures ${signatures.ageDays} days old` : 'signature date unknown (custom databases only)';
    return { status: 'ok', reason: `answering; ${age}`, version, signatures };
  } catch (e) {
    // Say what to do: on a fresh appliance clamd cannot start until signatures come in on media.
    return { status: 'down', reason: `clamd unreachable at ${address}: ${(e as Error).message} — 病毒扫描服务未运行，导入暂停。请启动 clamav-daemon；如尚无病毒特征库，先用 archive signatures import 从经批准的介质导入。` };
  }
}
