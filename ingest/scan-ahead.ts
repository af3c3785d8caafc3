/**
 * A gate that runs ahead of its reader: `step` goes over the items in order, one at a time, while
 * the reader works on earlier ones, never more than `ahead` items past the one the reader last
 * asked for. The reader asks for each item's answer in order (`answer`); an item whose step has
 * not finished is waited for, never skipped.
 *
 * The ingest runner uses it for the virus gate: item n+1 (and a few after it) is scanned while
 * item n is OCR'd, so OCR starts after the first item's scan instead of the whole job's.
 * A step that throws stops the gate: that item's answer and every later one reject with its error.
 */
export class ScanAhead<T> {
  private readonly answers: Array<Promise<boolean>>;
  private readonly settle: Array<{ resolve: (ok: boolean) => void; reject: (e: unknown) => void }> = [];
  /** Index of the last item the reader asked for (-1: none yet). */
  private asked = -1;
  private wake?: () => void;
  private closed = false;
  readonly done: Promise<void>;

  constructor(
    private readonly items: readonly T[],
    private readonly step: (item: T) => Promise<boolean>,
    private readonly opts: { ahead: number; halted: () => boolean },
  ) {
    if (!(opts.ahead >= 1)) throw new RangeError('ahead must be at least 1');
    this.answers = items.map(
      () =>
        new Promise<boolean>((resolve, reject) => {
          this.settle.push({ resolve, reject });
        }),
    );
    // A rejected answer nobody asked for (the reader stopped first) is no unhandled rejection.
    for (const a of this.answers) a.catch(() => undefined);
    this.done = this.run();
  }

  private async run(): Promise<void> {
    for (let i = 0; i < this.items.length; i++) {
      while (!this.closed && i > this.asked + this.opts.ahead) await new Promise<void>((r) => (this.wake = r));
      if (this.closed || this.opts.halted()) {
        // Not scanned: the reader, told false, goes no further (and the journal still says so).
        for (let j = i; j < this.items.length; j++) this.settle[j].resolve(false);
        return;
      }
      try {
        this.settle[i].resolve(await this.step(this.items[i]));
      } catch (e) {
        for (let j = i; j < this.items.length; j++) this.settle[j].reject(e);
        return;
      }
    }
  }

  /** The step's answer for `item` (it must be one of the items); lets the gate move on past it. */
  answer(item: T): Promise<boolean> {
    const i = this.items.indexOf(item);
    if (i < 0) throw new RangeError('not an item of this gate');
    if (i > this.asked) {
      this.asked = i;
      this.wake?.();
    }
    return this.answers[i];
  }

  /** Start no further step; resolves once the one under way (if any) has finished. */
  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.done;
  }
}
