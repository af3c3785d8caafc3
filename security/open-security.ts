import { userInfo } from 'node:os';
import { type Config, dataPath, ensureDataDir } from '../core/index.ts';
import { AuditLog } from './audit-log.ts';
import type { AuditEntry } from './audit-record.ts';
import { IdentityStore } from './identity-store.ts';

export interface SecurityStores {
  configDir: string;
  audit: AuditLog;
  identity: IdentityStore;
}

/** The audit trail and identity store of a data dir (the server and console commands open the same files). */
export async function openSecurity(cfg: Pick<Config, 'dataDir'>): Promise<SecurityStores> {
  await ensureDataDir(cfg.dataDir);
  const configDir = dataPath(cfg.dataDir, 'config');
  // The trail's reserve lives in run/ (same filesystem, not backed up); `archive serve` fills it.
  const audit = new AuditLog(dataPath(cfg.dataDir, 'audit'), { reservePath: dataPath(cfg.dataDir, 'run', 'audit-reserve') });
  return { configDir, audit, identity: await IdentityStore.open(configDir) };
}

/** The local console operator in the audit trail: actor `console`, source `console:<OS user>`. */
export function consoleActor(): Pick<AuditEntry, 'actor' | 'role' | 'source'> {
  let os = 'unknown';
  try {
    os = userInfo().username;
  } catch {
    os = String(process.getuid?.() ?? 'unknown');
  }
  return { actor: 'console', role: 'console', source: `console:${os}` };
}
