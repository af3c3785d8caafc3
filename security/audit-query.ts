import { ApplianceError } from '../core/index.ts';
import type { AuditRecord } from './audit-record.ts';
import { exportAudit, exportRange, verifyAudit } from './audit-verify.ts';

/**
 * The auditor's questions to the trail: which records match (who, what, outcome, when), a page of
 * them newest first with the total, and counts over a period. Each pass streams the yearly files,
 * so there is no cap on how many records a period holds.
 */
export interface AuditFilter {
  actor?: string;
  /** An action code or a prefix of one at a dot: `auth` matches auth.login and auth.logout. */
  action?: string;
  outcome?: string;
  from?: string;
  to?: string;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v.trim().slice(0, 200) : undefined);

/** The filter from a query string (the page, the exports and the summary take the same one). */
export function auditFilterFrom(q: Record<string, unknown>): AuditFilter {
  return { actor: str(q.actor), action: str(q.action), outcome: str(q.outcome), from: str(q.from), to: str(q.to) };
}

function rangeOf(f: AuditFilter): { from?: number; to?: number } {
  const range = exportRange(f.from, f.to);
  if (Number.isNaN(range.from) || Number.isNaN(range.to)) throw new ApplianceError('RANGE_INVALID', '时间范围有误：请用 YYYY-MM-DD 或 ISO 时间。', 'bad from/to');
  return range;
}

export function auditMatches(rec: AuditRecord, f: AuditFilter): boolean {
  if (f.actor && rec.actor !== f.actor) return false;
  if (f.action && rec.action !== f.action && !rec.action.startsWith(`${f.action}.`)) return false;
  if (f.outcome && rec.outcome !== f.outcome) return false;
  return true;
}

/** Every matching record, oldest first (chain order). */
export async function* auditRecords(dir: string, f: AuditFilter): AsyncGenerator<AuditRecord> {
  for await (const rec of exportAudit(dir, rangeOf(f))) if (auditMatches(rec, f)) yield rec;
}

/**
 * One page, newest first, and how many match. Two passes (count, then take the window): memory
 * stays one page however deep the offset. Records appended between the passes come after the
 * window (the chain only grows at its end), so the page is the one the total describes.
 */
export async function auditPage(dir: string, f: AuditFilter, offset: number, limit: number): Promise<{ records: AuditRecord[]; total: number }> {
  let total = 0;
  for await (const _ of auditRecords(dir, f)) total++;
  const start = Math.max(0, total - offset - limit);
  const end = Math.max(0, total - offset);
  const records: AuditRecord[] = [];
  if (end > start) {
    let i = 0;
    for await (const rec of auditRecords(dir, f)) {
      // Read on to the end rather than break: leaving early would leave the file stream open.
      if (i >= start && i < end) records.push(rec);
      i++;
    }
  }
  return { records: records.reverse(), total };
}

export interface AuditSummary {
  from: string | null;
  to: string | null;
  total: number;
  byAction: Array<{ action: string; count: number; outcomes: Record<string, number> }>;
  byOutcome: Record<string, number>;
  byUser: Array<{ actor: string; role: string; count: number; outcomes: Record<string, number> }>;
  first?: string;
  last?: string;
  chain: { ok: boolean; records: number; firstBroken?: { seq: number; zh: string } };
}

/** Counts per action, outcome and user over a period (and any other filter), with the chain's state. */
export async function summarizeAudit(dir: string, f: AuditFilter): Promise<AuditSummary> {
  const actions = new Map<string, { count: number; outcomes: Record<string, number> }>();
  const users = new Map<string, { actor: string; role: string; count: number; outcomes: Record<string, number> }>();
  const byOutcome: Record<string, number> = {};
  let total = 0;
  let first: string | undefined;
  let last: string | undefined;
  for await (const rec of auditRecords(dir, f)) {
    total++;
    first ??= rec.time;
    last = rec.time;
    byOutcome[rec.outcome] = (byOutcome[rec.outcome] ?? 0) + 1;
    const a = actions.get(rec.action) ?? { count: 0, outcomes: {} };
    a.count++;
    a.outcomes[rec.outcome] = (a.outcomes[rec.outcome] ?? 0) + 1;
    actions.set(rec.action, a);
    const u = users.get(rec.actor) ?? { actor: rec.actor, role: rec.role, count: 0, outcomes: {} };
    u.count++;
    u.outcomes[rec.outcome] = (u.outcomes[rec.outcome] ?? 0) + 1;
    if (u.role === '-' && rec.role !== '-') u.role = rec.role;
    users.set(rec.actor, u);
  }
  const v = await verifyAudit(dir);
  return {
    from: f.from ?? null,
    to: f.to ?? null,
    total,
    byAction: [...actions].map(([action, x]) => ({ action, ...x })).sort((a, b) => b.count - a.count || a.action.localeCompare(b.action)),
    byOutcome,
    byUser: [...users.values()].sort((a, b) => b.count - a.count || a.actor.localeCompare(b.actor)),
    ...(first ? { first, last } : {}),
    chain: { ok: v.ok, records: v.records, ...(v.firstBroken ? { firstBroken: { seq: v.firstBroken.seq, zh: v.firstBroken.zh } } : {}) },
  };
}
