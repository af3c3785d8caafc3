import type { AuditEntry } from './audit-record.ts';

/**
 * Repeated unauthenticated denials from one source, folded. Every failed login for
 * an unknown or locked account and every CSRF refusal used to append its own fsynced record: 200
 * requests added ~76 KB, and a flood could fill the disk that every real action needs for its
 * record. Now the first denial of a burst from a source is written at once (so the trail shows
 * the attack begin, and a broken trail still refuses), and the rest of that minute is counted in
 * memory and written as one `auth.denied.folded` record per source and minute, with the count by
 * action and reason and the names tried. A minute without denials ends the burst.
 *
 * Only denials of requests that carry no session come here; anything done under a session, and
 * failures that matter one by one (a wrong password for an account that exists, a lockout being
 * imposed, a disabled account), are still written record by record.
 */
export interface DenialFoldOptions {
  windowMs?: number;
  /** Sources tracked at once; beyond it the oldest window is written out early. */
  maxSources?: number;
  /** Distinct targets kept per window (the count covers them all). */
  maxTargets?: number;
  onError?: (e: unknown) => void;
}

interface Window {
  start: number;
  count: number;
  kinds: Record<string, number>;
  targets: Map<string, number>;
  timer: NodeJS.Timeout;
}

export class DenialFolder {
  private readonly windows = new Map<string, Window>();
  private readonly windowMs: number;
  private readonly maxSources: number;
  private readonly maxTargets: number;

  constructor(
    private readonly append: (e: AuditEntry) => Promise<unknown>,
    private readonly o: DenialFoldOptions = {},
  ) {
    this.windowMs = o.windowMs ?? 60_000;
    this.maxSources = o.maxSources ?? 10_000;
    this.maxTargets = o.maxTargets ?? 20;
  }

  /** Record a denial: written now if it opens a burst, else counted into this minute's record. */
  async deny(e: AuditEntry): Promise<void> {
    const w = this.windows.get(e.source);
    if (w) {
      w.count++;
      const kind = `${e.action}:${String(e.details?.reason ?? e.outcome)}`;
      w.kinds[kind] = (w.kinds[kind] ?? 0) + 1;
      const target = e.target.length > 64 ? `${e.target.slice(0, 64)}…` : e.target;
      if (w.targets.has(target) || w.targets.size < this.maxTargets) w.targets.set(target, (w.targets.get(target) ?? 0) + 1);
      return;
    }
    if (this.windows.size >= this.maxSources) {
      const oldest = this.windows.keys().next().value;
      if (oldest !== undefined) await this.close(oldest, false);
    }
    this.open(e.source);
    try {
      await this.append({ ...e, details: { ...e.details, burst: 'first' } });
    } catch (err) {
      // Not on record: the next denial must try to write again, not be counted.
      this.drop(e.source);
      throw err;
    }
  }

  /** Write every window's count now (the appliance is stopping, or a test wants the figures). */
  async flush(): Promise<void> {
    for (const source of [...this.windows.keys()]) await this.close(source, false);
  }

  private open(source: string): void {
    const timer = setTimeout(() => void this.close(source, true), this.windowMs);
    timer.unref();
    this.windows.set(source, { start: Date.now(), count: 0, kinds: {}, targets: new Map(), timer });
  }

  private drop(source: string): void {
    const w = this.windows.get(source);
    if (w) clearTimeout(w.timer);
    this.windows.delete(source);
  }

  private async close(source: string, continueBurst: boolean): Promise<void> {
    const w = this.windows.get(source);
    if (!w) return;
    this.drop(source);
    if (w.count === 0) return; // a quiet minute: the burst is over
    // Still coming: the next minute folds too (its first denial is not "first of a burst").
    if (continueBurst) this.open(source);
    try {
      await this.append({
        actor: '-',
        role: '-',
        source,
        action: 'auth.denied.folded',
        target: '-',
        outcome: 'denied',
        details: {
          count: w.count,
          from: new Date(w.start).toISOString(),
          to: new Date().toISOString(),
          kinds: w.kinds,
          targets: Object.fromEntries(w.targets),
          targetsOmitted: w.targets.size >= this.maxTargets,
        },
      });
    } catch (e) {
      this.o.onError?.(e);
    }
  }
}
