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
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
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

/** Longest text kept whole in a record (paths, targets, names); longer text keeps its head and a hash. */
export const AUDIT_TEXT_MAX = 256;

/**
 * Text as stored in a record: whole up to AUDIT_TEXT_MAX characters, else its first
 * AUDIT_TEXT_MAX characters, its length and the SHA-256 of the whole (an 8 KB path
 * in every record filled the disk; the hash still proves which path it was).
 */
export function capAuditText(s: string): string {
  if (s.length <= AUDIT_TEXT_MAX) return s;
  return `${s.slice(0, AUDIT_TEXT_MAX)}…[${s.length} chars, sha256:${createHash('sha256').update(s).digest('hex')}]`;
}

/** Every string inside details capped the same way (arrays and objects walked, to a fixed depth). */
export function capAuditDetails(v: unknown, depth = 0): unknown {
  if (typeof v === 'string') return capAuditText(v);
  if (depth > 8 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => capAuditDetails(x, depth + 1));
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [capAuditText(k), capAuditDetails(x, depth + 1)]));
}

/** How a check of the trail found it broken (audit-verify.ts for the chain, audit-seal-verify.ts for the seals). */
export type AuditBreak =
  | 'unparseable'
  | 'edited'
  | 'deleted'
  | 'reordered'
  | 'inserted'
  | 'chain'
  | 'truncated'
  | 'head-missing'
  | 'head-mismatch'
  | 'seals-missing'
  | 'seal-unparseable'
  | 'seal-order'
  | 'seal-mismatch'
  | 'seal-beyond-end'
  | 'seal-forged'
  | 'seals-truncated'
  | 'seal-key-unknown'
  | 'seal-key-missing'
  | 'seal-key-forged';
