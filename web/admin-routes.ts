import type Koa from 'koa';
import type Router from '@koa/router';
import { z } from 'zod';
import { CLASSIFICATIONS, ApplianceError } from '../core/index.ts';
import type { AuthCore } from './auth-types.ts';
import { currentUser, requirePermission } from './authorize.ts';
import { exportAudit, exportRange, verifyAudit, normalizeUsername, publicUser, type PublicUser, assertPasswordPolicy, ROLE_NAMES, grantPermission, parseRole, type Role } from '../security/index.ts';
import { readJson } from './http-body.ts';

type Ctx = Koa.Context & { params: Record<string, string> };

const createUserBody = z
  .object({ username: z.string().min(1).max(64), displayName: z.string().max(64).optional(), password: z.string().min(1).max(1024), roles: z.array(z.string().max(32)).max(5).optional() })
  .strict();
const passwordBody = z.object({ password: z.string().min(1).max(1024) }).strict();
const rolesBody = z.object({ roles: z.array(z.string().max(32)).max(5) }).strict();
const accessBody = z
  .object({ posts: z.array(z.string().max(32)).max(200).optional(), clearance: z.enum(CLASSIFICATIONS).optional(), filingPosts: z.array(z.string().max(32)).max(200).optional() })
  .strict();
const postBody = z.object({ code: z.string().min(1).max(32), name: z.string().min(1).max(64), department: z.string().max(64).optional() }).strict();
const postPatchBody = z.object({ name: z.string().min(1).max(64).optional(), department: z.string().max(64).optional(), disabled: z.boolean().optional() }).strict();

function view(u: PublicUser): Record<string, unknown> {
  const { stamp: _s, ...rest } = u;
  return rest;
}

/** Run an admin action so that it leaves exactly one audit record, success or not. */
function audited(a: AuthCore, action: string, target: (ctx: Ctx) => string, fn: (ctx: Ctx) => Promise<Record<string, unknown>>): (ctx: Ctx) => Promise<void> {
  return async (ctx) => {
    let details: Record<string, unknown>;
    try {
      details = await fn(ctx);
    } catch (e) {
      const code = e instanceof ApplianceError ? e.code : 'INTERNAL';
      await a.record(ctx, { action, target: target(ctx), outcome: code === 'GRANT_FORBIDDEN' ? 'denied' : 'failure', details: { error: code } });
      throw e;
    }
    await a.record(ctx, { action, target: target(ctx), outcome: 'success', details });
  };
}

/** 三员: only the holder of grant:<role> may give or take that role. */
function assertMayGrant(ctx: Koa.Context, changed: Role[]): void {
  const me = currentUser(ctx);
  const refused = changed.filter((r) => !me.permissions.has(grantPermission(r)));
  if (refused.length) {
    throw new ApplianceError(
      'GRANT_FORBIDDEN',
      `三员分立：您无权授予、撤销或管理角色 ${refused.map((r) => ROLE_NAMES[r]).join('、')}（相关账户请由对应管理员或在控制台处理）。`,
      `may not grant ${refused.join(',')}`,
      { status: 403 },
    );
  }
}

export function registerAdminRoutes(router: Router, a: AuthCore): void {
  // Sessions of a changed user are not dropped here: their stamp no longer matches, so the next
  // request ends them with a message saying why (SESSION_INVALIDATED), in this process or another.
  const endSessions = (_userId: string) => undefined;
  const byName = (ctx: Ctx) => String(ctx.params.username ?? '-');

  router.get('/api/admin/users', requirePermission('user:list'), async (ctx: Koa.Context) => {
    // `lockedUntil`: the login lock of this account name (ms since epoch), for 已锁定 / 解锁.
    ctx.body = { users: (await a.identity.users()).map((u) => ({ ...view(publicUser(u)), lockedUntil: a.lockout.isLocked(u.username) || null })), ceiling: a.ceiling };
  });

  // 解锁: the system administrator opens a login lock before it runs out (the person called).
  router.post(
    '/api/admin/users/:username/unlock',
    requirePermission('user:unlock'),
    audited(a, 'user.unlock', byName, async (ctx) => {
      await assertMayManage(ctx);
      const target = (await a.identity.findUser(ctx.params.username))!;
      const was = a.lockout.clear(target.username);
      await a.lockout.persist();
      ctx.body = { ok: true, wasLocked: was };
      return { wasLocked: was };
    }),
  );

  // The security officer confirms a password reset the system administrator made: only then does
  // the account see, search, download or file archives again (no silent account takeover).
  router.post(
    '/api/admin/users/:username/confirm-reset',
    requirePermission('user:confirm-reset'),
    audited(a, 'user.password.reset.confirm', byName, async (ctx) => {
      if (normalizeUsername(ctx.params.username) === currentUser(ctx).user.username) {
        throw new ApplianceError('GRANT_FORBIDDEN', '不能确认自己账户的密码重置。', 'may not confirm a reset of ones own account', { status: 403 });
      }
      const { before, user } = await a.identity.confirmReset(ctx.params.username);
      ctx.body = { user: view(publicUser(user)) };
      return { resetBy: before.by, resetAt: before.at, ownerChanged: !user.mustChangePassword };
    }),
  );

  router.post(
    '/api/admin/users',
    requirePermission('user:create'),
    audited(
      a,
      'user.create',
      (ctx) => String((ctx.state as Record<string, unknown>).target ?? '-'),
      async (ctx) => {
        const body = await readJson(ctx, createUserBody);
        (ctx.state as Record<string, unknown>).target = body.username;
        const roles = (body.roles ?? []).map(parseRole);
        assertMayGrant(ctx, roles);
        assertPasswordPolicy(body.password, body.username);
        const user = await a.identity.createUser({ username: body.username, displayName: body.displayName, roles, passwordHash: await a.hasher.hash(body.password), mustChangePassword: true });
        ctx.status = 201;
        ctx.body = { user: view(publicUser(user)) };
        return { roles: user.roles };
      },
    ),
  );

  /**
   * A system administrator must not be able to take over (or silence) the other two officers: an
   * account holding a role the caller cannot grant is not theirs to disable or reset. Those
   * accounts are reset at the console, which is on record as `console`.
   */
  const assertMayManage = async (ctx: Ctx) => {
    const target = await a.identity.findUser(ctx.params.username);
    if (!target) throw new ApplianceError('USER_NOT_FOUND', `用户不存在：${ctx.params.username}`, 'no such user', { status: 404 });
    assertMayGrant(ctx, target.roles);
  };

  for (const [path, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    router.post(
      `/api/admin/users/:username/${path}`,
      requirePermission('user:disable'),
      audited(a, `user.${path}`, byName, async (ctx) => {
        await assertMayManage(ctx);
        const { user } = await a.identity.setDisabled(ctx.params.username, disabled);
        endSessions(user.id);
        ctx.body = { user: view(publicUser(user)) };
        return {};
      }),
    );
  }

  router.post(
    '/api/admin/users/:username/password',
    requirePermission('user:password-reset'),
    audited(a, 'user.password.reset', byName, async (ctx) => {
      const body = await readJson(ctx, passwordBody);
      await assertMayManage(ctx);
      assertPasswordPolicy(body.password, ctx.params.username);
      const me = currentUser(ctx);
      // The account may log in only to set its own password; its item access waits for the secadmin.
      const { user } = await a.identity.setPassword(ctx.params.username, await a.hasher.hash(body.password), true, { kind: 'admin', by: me.user.username });
      endSessions(user.id);
      a.lockout.clear(user.username);
      ctx.body = { user: view(publicUser(user)) };
      return { mustChangePassword: true, awaitingConfirmation: true };
    }),
  );

  router.put(
    '/api/admin/users/:username/roles',
    requirePermission('user:roles'),
    audited(a, 'user.roles', byName, async (ctx) => {
      const body = await readJson(ctx, rolesBody);
      const next = [...new Set(body.roles.map(parseRole))];
      const current = await a.identity.findUser(ctx.params.username);
      if (!current) throw new ApplianceError('USER_NOT_FOUND', `用户不存在：${ctx.params.username}`, 'no such user', { status: 404 });
      const changed = [...next.filter((r) => !current.roles.includes(r)), ...current.roles.filter((r) => !next.includes(r))];
      assertMayGrant(ctx, changed);
      const { before, user } = await a.identity.setRoles(ctx.params.username, next);
      endSessions(user.id);
      ctx.body = { user: view(publicUser(user)) };
      return { before, after: user.roles };
    }),
  );

  router.put(
    '/api/admin/users/:username/access',
    requirePermission('user:access'),
    audited(a, 'user.access', byName, async (ctx) => {
      const body = await readJson(ctx, accessBody);
      const { before, user } = await a.identity.setAccess(ctx.params.username, { ...body, ceiling: a.ceiling });
      endSessions(user.id);
      ctx.body = { user: view(publicUser(user)) };
      return { before, after: { posts: user.posts, clearance: user.clearance, ...(before.filingPosts ? { filingPosts: user.filingPosts ?? [] } : {}) } };
    }),
  );

  router.get('/api/admin/posts', requirePermission('post:list'), async (ctx: Koa.Context) => {
    ctx.body = { posts: await a.identity.posts() };
  });

  router.post(
    '/api/admin/posts',
    requirePermission('post:manage'),
    audited(
      a,
      'post.create',
      (ctx) => String((ctx.state as Record<string, unknown>).target ?? '-'),
      async (ctx) => {
        const body = await readJson(ctx, postBody);
        (ctx.state as Record<string, unknown>).target = body.code;
        const post = await a.identity.createPost(body);
        ctx.status = 201;
        ctx.body = { post };
        return { name: post.name, department: post.department };
      },
    ),
  );

  // Rename or disable a post; posts are never deleted (items and accounts name them), and a
  // disabled post is given to no new item or account.
  router.patch(
    '/api/admin/posts/:code',
    requirePermission('post:manage'),
    audited(
      a,
      'post.update',
      (ctx) => String(ctx.params.code ?? '-'),
      async (ctx) => {
        const body = await readJson(ctx, postPatchBody);
        const { before, post } = await a.identity.updatePost(ctx.params.code, body);
        ctx.body = { post };
        return {
          before: { name: before.name, department: before.department, disabled: Boolean(before.disabled) },
          after: { name: post.name, department: post.department, disabled: Boolean(post.disabled) },
        };
      },
    ),
  );

  router.get('/api/admin/audit/verify', requirePermission('audit:verify'), async (ctx: Koa.Context) => {
    const result = await verifyAudit(a.audit.dir);
    await a.record(ctx, { action: 'audit.verify', target: 'audit', outcome: result.ok ? 'success' : 'failure', details: { records: result.records, firstBroken: result.firstBroken ?? null } });
    ctx.body = result;
  });

  // The auditor's reading view: the last `limit` records matching the filters, oldest first.
  router.get('/api/admin/audit/records', requirePermission('audit:read'), async (ctx: Koa.Context) => {
    const q = (k: string) => (typeof ctx.query[k] === 'string' ? (ctx.query[k] as string) : undefined);
    const range = exportRange(q('from'), q('to'));
    if (Number.isNaN(range.from) || Number.isNaN(range.to)) throw new ApplianceError('RANGE_INVALID', '时间范围有误：请用 YYYY-MM-DD 或 ISO 时间。', 'bad from/to');
    const limit = Math.min(1000, Math.max(1, Number(q('limit') ?? 200) || 200));
    const actor = q('actor');
    const act = q('action');
    const out: unknown[] = [];
    for await (const rec of exportAudit(a.audit.dir, range)) {
      if (actor && rec.actor !== actor) continue;
      if (act && rec.action !== act && !rec.action.startsWith(`${act}.`)) continue;
      out.push(rec);
      if (out.length > limit) out.shift();
    }
    await a.record(ctx, {
      action: 'audit.read',
      target: 'audit',
      outcome: 'success',
      details: { from: q('from') ?? null, to: q('to') ?? null, actor: actor ?? null, filterAction: act ?? null, records: out.length },
    });
    ctx.body = { records: out };
  });

  router.get('/api/admin/audit/export', requirePermission('audit:export'), async (ctx: Koa.Context) => {
    const from = typeof ctx.query.from === 'string' ? ctx.query.from : undefined;
    const to = typeof ctx.query.to === 'string' ? ctx.query.to : undefined;
    const range = exportRange(from, to);
    if (Number.isNaN(range.from) || Number.isNaN(range.to)) throw new ApplianceError('RANGE_INVALID', '时间范围有误：请用 YYYY-MM-DD 或 ISO 时间。', 'bad from/to');
    const out: string[] = [];
    for await (const rec of exportAudit(a.audit.dir, range)) out.push(JSON.stringify(rec));
    await a.record(ctx, { action: 'audit.export', target: 'audit', outcome: 'success', details: { from: from ?? null, to: to ?? null, records: out.length } });
    ctx.type = 'application/x-ndjson; charset=utf-8';
    ctx.set('Content-Disposition', 'attachment; filename="audit-export.jsonl"');
    ctx.body = out.length ? `${out.join('\n')}\n` : '';
  });
}
