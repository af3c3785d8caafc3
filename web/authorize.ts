import type Koa from 'koa';
import type Router from '@koa/router';
import { timingSafeEqual } from 'node:crypto';
import { ApplianceError, type Logger, type Viewer } from '../core/index.ts';
import {
  type AuditEntry,
  type IdentityStore,
  type PublicUser,
  publicUser,
  ITEM_PERMISSIONS,
  effectivePermissions,
  permissionsOf,
  roleLabel,
  type Permission,
  type Role,
  type Session,
  type SessionStore,
} from '../security/index.ts';

export const SESSION_COOKIE = 'archive_session';
export const CSRF_COOKIE = 'archive_csrf';
export const CSRF_HEADER = 'x-csrf-token';

/** How a route is protected. Every route on the router must carry exactly one such declaration. */
export type RoutePolicy = { kind: 'public' } | { kind: 'session'; permission?: Permission; duringPasswordChange?: boolean };

/** Who is calling, set by the guard on every route that needs a session. */
export interface AuthContext {
  user: PublicUser;
  roles: Role[];
  permissions: ReadonlySet<Permission>;
  session: Session;
  sessionKey: string;
}

const POLICIES = new WeakMap<object, RoutePolicy>();
const GUARDED = Symbol('archive.guarded');

type State = Record<string | symbol, unknown>;

function declared(policy: RoutePolicy): Koa.Middleware {
  // Second line of defence: if the guard was not installed in front of the router, refuse.
  const mw: Koa.Middleware = async (ctx, next) => {
    const seen = (ctx.state as State)[GUARDED] as RoutePolicy[] | undefined;
    if (!seen?.includes(policy)) throw new ApplianceError('AUTHZ_NOT_ENFORCED', '访问控制未生效，请求已拒绝。', 'authorization guard not installed', { status: 403 });
    await next();
  };
  POLICIES.set(mw, policy);
  return mw;
}

/** Anyone, logged in or not (health, login, setup). State-changing methods still need the CSRF cookie+header. */
export function publicRoute(): Koa.Middleware {
  return declared({ kind: 'public' });
}

/** Any logged-in user; `duringPasswordChange` also lets through users who must first change their password. */
export function requireSession(opts: { duringPasswordChange?: boolean } = {}): Koa.Middleware {
  return declared({ kind: 'session', duringPasswordChange: opts.duringPasswordChange });
}

/** A logged-in user whose roles grant `permission` (see ROLE_PERMISSIONS). */
export function requirePermission(permission: Permission): Koa.Middleware {
  return declared({ kind: 'session', permission });
}

/** The caller of a route declared with requireSession/requirePermission. */
export function currentUser(ctx: Koa.Context): AuthContext {
  const a = (ctx.state as State).auth as AuthContext | undefined;
  if (!a) throw new ApplianceError('AUTH_REQUIRED', '请先登录。', 'not authenticated', { status: 401 });
  return a;
}

/** Posts and clearance of the caller, for the access rule (canSee) and search filters. */
export function currentViewer(ctx: Koa.Context): Viewer {
  const a = currentUser(ctx);
  if (a.user.resetPending) throw awaitingConfirmation();
  if (!a.permissions.has('item:read') && !a.permissions.has('item:search')) {
    throw new ApplianceError('FORBIDDEN', '您的角色无权查阅档案。', 'role may not read items', { status: 403 });
  }
  return { posts: [...a.user.posts], clearance: a.user.clearance };
}

/** Item access held back after an administrator's password reset (security/identity-store.ts). */
export function awaitingConfirmation(): ApplianceError {
  return new ApplianceError(
    'RESET_AWAITING_CONFIRMATION',
    '您的密码已由管理员重置：查阅、下载与采集档案的权限须待安全保密管理员确认此次重置后恢复。',
    'item access suspended until the security officer confirms the password reset',
    { status: 403 },
  );
}

export function sameToken(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface GuardDeps {
  identity: IdentityStore;
  sessions: SessionStore;
  log: Logger;
  record: (ctx: Koa.Context, e: Omit<AuditEntry, 'actor' | 'role' | 'source'> & Partial<Pick<AuditEntry, 'actor'>>) => Promise<void>;
  /** Denials of requests without a session, folded per source and minute (audit-fold.ts). */
  recordDenial?: (ctx: Koa.Context, e: Omit<AuditEntry, 'actor' | 'role' | 'source'> & Partial<Pick<AuditEntry, 'actor'>>) => Promise<void>;
  clearSessionCookies: (ctx: Koa.Context) => void;
  /** Refuse a session cookie presented from another address than the login's. */
  bindSessionToAddress?: boolean;
}

async function authenticate(ctx: Koa.Context, d: GuardDeps): Promise<AuthContext> {
  const found = d.sessions.lookup(ctx.cookies.get(SESSION_COOKIE));
  if (!found) throw new ApplianceError('AUTH_REQUIRED', '请先登录。', 'not authenticated', { status: 401 });
  if ('expired' in found) {
    d.clearSessionCookies(ctx);
    const why = found.expired === 'idle' ? '长时间未操作' : '已超过会话最长时长';
    throw new ApplianceError('SESSION_EXPIRED', `会话已过期（${why}），请重新登录。`, `session expired (${found.expired})`, { status: 401, details: { reason: found.expired } });
  }
  const { session, key } = found;
  if (d.bindSessionToAddress && session.source !== ctx.ip) {
    // A cookie replayed from elsewhere: the session is ended for both, and the auditor sees where.
    d.sessions.destroyKey(key);
    d.clearSessionCookies(ctx);
    await d.record(ctx, { actor: session.username, action: 'auth.session.address-mismatch', target: session.username, outcome: 'denied', details: { boundTo: session.source } });
    throw new ApplianceError('SESSION_ADDRESS_MISMATCH', '会话与登录时的网络地址不符，已结束。请重新登录。', 'session cookie presented from another address', { status: 401 });
  }
  const user = await d.identity.findUserById(session.userId);
  if (!user || user.disabled || user.stamp !== session.stamp) {
    d.sessions.destroyKey(key);
    d.clearSessionCookies(ctx);
    throw new ApplianceError('SESSION_INVALIDATED', user?.disabled ? '账户已停用，会话已结束。' : '您的账户（岗位、角色、密级或密码）已变更，请重新登录。', 'session invalidated by account change', {
      status: 401,
    });
  }
  return { user: publicUser(user), roles: user.roles, permissions: effectivePermissions(user), session, sessionKey: key };
}

/**
 * Deny by default: placed in front of the router, it finds the route the request will reach and
 * refuses it unless that route declared its policy (publicRoute / requireSession /
 * requirePermission) — so a new route that forgets its check answers 403, not data. Then it
 * enforces the policy: session, CSRF on every state-changing method, forced password change,
 * permission. Requests that match no route fall through to 404.
 */
export function createGuard(router: Router, d: GuardDeps): Koa.Middleware {
  return async (ctx, next) => {
    const m = router.match(ctx.path, ctx.method);
    if (!m.route) return next();
    const routes = m.pathAndMethod.filter((l) => l.methods.length > 0);
    const policies = routes.map((l) => l.stack.map((fn) => POLICIES.get(fn)).find((p) => p !== undefined));
    if (policies.some((p) => p === undefined)) {
      d.log.error({ method: ctx.method, path: ctx.path, routes: routes.map((l) => l.path) }, 'route has no declared authorization policy: refused');
      throw new ApplianceError('ROUTE_NOT_DECLARED', '该接口未声明访问权限，已拒绝。', 'route without an authorization policy', { status: 403 });
    }
    const all = policies as RoutePolicy[];
    const needSession = all.filter((p): p is Extract<RoutePolicy, { kind: 'session' }> => p.kind === 'session');
    const changing = !SAFE.has(ctx.method);
    if (!needSession.length) {
      if (changing && !sameToken(ctx.get(CSRF_HEADER), ctx.cookies.get(CSRF_COOKIE))) {
        await (d.recordDenial ?? d.record)(ctx, { action: 'auth.csrf', target: ctx.path, outcome: 'denied', details: { method: ctx.method } });
        throw new ApplianceError('CSRF_REJECTED', '请求缺少有效的防伪令牌（CSRF），已拒绝。请刷新页面后重试。', 'CSRF token missing or wrong', { status: 403 });
      }
      (ctx.state as State)[GUARDED] = all;
      return next();
    }
    let auth: AuthContext;
    try {
      auth = await authenticate(ctx, d);
    } catch (e) {
      // 401s are probing as much as failed logins are: on record, folded per source and minute.
      // Not the sign-in page's own question: GET /api/auth/me with no session cookie at all (every
      // visit to the page asks it, and its answer tells nothing); with a cookie, forged or stale, it is.
      const signInProbe = ctx.method === 'GET' && ctx.path === '/api/auth/me' && !ctx.cookies.get(SESSION_COOKIE);
      if (e instanceof ApplianceError && e.status === 401 && e.code !== 'SESSION_ADDRESS_MISMATCH' && d.recordDenial && !signInProbe) {
        await d.recordDenial(ctx, { action: 'auth.required', target: `${ctx.method} ${ctx.path}`, outcome: 'denied', details: { reason: e.code } });
      }
      throw e;
    }
    (ctx.state as State).auth = auth;
    if (changing && !sameToken(ctx.get(CSRF_HEADER), auth.session.csrf)) {
      await d.record(ctx, { action: 'auth.csrf', target: ctx.path, outcome: 'denied', details: { method: ctx.method } });
      throw new ApplianceError('CSRF_REJECTED', '请求缺少有效的防伪令牌（CSRF），已拒绝。请刷新页面后重试。', 'CSRF token missing or wrong', { status: 403 });
    }
    if (auth.user.mustChangePassword && !needSession.every((p) => p.duringPasswordChange)) {
      throw new ApplianceError('PASSWORD_CHANGE_REQUIRED', '首次登录或密码被重置后须先修改密码。', 'password change required', { status: 403 });
    }
    for (const p of needSession) {
      if (p.permission && !auth.permissions.has(p.permission)) {
        if (auth.user.resetPending && ITEM_PERMISSIONS.includes(p.permission) && permissionsOf(auth.roles).has(p.permission)) {
          await d.record(ctx, { action: 'authz.denied', target: `${ctx.method} ${ctx.path}`, outcome: 'denied', details: { permission: p.permission, reason: 'reset-awaiting-confirmation' } });
          throw awaitingConfirmation();
        }
        await d.record(ctx, { action: 'authz.denied', target: `${ctx.method} ${ctx.path}`, outcome: 'denied', details: { permission: p.permission } });
        throw new ApplianceError('FORBIDDEN', `您的角色（${roleLabel(auth.roles)}）无权执行此操作。`, `missing permission ${p.permission}`, { status: 403, details: { permission: p.permission } });
      }
    }
    (ctx.state as State)[GUARDED] = all;
    return next();
  };
}
