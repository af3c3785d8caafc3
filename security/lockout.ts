import { ApplianceError } from '../core/index.ts';
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
 * Failed-login counting. An attempt is counted before its password is checked (`begin`), so
 * concurrent guesses cannot all slip past the limit while the ~150 ms argon2 checks run: the
 * number of wrong-password argon2 verifications is bounded by maxPerAccount per account name and
 * maxPerSource per address in each window (`finish` settles each attempt). With `file` the
 * counters and locks survive a restart. Names that do not exist lock exactly like real ones, so a lock
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

  private readonly inflight = new Map<string, number>();
  private readonly waiters = new Map<string, Array<() => void>>();

  /**
   * Before a password is checked. The account's attempt is counted now, as a failure until
   * `finish` says otherwise, so concurrent guesses at one account reach argon2 at most
   * maxPerAccount times per window (the lock closes on the attempt that reaches the limit). An
   * address has at most maxPerSource checks under way or failed in the window: further attempts
   * from it wait for a slot (thirty colleagues behind one address logging in at nine are slowed,
   * not refused) and are refused once its failures lock it. Throws ACCOUNT_LOCKED / SOURCE_LOCKED.
   */
  async begin(account: string, source: string): Promise<{ attempt: Attempt; closed: LockScope[] }> {
    this.assertOpen(account, source);
    while (this.sourceLoad(source) >= this.maxPerSource) {
      const q = this.waiters.get(source) ?? [];
      if (q.length >= 1_000) {
        throw new ApplianceError('SOURCE_LOCKED', '此地址的登录请求过多，请稍后重试。', 'too many logins waiting from one address', {
          status: 429,
          details: { scope: 'source', remainingSeconds: 60 },
        });
      }
      this.waiters.set(source, q);
      await new Promise<void>((r) => q.push(r));
      this.assertOpen(account, source);
    }
    const t = this.now();
    const closed: LockScope[] = this.bump(this.accounts, account, this.maxPerAccount, t) ? ['account'] : [];
    this.inflight.set(source, (this.inflight.get(source) ?? 0) + 1);
    void this.store?.save();
    return { attempt: { account, source, at: t }, closed };
  }

  /**
   * After the check: a correct password clears the account's counter; a wrong one counts against
   * the address. Says which lock this closed (the address's, when its limit is reached).
   */
  finish(attempt: Attempt, ok: boolean): LockScope[] {
    const n = (this.inflight.get(attempt.source) ?? 1) - 1;
    if (n > 0) this.inflight.set(attempt.source, n);
    else this.inflight.delete(attempt.source);
    const closed: LockScope[] = [];
    if (ok) this.accounts.delete(attempt.account);
    else if (this.bump(this.sources, attempt.source, this.maxPerSource, this.now())) closed.push('source');
    const q = this.waiters.get(attempt.source);
    if (q) {
      this.waiters.delete(attempt.source);
      for (const wake of q) wake();
    }
    void this.store?.save();
    return closed;
  }

  private sourceLoad(source: string): number {
    const t = this.now();
    const c = this.sources.get(source);
    return (c ? c.failures.filter((x) => t - x < this.windowMs).length : 0) + (this.inflight.get(source) ?? 0);
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
      const zh =
        scope === 'account' ? `登录失败次数过多，该账户已被暂时锁定，请在 ${mins} 分钟后重试。如需立即解锁请联系系统管理员。` : `此地址登录失败次数过多，已被暂时禁止登录，请在 ${mins} 分钟后重试。`;
      throw new ApplianceError(scope === 'account' ? 'ACCOUNT_LOCKED' : 'SOURCE_LOCKED', zh, `${scope} locked for ${Math.ceil(ms / 1000)} s`, {
        status: 429,
        details: { scope, remainingSeconds: Math.ceil(ms / 1000) },
      });
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

  succeed(account: string): void {
    this.accounts.delete(account);
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
