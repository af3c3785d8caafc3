import { createHash, randomBytes } from 'node:crypto';
import { StateFile } from './state-file.ts';

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
  /**
   * Keep sessions in this file (0600, written atomically) so a restart does not end them. It holds
   * each session under the SHA-256 of its id (never the id itself), with the user, stamp, CSRF
   * token, address and times: nothing in it opens a session without the browser's cookie.
   */
  file?: string;
}

export type SessionLookup = { session: Session; key: string } | { expired: 'idle' | 'absolute' } | undefined;

/**
 * Server-side sessions: the cookie holds 256 random bits, the map holds only their SHA-256, so
 * neither a log line, a heap dump nor the state file yields a usable cookie. With `file`, logins
 * and logouts are written before they are answered (flush) and the last-seen times at most every
 * `touchFlushMs`, so a restart keeps every session (idle time counted from the last write).
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
    if (o.file) {
      this.store = new StateFile(o.file, () => ({ version: 1, sessions: [...this.map] }));
      const d = this.store.load() as { version?: number; sessions?: Array<[string, Session]> } | undefined;
      if (d?.version === 1) for (const [k, v] of d.sessions ?? []) if (/^[0-9a-f]{64}$/.test(k) && isSession(v)) this.map.set(k, v);
      this.prune();
    }
  }

  private readonly store: StateFile<unknown> | undefined;
  private touchTimer: NodeJS.Timeout | undefined;
  readonly touchFlushMs = 30_000;

  /** Resolves once every session change so far is on disk (no-op without a file). */
  async flush(): Promise<void> {
    await this.store?.save();
  }

  /** Write pending last-seen times now and stop the timer (on shutdown). */
  async close(): Promise<void> {
    if (this.touchTimer) clearTimeout(this.touchTimer);
    this.touchTimer = undefined;
    await this.flush();
  }

  private changed(): void {
    void this.store?.save();
  }

  private touched(): void {
    if (!this.store || this.touchTimer) return;
    this.touchTimer = setTimeout(() => {
      this.touchTimer = undefined;
      this.changed();
    }, this.touchFlushMs);
    this.touchTimer.unref();
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
    this.changed();
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
      this.changed();
      return { expired: 'absolute' };
    }
    if (t - s.lastSeen >= this.idleMs) {
      this.map.delete(key);
      this.changed();
      return { expired: 'idle' };
    }
    s.lastSeen = t;
    this.touched();
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
      this.changed();
      return undefined;
    }
    return s;
  }

  /** The session for a cookie value without touching it (a page asking whether it is still alive). */
  peek(id: string | undefined): Session | undefined {
    if (!id || id.length > 128) return undefined;
    const s = this.map.get(this.key(id));
    const t = this.now();
    if (!s || t - s.createdAt >= this.absoluteMs || t - s.lastSeen >= this.idleMs) return undefined;
    return s;
  }

  destroyKey(key: string): void {
    if (this.map.delete(key)) this.changed();
  }

  destroy(id: string): void {
    if (this.map.delete(this.key(id))) this.changed();
  }

  destroyUser(userId: string): number {
    let n = 0;
    for (const [k, s] of this.map) if (s.userId === userId) (this.map.delete(k), n++);
    if (n) this.changed();
    return n;
  }

  count(): number {
    return this.map.size;
  }

  private prune(): void {
    const t = this.now();
    for (const [k, s] of this.map) if (t - s.createdAt >= this.absoluteMs || t - s.lastSeen >= this.idleMs) this.map.delete(k);
    this.changed();
  }
}

function isSession(v: unknown): v is Session {
  const s = v as Session;
  return (
    !!s &&
    typeof s.userId === 'string' &&
    typeof s.username === 'string' &&
    typeof s.stamp === 'number' &&
    typeof s.csrf === 'string' &&
    typeof s.source === 'string' &&
    typeof s.createdAt === 'number' &&
    typeof s.lastSeen === 'number'
  );
}
