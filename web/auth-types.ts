import type Koa from 'koa';
import type Router from '@koa/router';
import type { Classification, Logger } from '../core/index.ts';
import type { AuditEntry, AuditLog, DenialFolder, IdentityStore, Lockout, LockoutOptions, PasswordHasher, SessionOptions, SessionStore, SetupToken } from '../security/index.ts';
import type { AuthContext } from './authorize.ts';

export interface AuthOptions {
  /** data/config: identity.json and setup-token.json live here. */
  configDir: string;
  identity: IdentityStore;
  audit: AuditLog;
  log: Logger;
  /** Injected clock (ms) for sessions and lockout. */
  now?: () => number;
  hasher?: PasswordHasher;
  lockout?: LockoutOptions;
  sessions?: SessionOptions;
  /** Mark cookies Secure (only when the appliance is served over HTTPS). */
  secureCookies?: boolean;
  /** A session is valid only from the address it logged in from (default true; config tls.bindSessionToAddress). */
  bindSessionToAddress?: boolean;
  /**
   * Where sessions.json and lockout.json live (data/run on the appliance: 0600, written
   * atomically, not in backups). Without it both are kept in memory only.
   */
  stateDir?: string;
  /** The appliance's classification ceiling: no clearance above it is granted (default 内部). */
  ceiling?: Classification;
}

/** What a route records: who/role/source come from the request. */
export type RequestAuditEntry = Omit<AuditEntry, 'actor' | 'role' | 'source'> & Partial<Pick<AuditEntry, 'actor'>>;

export interface Auth {
  /** Deny-by-default guard; install with app.use() right before router.routes(). */
  guard(router: Router): Koa.Middleware;
  /** Registers /api/auth/* and /api/admin/* on the router. */
  routes(router: Router): void;
  /** Append one audit record for this request (actor, role and source address filled in). */
  record(ctx: Koa.Context, e: RequestAuditEntry): Promise<void>;
  /**
   * A denial of a request without a session: the first of a burst from its source is written at
   * once, the rest folded into one record per source and minute (audit-fold.ts).
   */
  recordDenial(ctx: Koa.Context, e: RequestAuditEntry): Promise<void>;
  /** Write the folded denial counts now (on stop). */
  flushAudit(): Promise<void>;
  /** A one-time setup token if some administrator role has no account yet (print it on the console). */
  issueSetupToken(): Promise<string | undefined>;
  /** Put the token in data/config/setup-token.txt (0600) for an operator without a terminal; returns the path. */
  writeSetupTokenFile(token: string, url: string): Promise<string>;
  readonly identity: IdentityStore;
  readonly audit: AuditLog;
  readonly sessions: SessionStore;
  readonly lockout: Lockout;
  /** Write sessions and lockouts out (on shutdown). */
  close(): Promise<void>;
}

/** Everything the route files share. */
export interface AuthCore extends Auth {
  log: Logger;
  hasher: PasswordHasher;
  setup: SetupToken;
  /** An argon2id hash of a random secret, verified when the user does not exist (same cost both ways). */
  dummyHash: string;
  ceiling: Classification;
  setSessionCookies(ctx: Koa.Context, id: string, csrf: string): void;
  clearSessionCookies(ctx: Koa.Context): void;
  cookieOptions: { httpOnly: boolean; sameSite: 'strict'; secure: boolean; path: string; overwrite: boolean };
}
