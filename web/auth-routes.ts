import type Koa from 'koa';
import type Router from '@koa/router';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { ApplianceError } from '../core/index.ts';
import type { AuthCore } from './auth-types.ts';
import { CSRF_COOKIE, SESSION_COOKIE, currentUser, publicRoute, requireSession } from './authorize.ts';
import { readJson } from './http-body.ts';
import { normalizeUsername, publicUser, type UserRecord, assertPasswordPolicy, ADMIN_ROLES, ROLE_NAMES, effectivePermissions, parseRole } from '../security/index.ts';

const loginBody = z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(1024) }).strict();
const passwordBody = z.object({ current: z.string().min(1).max(1024), next: z.string().min(1).max(1024) }).strict();
const setupBody = z
  .object({
    token: z.string().min(1).max(256),
    username: z.string().min(1).max(64),
    password: z.string().min(1).max(1024),
    role: z.string().min(1).max(32),
    displayName: z.string().max(64).optional(),
  })
  .strict();

/** Setup failures count per source address only, so nobody on the network can lock setup for everyone. */
const setupKey = (ip: string) => `#setup@${ip}`;

function meBody(u: UserRecord | ReturnType<typeof publicUser>, csrf: string): Record<string, unknown> {
  const { id: _id, stamp: _stamp, ...rest } = 'passwordHash' in u ? publicUser(u) : u;
  return { user: rest, permissions: [...effectivePermissions(u)].sort(), csrfToken: csrf };
}

function loginFailed(): ApplianceError {
  return new ApplianceError('LOGIN_FAILED', '用户名或密码错误。', 'wrong user name or password', { status: 401 });
}

export function registerAuthRoutes(router: Router, a: AuthCore): void {
  // A CSRF cookie before login (double submit for login and setup).
  router.get('/api/auth/csrf', publicRoute(), async (ctx: Koa.Context) => {
    let token = ctx.cookies.get(CSRF_COOKIE);
    if (!token || !/^[A-Za-z0-9_-]{43}$/.test(token)) {
      token = randomBytes(32).toString('base64url');
      ctx.cookies.set(CSRF_COOKIE, token, { ...a.cookieOptions, httpOnly: false });
    }
    ctx.body = { csrfToken: token };
  });

  router.post('/api/auth/login', publicRoute(), async (ctx: Koa.Context) => {
    const body = await readJson(ctx, loginBody);
    const name = normalizeUsername(body.username);
    const source = ctx.ip;
    // Counted before the password is checked: 30 concurrent guesses reach argon2 at most
    // maxPerAccount times, not 30 (the lock closes on the attempt that reaches the limit).
    let attempt: Awaited<ReturnType<typeof a.lockout.begin>>;
    try {
      attempt = await a.lockout.begin(name, source);
    } catch (e) {
      const secs = (e as ApplianceError).details?.remainingSeconds;
      if (typeof secs === 'number') ctx.set('Retry-After', String(secs));
      await a.recordDenial(ctx, { actor: name, action: 'auth.login', target: name, outcome: 'denied', details: { reason: (e as ApplianceError).code } });
      throw e;
    }
    let ok = false;
    let user: UserRecord | undefined;
    try {
      user = await a.identity.findUser(name);
      // The same argon2 verification whether or not the user exists: timing says nothing.
      ok = await a.hasher.verify(user?.passwordHash ?? a.dummyHash, body.password);
    } finally {
      attempt.closed.push(...a.lockout.finish(attempt.attempt, Boolean(user) && ok));
    }
    if (user && ok && user.disabled) {
      await a.record(ctx, { actor: name, action: 'auth.login', target: name, outcome: 'failure', details: { reason: 'disabled' } });
      throw new ApplianceError('ACCOUNT_DISABLED', '账户已停用，请联系系统管理员。', 'account disabled', { status: 403 });
    }
    if (!user || !ok) {
      // The attempt already counted; the counters reach the disk before the answer does.
      await a.lockout.persist();
      // A name that does not exist is folded with the other unauthenticated denials of this source;
      // a wrong password for a real account stays a record of its own.
      await (user ? a.record : a.recordDenial)(ctx, { actor: name, action: 'auth.login', target: name, outcome: 'failure', details: { reason: user ? 'wrong-password' : 'unknown-user' } });
      for (const scope of attempt.closed) {
        await a.record(ctx, {
          actor: name,
          action: 'auth.lockout',
          target: scope === 'account' ? name : source,
          outcome: 'success',
          details: { scope, minutes: Math.round(a.lockout.lockMs / 60_000) },
        });
      }
      throw loginFailed();
    }
    // Never keep a session id across a login (fixation): whatever this browser held ends now.
    const old = ctx.cookies.get(SESSION_COOKIE);
    if (old) a.sessions.destroy(old);
    const { id, session } = a.sessions.create(user, source);
    (ctx.state as Record<string, unknown>).auth = { user: publicUser(user), roles: user.roles, permissions: effectivePermissions(user), session, sessionKey: '' };
    try {
      await a.sessions.flush(); // a session the next start would not know is not handed out
      await a.record(ctx, { action: 'auth.login', target: name, outcome: 'success', details: { mustChangePassword: user.mustChangePassword, ...(user.resetPending ? { resetPending: true } : {}) } });
    } catch (e) {
      a.sessions.destroy(id); // no login that is not on record
      throw e;
    }
    a.setSessionCookies(ctx, id, session.csrf);
    ctx.body = { ...meBody(user, session.csrf), mustChangePassword: user.mustChangePassword };
  });

  router.post('/api/auth/logout', requireSession({ duringPasswordChange: true }), async (ctx: Koa.Context) => {
    const me = currentUser(ctx);
    a.sessions.destroyKey(me.sessionKey);
    a.clearSessionCookies(ctx);
    await a.record(ctx, { action: 'auth.logout', target: me.user.username, outcome: 'success' });
    ctx.body = { ok: true };
  });

  // Is this browser's session still alive? Asked by the page every few seconds: it does not count
  // as activity (the idle timeout still runs) and says nothing about anyone else. A session ended
  // for any reason (restart without it, idle, absolute limit, disable, change) answers false.
  router.get('/api/auth/alive', publicRoute(), async (ctx: Koa.Context) => {
    const s = a.sessions.peek(ctx.cookies.get(SESSION_COOKIE));
    const u = s && (await a.identity.findUserById(s.userId));
    ctx.body = { alive: Boolean(s && u && !u.disabled && u.stamp === s.stamp) };
  });

  router.get('/api/auth/me', requireSession({ duringPasswordChange: true }), async (ctx: Koa.Context) => {
    const me = currentUser(ctx);
    ctx.body = { ...meBody(me.user, me.session.csrf), mustChangePassword: me.user.mustChangePassword };
  });

  router.post('/api/auth/password', requireSession({ duringPasswordChange: true }), async (ctx: Koa.Context) => {
    const me = currentUser(ctx);
    const body = await readJson(ctx, passwordBody);
    const name = me.user.username;
    const done = async (outcome: 'success' | 'failure', details: Record<string, unknown>) => a.record(ctx, { action: 'auth.password.change', target: name, outcome, details });
    let attempt: Awaited<ReturnType<typeof a.lockout.begin>>;
    try {
      attempt = await a.lockout.begin(name, ctx.ip);
    } catch (e) {
      await done('failure', { reason: (e as ApplianceError).code });
      throw e;
    }
    const user = await a.identity.findUser(name);
    let right = false;
    try {
      right = Boolean(user) && (await a.hasher.verify(user!.passwordHash, body.current));
    } finally {
      a.lockout.finish(attempt.attempt, right);
    }
    if (!user || !right) {
      await a.lockout.persist();
      await done('failure', { reason: 'wrong-current-password' });
      throw new ApplianceError('PASSWORD_WRONG', '当前密码不正确。', 'current password wrong', { status: 400 });
    }
    try {
      assertPasswordPolicy(body.next, name);
      if (body.next === body.current) throw new ApplianceError('PASSWORD_REUSED', '新密码不能与当前密码相同。', 'new password equals current');
    } catch (e) {
      await done('failure', { reason: (e as ApplianceError).code });
      throw e;
    }
    const { user: updated } = await a.identity.setPassword(name, await a.hasher.hash(body.next), false);
    // Every other session of this user ends at its next request (its stamp is now stale); this one is replaced.
    a.sessions.destroyKey(me.sessionKey);
    const { id, session } = a.sessions.create(updated, ctx.ip);
    await a.sessions.flush();
    a.setSessionCookies(ctx, id, session.csrf);
    await done('success', updated.resetPending ? { resetPending: true } : {});
    ctx.body = { ...meBody(updated, session.csrf), mustChangePassword: false };
  });

  router.get('/api/auth/setup', publicRoute(), async (ctx: Koa.Context) => {
    const vacant = await a.identity.vacantAdminRoles();
    ctx.body = { needed: vacant.length > 0 && (await a.setup.active()), vacantRoles: vacant.map((r) => ({ code: r, name: ROLE_NAMES[r] })) };
  });

  router.post('/api/auth/setup', publicRoute(), async (ctx: Koa.Context) => {
    const body = await readJson(ctx, setupBody);
    const name = normalizeUsername(body.username);
    const fail = async (reason: string, e: ApplianceError): Promise<never> => {
      // Guessing at the token (or being locked out for it) is folded per source; failures with the right token are not.
      const denial = reason === 'bad-token' || reason === 'ACCOUNT_LOCKED' || reason === 'SOURCE_LOCKED';
      await (denial ? a.recordDenial : a.record)(ctx, { actor: '-', action: 'auth.setup', target: name, outcome: 'failure', details: { reason } });
      throw e;
    };
    let attempt: Awaited<ReturnType<typeof a.lockout.begin>>;
    try {
      attempt = await a.lockout.begin(setupKey(ctx.ip), ctx.ip);
    } catch (e) {
      return fail((e as ApplianceError).code, e as ApplianceError);
    }
    let good = false;
    try {
      good = await a.setup.check(body.token);
    } finally {
      a.lockout.finish(attempt.attempt, good);
    }
    if (!good) {
      await a.lockout.persist();
      return fail('bad-token', new ApplianceError('SETUP_TOKEN_INVALID', '初始设置令牌无效或已失效（三员账户均已建立后令牌作废）。', 'setup token invalid', { status: 403 }));
    }
    let user: UserRecord;
    try {
      const role = parseRole(body.role);
      if (!ADMIN_ROLES.includes(role)) throw new ApplianceError('SETUP_ROLE_INVALID', '初始设置只能创建系统管理员、安全保密管理员或安全审计员账户。', 'setup creates administrators only');
      assertPasswordPolicy(body.password, name);
      user = await a.identity.createUser(
        { username: name, displayName: body.displayName, roles: [role], passwordHash: await a.hasher.hash(body.password), mustChangePassword: false },
        { requireVacantAdminRole: true },
      );
    } catch (e) {
      if (e instanceof ApplianceError) return fail(e.code, e);
      throw e;
    }
    await a.setup.retireIfDone();
    await a.record(ctx, { actor: '-', action: 'auth.setup', target: user.username, outcome: 'success', details: { role: user.roles[0] } });
    ctx.status = 201;
    ctx.body = { user: { username: user.username, roles: user.roles }, vacantRoles: await a.identity.vacantAdminRoles() };
  });
}
