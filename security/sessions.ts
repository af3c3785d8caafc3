import { createHash, randomBytes } from 'node:crypto';

export interface Session {
  userId: string;
  username: string;
  /** The user's stamp at login: any change of roles, posts, clearance, password or state ends the session. */
  stamp: number;
  csrf: string;
  source: string;
  createdAt: number;
  lastSeen: number;
}

export interface SessionOptions {
  now?: () => number;
  idleMs?: number;
  absoluteMs?: number;
}

export type SessionLookup = { session: Session; key: string } | { expired: 'idle' | 'absolute' } | undefined;

/**
 * Server-side sessions in memory: the cookie holds 256 random bits, the map holds only their
 * SHA-256, so neither a log line nor a heap dump yields a usable cookie. A restart logs everyone out.
 */
export class SessionStore {
  private readonly map = new Map<string, Session>();
  private readonly now: () => number;
  readonly idleMs: number;
  readonly absoluteMs: number;

  constructor(o: SessionOptions = {}) {
    this.now = o.now ?? Date.now;
    this.idleMs = o.idleMs ?? 30 * 60_000;
    this.absoluteMs = o.absoluteMs ?? 12 * 3_600_000;
  }

  private key(id: string): string {
    return createHash('sha256').update(id).digest('hex');
  }

  create(user: { id: string; username: string; stamp: number }, source: string): { id: string; session: Session } {
    const id = randomBytes(32).toString('base64url');
    const t = this.now();
    const session: Session = { userId: user.id, username: user.username, stamp: user.stamp, csrf: randomBytes(32).toString('base64url'), source, createdAt: t, lastSeen: t };
    this.map.set(this.key(id), session);
    if (this.map.size % 256 === 0) this.prune();
    return { id, session };
  }

  /** The live session for a cookie value, touched; or why it ended. */
  lookup(id: string | undefined): SessionLookup {
    if (!id || id.length > 128) return undefined;
    const key = this.key(id);
    const s = this.map.get(key);
    if (!s) return undefined;
    const t = this.now();
    if (t - s.createdAt >= this.absoluteMs) {
      this.map.delete(key);
      return { expired: 'absolute' };
    }
    if (t - s.lastSeen >= this.idleMs) {
      this.map.delete(key);
      return { expired: 'idle' };
    }
    s.lastSeen = t;
    return { session: s, key };
  }

  /**
   * Is the session behind this key (AuthContext.sessionKey) still live? Unlike lookup() it does
   * not count as activity: a long-lived stream (the job events) must not keep its session from
   * going idle.
   */
  alive(key: string): Session | undefined {
    const s = this.map.get(key);
    if (!s) return undefined;
    const t = this.now();
    if (t - s.createdAt >= this.absoluteMs || t - s.lastSeen >= this.idleMs) {
      this.map.delete(key);
      return undefined;
    }
    return s;
  }

  destroyKey(key: string): void {
    this.map.delete(key);
  }

  destroy(id: string): void {
    this.map.delete(this.key(id));
  }

  destroyUser(userId: string): number {
    let n = 0;
    for (const [k, s] of this.map) if (s.userId === userId) (this.map.delete(k), n++);
    return n;
  }

  count(): number {
    return this.map.size;
  }

  private prune(): void {
    const t = this.now();
    for (const [k, s] of this.map) if (t - s.createdAt >= this.absoluteMs || t - s.lastSeen >= this.idleMs) this.map.delete(k);
  }
}
