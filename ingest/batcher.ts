export interface BatcherOptions<T> {
  /** Commit once this many items wait. */
  maxItems: number;
  /** Commit once the items waiting weigh this much (e.g. their pages). */
  maxWeight: number;
  weight: (x: T) => number;
  /** Commit once the oldest waiting item has waited this long. */
  maxWaitMs: number;
}

/**
 * Holds items and commits them together: when enough wait (count or weight), when the oldest has
 * waited long enough, or when told nothing more is coming (`flush`). Commits run one at a time, in
 * the order the items came; items arriving during a commit wait for the next one.
 *
 * Why hold at all: Meilisearch's cost is mostly per update, not per document (measured in
 * bench/ingest: eight items one by one cost its CPU 20-40 times what the same eight cost in one go),
 * and on this machine every CPU second it spends is taken from OCR.
 */
export class Batcher<T> {
  private queue: Array<{ x: T; at: number }> = [];
  private flight?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private failure?: { error: unknown };

  /**
   * `commit` should handle its own failures: one that throws stops the batches (what is still
   * queued stays queued; the caller's journal still has it) and `flush` rethrows the error.
   */
  constructor(
    private readonly commit: (batch: T[]) => Promise<void>,
    private readonly opts: BatcherOptions<T>,
  ) {}

  /** Items waiting for a commit. */
  get waiting(): number {
    return this.queue.length;
  }

  add(x: T): void {
    this.queue.push({ x, at: Date.now() });
    if (this.full()) this.kick(false);
    else this.arm();
  }

  /** Commit what waits now, without waiting for the limits (after the commit in flight, if any). */
  now(): void {
    this.kick(false);
  }

  private arm(): void {
    if (this.timer || this.queue.length === 0 || this.failure) return;
    this.timer = setTimeout(() => this.kick(false), Math.max(0, this.queue[0].at + this.opts.maxWaitMs - Date.now()));
  }

  private full(): boolean {
    if (this.queue.length >= this.opts.maxItems) return true;
    let w = 0;
    for (const q of this.queue) w += this.opts.weight(q.x);
    return w >= this.opts.maxWeight;
  }

  /** Commit what waits, after the commit in flight if any; `all`: until nothing waits. */
  private kick(all: boolean): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.failure || this.queue.length === 0) return;
    const run = (this.flight ?? Promise.resolve()).then(async () => {
      // What waits now, those that came during the previous commit too, up to the limits.
      for (let first = true; this.queue.length && !this.failure && (first || all || this.full()); first = false) {
        try {
          await this.commit(this.take());
        } catch (error) {
          this.failure = { error };
        }
      }
      this.arm();
    });
    this.flight = run;
    void run.finally(() => {
      if (this.flight === run) this.flight = undefined;
    });
  }

  private take(): T[] {
    let w = 0;
    let n = 0;
    while (n < this.queue.length && n < this.opts.maxItems && (n === 0 || w + this.opts.weight(this.queue[n].x) <= this.opts.maxWeight)) w += this.opts.weight(this.queue[n++].x);
    return this.queue.splice(0, n).map((q) => q.x);
  }

  /** Commit everything waiting now and settle once it is through; rethrows a commit's failure. */
  async flush(): Promise<void> {
    this.kick(true);
    while (this.flight) await this.flight;
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.failure) throw this.failure.error;
  }
}
