import { createHash } from 'node:crypto';

export const GENESIS_HASH = '0'.repeat(64);

export type AuditOutcome = 'success' | 'failure' | 'denied';

/** What a caller says happened; the log adds seq, time, prev and hash. */
export interface AuditEntry {
  /** User name, `console` for the local console, `system` for the appliance itself, `-` if unknown. */
  actor: string;
  /** Role(s) the actor acted in, e.g. `sysadmin`, `staff+archivist`, `console`, `-`. */
  role: string;
  /** Source address (IP) or `console:<os user>` or `system`. */
  source: string;
  /** Dotted action name, e.g. `auth.login`, `item.view`, `user.create`. */
  action: string;
  /** What was acted on (user name, item id, post code, file); `-` if nothing. */
  target: string;
  outcome: AuditOutcome;
  details?: Record<string, unknown>;
}

export interface AuditRecord {
  seq: number;
  time: string;
  actor: string;
  role: string;
  source: string;
  action: string;
  target: string;
  outcome: AuditOutcome;
  details: Record<string, unknown>;
  prev: string;
  hash: string;
}

/** JSON with object keys sorted at every level: the same record always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

/** SHA-256 over the canonical form of every field but `hash` (so `prev` is covered: the chain). */
export function recordHash(rec: Omit<AuditRecord, 'hash'> | AuditRecord): string {
  const { hash: _ignored, ...rest } = rec as AuditRecord;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}

/** Fixed key order on disk, so the files read well; the hash does not depend on it. */
export function recordLine(rec: AuditRecord): string {
  const { seq, time, actor, role, source, action, target, outcome, details, prev, hash } = rec;
  return `${JSON.stringify({ seq, time, actor, role, source, action, target, outcome, details, prev, hash })}\n`;
}

export function auditFileName(year: number): string {
  return `audit-${year}.jsonl`;
}

export const AUDIT_FILE_RE = /^audit-(\d{4})\.jsonl$/;
