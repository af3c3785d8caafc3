import { ApplianceError } from '../appliance/errors.ts';
import { StateFile } from './state-file.ts';

export interface LockoutOptions {
  now?: () => number;
  /** Failures of one account name before it is locked (counted even for names that do not exist). */
  maxPerAccount?: number;
  /** Failures from one source address (any names) before that address is locked. */
  maxPerSource?: number;
  windowMs?: number;
  lockMs?: number;
  /** Keep counters and locks in this file (0600, written atomically): a restart keeps a lock. */
  file?: string;
}

/** One login attempt, counted before its password is checked (see Lockout.attempt). */
export interface Attempt {
  account: string;
  source: string;
  at: number;
}

export interface LockState {
  account: string;
  lockedUntil: number;
  failures: number;
}

interface Counter {
  failures: number[];
  lockedUntil: number;
}

export type LockScope = 'account' | 'source';

/**
 * Failed-login counting. An attempt is counted before its password is checked (`attempt`), so
 * concurrent guesses cannot all slip past the limit while the ~150 ms argon2 checks run: the
 * number of argon2 verifications is bounded by maxPerAccount per account name and maxPerSource per
 * address in each window. A correct password takes its own attempt back (`succeed`). With `file`
 * the counters survive a restart. Names that do not exist lock exactly like real ones, so a lock
 * reveals nothing about existence.
 */
export class Lockout {
  private readonly accounts = new Map<string, Counter>();
  private readonly sources = new Map<string, Counter>();
  private readonly now: () => number;
  readonly maxPerAccount: number;
  readonly maxPerSource: number;
  readonly windowMs: number;
  readonly lockMs: number;

  constructor(o: LockoutOptions = {}) {
    this.now = o.now ?? Date.now;
    this.maxPerAccount = o.maxPerAccount ?? 5;
    this.maxPerSource = o.maxPerSource ?? 20;
    this.windowMs = o.windowMs ?? 15 * 60_000;
    this.lockMs = o.lockMs ?? 15 * 60_000;
    if (o.file) {
      this.store = new StateFile(o.file, () => ({ version: 1, accounts: [...this.accounts], sources: [...this.sources] }));
      const d = this.store.load() as { version?: number; accounts?: Array<[string, Counter]>; sources?: Array<[string, Counter]> } | undefined;
      if (d?.version === 1) {
        for (const [k, c] of d.accounts ?? []) if (isCounter(c)) this.accounts.set(k, c);
        for (const [k, c] of d.sources ?? []) if (isCounter(c)) this.sources.set(k, c);
      }
    }
  }

  private readonly store: StateFile<unknown> | undefined;

  /** Resolves once every change so far is on disk (no-op without a file). */
  async persist(): Promise<void> {
    await this.store?.save();
  }

  /**
   * Check the locks and count this attempt as a failure now, before the password is checked;
   * throws ACCOUNT_LOCKED / SOURCE_LOCKED when either is locked (also when this very attempt is
   * one past the limit). The caller verifies the password only after this returns.
   */
  attempt(account: string, source: string): { attempt: Attempt; closed: LockScope[] } {
    this.assertOpen(account, source);
    const t = this.now();
    const closed = this.fail(account, source, t);
    return { attempt: { account, source, at: t }, closed };
  }

  /** Locked accounts (for the administrator's list), with the failures counted in the window. */
  locked(): LockState[] {
    const t = this.now();
    return [...this.accounts].filter(([, c]) => c.lockedUntil > t).map(([account, c]) => ({ account, lockedUntil: c.lockedUntil, failures: c.failures.length }));
  }

  isLocked(account: string): number {
    const c = this.accounts.get(account);
    return c && c.lockedUntil > this.now() ? c.lockedUntil : 0;
  }

  /** Throws ACCOUNT_LOCKED / SOURCE_LOCKED (HTTP 429) with the time left, if either is locked. */
  assertOpen(account: string, source: string): void {
    const t = this.now();
    const a = this.accounts.get(account);
    const s = this.sources.get(source);
    const left = (c?: Counter) => (c && c.lockedUntil > t ? c.lockedUntil - t : 0);
    const la = left(a);
    const ls = left(s);
    if (la || ls) {
      const scope: LockScope = la >= ls ? 'account' : 'source';
      const ms = Math.max(la, ls);
      const mins = Math.ceil(ms / 60_000);
      const zh = scope === 'account'
        ? `登录失败次数过多，该账户已被暂时锁定，请在 ${mins} 分钟后重试。如需立即解锁请联系系统管理员。`
        : `此地址登录失败次数过多，已被暂时禁止登录，请在 ${mins} 分钟后重试。`;
      throw new ApplianceError(scope === 'account' ? 'ACCOUNT_LOCKED' : 'SOURCE_LOCKED', zh, `${scope} locked for ${Math.ceil(ms / 1000)} s`, { status: 429, details: { scope, remainingSeconds: Math.ceil(ms / 1000) } });
    }
  }

  /** Count a failure; says which lock (if any) this failure just closed. */
  fail(account: string, source: string, t = this.now()): LockScope[] {
    const closed: LockScope[] = [];
    if (this.bump(this.accounts, account, this.maxPerAccount, t)) closed.push('account');
    if (this.bump(this.sources, source, this.maxPerSource, t)) closed.push('source');
    if (this.accounts.size + this.sources.size > 50_000) this.prune(t);
    void this.store?.save();
    return closed;
  }

  /**
   * A correct password: the account's counter is cleared and the attempt no longer counts
   * against its address (a lock this attempt closed on the address is opened again).
   */
  succeed(account: string, attempt?: Attempt): void {
    this.accounts.delete(account);
    if (attempt) {
      const c = this.sources.get(attempt.source);
      if (c) {
        const i = c.failures.lastIndexOf(attempt.at);
        if (i >= 0) c.failures.splice(i, 1);
        else if (c.lockedUntil === attempt.at + this.lockMs) c.lockedUntil = 0;
      }
    }
    void this.store?.save();
  }

  /** An administrator unlocks an account (e.g. after a password reset). */
  clear(account: string): boolean {
    const was = this.isLocked(account) > 0;
    this.accounts.delete(account);
    void this.store?.save();
    return was;
  }

  private bump(map: Map<string, Counter>, key: string, max: number, t: number): boolean {
    const c = map.get(key) ?? { failures: [], lockedUntil: 0 };
    c.failures = c.failures.filter((x) => t - x < this.windowMs);
    c.failures.push(t);
    map.set(key, c);
    if (c.failures.length >= max && c.lockedUntil <= t) {
      c.lockedUntil = t + this.lockMs;
      c.failures = [];
      return true;
    }
    return false;
  }

  private prune(t: number): void {
    void this.store?.save();
    for (const map of [this.accounts, this.sources]) {
      for (const [k, c] of map) if (c.lockedUntil <= t && c.failures.every((x) => t - x >= this.windowMs)) map.delete(k);
    }
  }
}

function isCounter(c: unknown): c is Counter {
  const x = c as Counter;
  return !!x && typeof x.lockedUntil === 'number' && Array.isArray(x.failures) && x.failures.every((n) => typeof n === 'number');
}
