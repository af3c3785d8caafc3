import type Koa from 'koa';
import type Router from '@koa/router';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Classification, Logger } from '../core/index.ts';
import {
  type AuditLog,
  DenialFolder,
  type AuditEntry,
  type IdentityStore,
  Lockout,
  type LockoutOptions,
  argon2Hasher,
  type PasswordHasher,
  roleLabel,
  SessionStore,
  type SessionOptions,
  SetupToken,
} from '../security/index.ts';
import { CSRF_COOKIE, SESSION_COOKIE, createGuard, type AuthContext } from './authorize.ts';
import { registerAuthRoutes } from './auth-routes.ts';
import { registerAdminRoutes } from './admin-routes.ts';
import type { Auth, AuthCore, AuthOptions, RequestAuditEntry } from './auth-types.ts';

export type { Auth, AuthCore, AuthOptions, RequestAuditEntry } from './auth-types.ts';

export async function createAuth(o: AuthOptions): Promise<Auth> {
  const hasher = o.hasher ?? argon2Hasher;
  const sessions = new SessionStore({ now: o.now, file: o.stateDir && join(o.stateDir, 'sessions.json'), ...o.sessions });
  const lockout = new Lockout({ now: o.now, file: o.stateDir && join(o.stateDir, 'lockout.json'), ...o.lockout });
  const secure = Boolean(o.secureCookies);
  const cookieOptions = { httpOnly: true, sameSite: 'strict' as const, secure, path: '/', overwrite: true };
  const record = async (ctx: Koa.Context, e: RequestAuditEntry): Promise<void> => {
    const a = (ctx.state as Record<string, unknown>).auth as AuthContext | undefined;
    await o.audit.append({
      actor: e.actor ?? a?.user.username ?? '-',
      role: a ? roleLabel(a.roles) : '-',
      source: ctx.ip || '-',
      action: e.action,
      target: e.target,
      outcome: e.outcome,
      details: e.details,
    });
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
    guard: (router) =>
      createGuard(router, {
        identity: o.identity,
        sessions,
        log: o.log,
        record,
        recordDenial,
        bindSessionToAddress: o.bindSessionToAddress ?? true,
        clearSessionCookies: (ctx) => core.clearSessionCookies(ctx),
      }),
    routes(router) {
      registerAuthRoutes(router, core);
      registerAdminRoutes(router, core);
    },
    issueSetupToken: () => core.setup.issue(),
    writeSetupTokenFile: (token, url) => core.setup.writeTextFile(token, url),
  };
  return core;
}
