import type Koa from 'koa';
import type Router from '@koa/router';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Classification } from '../appliance/config.ts';
import type { Logger } from '../appliance/log.ts';
import type { AuditLog } from './audit-log.ts';
import { DenialFolder } from './audit-fold.ts';
import type { AuditEntry } from './audit-record.ts';
import { CSRF_COOKIE, SESSION_COOKIE, createGuard, type AuthContext } from './authorize.ts';
import type { IdentityStore } from './identity-store.ts';
import { Lockout, type LockoutOptions } from './lockout.ts';
import { argon2Hasher, type PasswordHasher } from './passwords.ts';
import { roleLabel } from './roles.ts';
import { SessionStore, type SessionOptions } from './sessions.ts';
import { SetupToken } from './setup-token.ts';
import { registerAuthRoutes } from './auth-routes.ts';
import { registerAdminRoutes } from './admin-routes.ts';

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

export async function createAuth(o: AuthOptions): Promise<Auth> {
  const hasher = o.hasher ?? argon2Hasher;
  const sessions = new SessionStore({ now: o.now, file: o.stateDir && join(o.stateDir, 'sessions.json'), ...o.sessions });
  const lockout = new Lockout({ now: o.now, file: o.stateDir && join(o.stateDir, 'lockout.json'), ...o.lockout });
  const secure = Boolean(o.secureCookies);
  const cookieOptions = { httpOnly: true, sameSite: 'strict' as const, secure, path: '/', overwrite: true };
  const record = async (ctx: Koa.Context, e: RequestAuditEntry): Promise<void> => {
    const a = (ctx.state as Record<string, unknown>).auth as AuthContext | undefined;
    await o.audit.append({ actor: e.actor ?? a?.user.username ?? '-', role: a ? roleLabel(a.roles) : '-', source: ctx.ip || '-', action: e.action, target: e.target, outcome: e.outcome, details: e.details });
  };
  const folder = new DenialFolder((e) => o.audit.append(e), { onError: (e) => o.log.error({ err: (e as Error).message }, 'folded audit record not written') });
  const recordDenial = async (ctx: Koa.Context, e: RequestAuditEntry): Promise<void> => {
    if ((ctx.state as Record<string, unknown>).auth) return record(ctx, e);
    await folder.deny({ actor: e.actor ?? '-', role: '-', source: ctx.ip || '-', action: e.action, target: e.target, outcome: e.outcome, details: e.details });
  };
  const core: AuthCore = {
    identity: o.identity,
    audit: o.audit,
    sessions,
    lockout,
    log: o.log,
    hasher,
    setup: new SetupToken(o.configDir, o.identity),
    dummyHash: await hasher.hash(randomBytes(24).toString('base64url')),
    ceiling: o.ceiling ?? '内部',
    async close() {
      await sessions.close();
      await lockout.persist();
    },
    cookieOptions,
    record,
    recordDenial,
    flushAudit: () => folder.flush(),
    setSessionCookies(ctx, id, csrf) {
      ctx.cookies.set(SESSION_COOKIE, id, cookieOptions);
      // Readable by the page's own script, which echoes it in the X-CSRF-Token header.
      ctx.cookies.set(CSRF_COOKIE, csrf, { ...cookieOptions, httpOnly: false });
    },
    clearSessionCookies(ctx) {
      ctx.cookies.set(SESSION_COOKIE, '', { ...cookieOptions, maxAge: 0 });
    },
    guard: (router) => createGuard(router, { identity: o.identity, sessions, log: o.log, record, recordDenial, bindSessionToAddress: o.bindSessionToAddress ?? true, clearSessionCookies: (ctx) => core.clearSessionCookies(ctx) }),
    routes(router) {
      registerAuthRoutes(router, core);
      registerAdminRoutes(router, core);
    },
    issueSetupToken: () => core.setup.issue(),
    writeSetupTokenFile: (token, url) => core.setup.writeTextFile(token, url),
  };
  return core;
}
