import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../core/index.ts';

/**
 * Small runtime state (sessions, login lockouts) kept in one JSON file of the data dir so that a
 * restart does not log everyone out or reopen a lock. Each save writes the whole state atomically
 * (temp file 0600, fsync, rename, fsync the folder); saves are coalesced: at most one write runs,
 * and changes made meanwhile go out in the next one. `flush()` resolves once everything changed
 * before the call is on disk, so a route can answer only after its change is durable.
 */
export class StateFile<T> {
  private running: Promise<void> | undefined;
  private pending: Promise<void> | undefined;
  private lastError: unknown;

  constructor(
    readonly path: string,
    private readonly snapshot: () => T,
  ) {}

  /** The stored state, or undefined when there is none or it does not parse (then it starts empty). */
  load(): unknown {
    try {
      return JSON.parse(readFileSync(this.path, 'utf8'));
    } catch {
      return undefined;
    }
  }

  /** Schedule a write of the current state; resolves when a write that includes it is done. */
  save(): Promise<void> {
    if (this.pending) return this.pending;
    const after = (this.running ?? Promise.resolve()).catch(() => undefined);
    const p = after.then(async () => {
      this.pending = undefined;
      this.running = p;
      try {
        await writeFileAtomic(this.path, `${JSON.stringify(this.snapshot())}\n`, 0o600);
        this.lastError = undefined;
      } catch (e) {
        this.lastError = e;
        throw e;
      } finally {
        if (this.running === p) this.running = undefined;
      }
    });
    this.pending = p;
    // A failed write is reported to whoever awaits it; an unawaited one must not crash the process.
    p.catch(() => undefined);
    return p;
  }

  /** Wait for every scheduled write. */
  async flush(): Promise<void> {
    await (this.pending ?? this.running);
  }

  get failed(): unknown {
    return this.lastError;
  }
}
