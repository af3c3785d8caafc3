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
    if (pong.trim() !== 'PONG') return { status: 'down', reason: `clamd 对 PING 的回复异常：${pong.slice(0, 80)}` };
    const version = (await clamdCommand(address, 'VERSION')).trim();
    let signatures: SignatureStatus;
    try {
      signatures = parseClamdVersion(version, opts.now);
    } catch {
      return { status: 'down', reason: `clamd 对 VERSION 的回复异常：${version.slice(0, 80)}`, version };
    }
    if (signatures.ageDays !== undefined && signatures.ageDays > maxAgeDays) {
      return { status: 'degraded', reason: `运行中；病毒特征库已 ${signatures.ageDays} 天（超过 ${maxAgeDays} 天），请用 archive signatures import 从经批准的介质导入新特征库`, version, signatures };
    }
    const age = signatures.ageDays !== undefined ? `病毒特征库 ${signatures.ageDays} 天前发布` : '病毒特征库日期未知（仅有自定义特征库）';
    return { status: 'ok', reason: `运行中；${age}`, version, signatures };
  } catch (e) {
    // Say what to do: on a fresh appliance clamd cannot start until signatures come in on media.
    return {
      status: 'down',
      reason: `无法连接 clamd（${address}）：${(e as Error).message} — 病毒扫描服务未运行，导入暂停。请启动 clamav-daemon；如尚无病毒特征库，先用 archive signatures import 从经批准的介质导入。`,
    };
  }
}
