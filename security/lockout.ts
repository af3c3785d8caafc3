import { ApplianceError } from '../appliance/errors.ts';

export interface LockoutOptions {
  now?: () => number;
  /** Failures of one account name before it is locked (counted even for names that do not exist). */
  maxPerAccount?: number;
  /** Failures from one source address (any names) before that address is locked. */
  maxPerSource?: number;
  windowMs?: number;
  lockMs?: number;
}

interface Counter {
  failures: number[];
  lockedUntil: number;
}

export type LockScope = 'account' | 'source';

/**
 * Failed-login counting in memory (a restart clears it; the audit trail keeps every failure).
 * Names that do not exist lock exactly like real ones, so a lock reveals nothing about existence.
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
  fail(account: string, source: string): LockScope[] {
    const t = this.now();
    const closed: LockScope[] = [];
    if (this.bump(this.accounts, account, this.maxPerAccount, t)) closed.push('account');
    if (this.bump(this.sources, source, this.maxPerSource, t)) closed.push('source');
    if (this.accounts.size + this.sources.size > 50_000) this.prune(t);
    return closed;
  }

  succeed(account: string): void {
    this.accounts.delete(account);
  }

  /** An administrator unlocks an account (e.g. after a password reset). */
  clear(account: string): void {
    this.accounts.delete(account);
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
    for (const map of [this.accounts, this.sources]) {
      for (const [k, c] of map) if (c.lockedUntil <= t && c.failures.every((x) => t - x >= this.windowMs)) map.delete(k);
    }
  }
}
