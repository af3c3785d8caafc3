import { ActivityMeter, type ProcessActivity } from '../core/index.ts';

export interface LivenessBounds {
  /** No answer and no CPU or disk activity for this long: the engine is stuck and is restarted. */
  stuckMs: number;
  /**
   * No answer for this long even though it keeps working: restarted anyway. A ceiling for an engine
   * that spins without ever answering again; far above any healthy indexing pause.
   */
  busyMaxMs: number;
  /** Activity is judged over windows of at least this (default 1 s; each health check is 5 s apart). */
  activityWindowMs?: number;
}

/**
 * What one health check concludes.
 * - ok: it answered.
 * - busy: no answer, but the process used CPU or did I/O since the last check (a big indexing batch on two cores).
 * - quiet: no answer and no activity, for less than `stuckMs` so far.
 * - stuck: no answer and no activity for `stuckMs`: restart.
 * - overdue: no answer for `busyMaxMs`, busy or not: restart.
 */
export type LivenessVerdict = { kind: 'ok'; unansweredMs: number } | { kind: 'busy' | 'quiet' | 'stuck' | 'overdue'; unansweredMs: number; quietMs: number; state?: string };

/**
 * Tells a busy engine from a dead one. A health check that goes unanswered is judged by the engine's
 * own process in /proc: CPU time or bytes read and written that moved since the last check mean it is
 * working. Only a process that answers nothing and does nothing for `stuckMs` is killed (a process
 * that exits is restarted by the exit handler, whatever this says).
 */
export class EngineLiveness {
  private unansweredSince?: number;
  private lastActiveAt = 0;
  private readonly meter: ActivityMeter;

  constructor(private readonly bounds: LivenessBounds) {
    this.meter = new ActivityMeter(bounds.activityWindowMs ?? 1_000);
  }

  /** A new child: no history. */
  reset(): void {
    this.unansweredSince = undefined;
    this.meter.reset();
  }

  /** Record one check: whether /health answered in time, and the process's activity read right after. */
  observe(answered: boolean, sample: ProcessActivity | undefined, now: number): LivenessVerdict {
    const active = this.meter.observe(sample, now);
    if (answered) {
      const unansweredMs = this.unansweredSince === undefined ? 0 : now - this.unansweredSince;
      this.unansweredSince = undefined;
      return { kind: 'ok', unansweredMs };
    }
    if (this.unansweredSince === undefined) {
      this.unansweredSince = now;
      this.lastActiveAt = now;
    }
    if (active) this.lastActiveAt = now;
    const unansweredMs = now - this.unansweredSince;
    const quietMs = now - this.lastActiveAt;
    const state = sample?.state;
    if (quietMs >= this.bounds.stuckMs) return { kind: 'stuck', unansweredMs, quietMs, state };
    if (unansweredMs >= this.bounds.busyMaxMs) return { kind: 'overdue', unansweredMs, quietMs, state };
    return { kind: active ? 'busy' : 'quiet', unansweredMs, quietMs, state };
  }
}
