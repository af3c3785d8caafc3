import Koa from 'koa';
import Router from '@koa/router';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicRoute, requirePermission } from '../../web/authorize.ts';
import { GOOD_PASSWORD, startTestApp, type TestApp } from './support.ts';

describe('login, sessions, CSRF, lockout', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ lockout: { maxPerAccount: 5, maxPerSource: 12 } });
    await t.sec.identity.createPost({ code: 'BGS', name: '办公室' });
    await t.sec.identity.createPost({ code: 'ZH', name: '综合科' });
    for (const u of ['ann', 'ben', 'cat', 'dan', 'eve']) await t.addUser(u, ['staff'], { posts: ['BGS'], clearance: '内部' });
    await t.addUser('sec', ['secadmin']);
    await t.addUser('sys', ['sysadmin']);
  });
  afterAll(() => t.close());

  it('session cookie is HttpOnly, SameSite=Strict, random; /me shows posts and clearance; logout ends it (one audit record each)', async () => {
    const c = t.client();
    await c.get('/api/auth/csrf');
    const before = await t.auditCount();
    const res = await c.login('ann');
    expect(res.status).toBe(200);
    const setCookie = res.headers.getSetCookie().find((x) => x.startsWith('archive_session='))!;
    expect(setCookie).toMatch(/httponly/i);
    expect(setCookie).toMatch(/samesite=strict/i);
    expect(c.cookies.get('archive_session')!.length).toBeGreaterThanOrEqual(43);
    expect(await t.auditCount()).toBe(before + 1);
    expect((await t.auditTail(1))[0]).toMatchObject({ actor: 'ann', role: 'staff', source: '127.0.0.1', action: 'auth.login', outcome: 'success' });
    const me = await c.get('/api/auth/me');
    expect(me.body.user).toMatchObject({ username: 'ann', posts: ['BGS'], clearance: '内部', roles: ['staff'] });
    expect(me.body.user.passwordHash).toBeUndefined();
    const out = await c.req('POST', '/api/auth/logout', {});
    expect(out.status).toBe(200);
    expect(await t.auditCount()).toBe(before + 2);
    expect((await t.auditTail(1))[0]).toMatchObject({ actor: 'ann', action: 'auth.logout' });
    expect((await c.get('/api/auth/me')).status).toBe(401);
  });

  it('CSRF: a state-changing request without the token, or with a wrong one, is refused and changes nothing', async () => {
    const sys = t.client();
    await sys.login('sys');
    const users = async () => (await t.sec.identity.users()).length;
    const n = await users();
    for (const csrf of [false, 'forged-token'] as const) {
      const r = await sys.req('POST', '/api/admin/users', { username: `csrf${csrf ? 1 : 0}`, password: 'Init!al-pass-123', roles: ['staff'] }, { csrf });
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe('CSRF_REJECTED');
    }
    expect(await users()).toBe(n);
    // Login itself needs the double-submit cookie + header.
    const anon = t.client();
    const r = await anon.req('POST', '/api/auth/login', { username: 'ben', password: GOOD_PASSWORD });
    expect(r.body.error.code).toBe('CSRF_REJECTED');
    // Logout is state-changing too.
    const ben = t.client();
    await ben.login('ben');
    expect((await ben.req('POST', '/api/auth/logout', {}, { csrf: false })).status).toBe(403);
    expect((await ben.get('/api/auth/me')).status).toBe(200);
  });

  it('idle and absolute expiry (injected clock)', async () => {
    const c = t.client();
    await c.login('cat');
    t.clock.advance(29 * 60_000);
    expect((await c.get('/api/auth/me')).status).toBe(200); // activity resets the idle timer
    t.clock.advance(29 * 60_000);
    expect((await c.get('/api/auth/me')).status).toBe(200);
    t.clock.advance(30 * 60_000 + 1);
    const idle = await c.get('/api/auth/me');
    expect(idle.status).toBe(401);
    expect(idle.body.error.code).toBe('SESSION_EXPIRED');
    expect(idle.body.error.message).toContain('长时间未操作');

    const d = t.client();
    await d.login('cat');
    for (let i = 0; i < 30; i++) {
      t.clock.advance(29 * 60_000); // always active, never idle…
      const r = await d.get('/api/auth/me');
      if (r.status !== 200) {
        expect(i * 29 * 60_000).toBeGreaterThanOrEqual(11 * 3_600_000); // …but ends after 12 h
        expect(r.body.error.code).toBe('SESSION_EXPIRED');
        expect(r.body.error.message).toContain('最长时长');
        return;
      }
    }
    throw new Error('session outlived the absolute limit');
  });

  it('a session ends when the security officer changes the user’s posts', async () => {
    const dan = t.client();
    await dan.login('dan');
    expect((await dan.get('/api/auth/me')).body.user.posts).toEqual(['BGS']);
    const sec = t.client();
    await sec.login('sec');
    expect((await sec.req('PUT', '/api/admin/users/dan/access', { posts: ['ZH'] })).status).toBe(200);
    const r = await dan.get('/api/auth/me');
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('SESSION_INVALIDATED');
    await dan.login('dan');
    expect((await dan.get('/api/auth/me')).body.user.posts).toEqual(['ZH']);
  });

  it('sessions end on role change, password reset and disable too', async () => {
    const sys = t.client();
    await sys.login('sys');
    for (const change of [() => sys.req('PUT', '/api/admin/users/eve/roles', { roles: ['archivist'] }), () => sys.req('POST', '/api/admin/users/eve/password', { password: 'Reset!pass-2026' })]) {
      const eve = t.client();
      expect((await eve.login('eve', (await t.sec.identity.findUser('eve'))!.mustChangePassword ? 'Reset!pass-2026' : GOOD_PASSWORD)).status).toBe(200);
      expect((await change()).status).toBe(200);
      expect((await eve.get('/api/auth/me')).body.error.code).toBe('SESSION_INVALIDATED');
    }
  });

  it('an initial password must be changed before anything else', async () => {
    const eve = t.client();
    const r = await eve.login('eve', 'Reset!pass-2026');
    expect(r.body.mustChangePassword).toBe(true);
    expect((await eve.get('/api/admin/users')).body.error.code).toBe('PASSWORD_CHANGE_REQUIRED');
    const weak = await eve.req('POST', '/api/auth/password', { current: 'Reset!pass-2026', next: 'short' });
    expect(weak.body.error.code).toBe('PASSWORD_POLICY');
    expect(weak.body.error.message).toContain('至少 12 个字符');
    const ok = await eve.req('POST', '/api/auth/password', { current: 'Reset!pass-2026', next: 'Fresh-pass-2026!' });
    expect(ok.status).toBe(200);
    expect((await eve.get('/api/auth/me')).body.mustChangePassword).toBe(false);
    expect((await t.client().login('eve', 'Reset!pass-2026')).status).toBe(401);
  });

  it('lockout per account after 5 failures, with the time left, even for the right password; audited once', async () => {
    const c = t.client();
    for (let i = 0; i < 4; i++) expect((await c.login('ben', 'wrong-password')).body.error.code).toBe('LOGIN_FAILED');
    const before = await t.auditCount();
    expect((await c.login('ben', 'wrong-password')).status).toBe(401);
    const recs = await t.auditTail(2);
    expect(await t.auditCount()).toBe(before + 2);
    expect(recs.map((r) => [r.action, r.outcome])).toEqual([
      ['auth.login', 'failure'],
      ['auth.lockout', 'success'],
    ]);
    const locked = await c.login('ben', GOOD_PASSWORD);
    expect(locked.status).toBe(429);
    expect(locked.body.error.code).toBe('ACCOUNT_LOCKED');
    expect(locked.body.error.message).toMatch(/请在 15 分钟后重试/);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(800);
    t.clock.advance(15 * 60_000 + 1);
    expect((await c.login('ben', GOOD_PASSWORD)).status).toBe(200);
  });

  it('lockout per source address across many names; names that do not exist lock the same way', async () => {
    const c = t.client();
    let last;
    for (let i = 0; i < 12; i++) last = await c.login(`ghost${i}`, 'nope');
    expect(last!.status).toBe(401);
    const r = await c.login('ann', GOOD_PASSWORD);
    expect(r.status).toBe(429);
    expect(r.body.error.code).toBe('SOURCE_LOCKED');
    expect(r.body.error.message).toContain('此地址');
    t.clock.advance(15 * 60_000 + 1);
    // A name that does not exist locks after 5 like a real one.
    for (let i = 0; i < 5; i++) await c.login('nobody', 'nope');
    expect((await c.login('nobody', 'nope')).body.error.code).toBe('ACCOUNT_LOCKED');
    t.clock.advance(15 * 60_000 + 1);
  });

  it('fails closed when the audit trail cannot be written: no record, no login', async () => {
    const { appendFile, readFile, writeFile } = await import('node:fs/promises');
    const file = `${t.sec.audit.dir}/audit-${new Date().getFullYear()}.jsonl`;
    const saved = await readFile(file);
    await appendFile(file, '{"half a rec');
    try {
      const c = t.client();
      const r = await c.login('ann');
      expect(r.status).toBe(503);
      expect(r.body.error.code).toBe('AUDIT_TAIL_CORRUPT');
      expect(c.cookies.has('archive_session')).toBe(false);
    } finally {
      await writeFile(file, saved);
    }
  });

  it('login timing does not reveal whether a user exists: both paths run one argon2id verify with the same parameters and answer identically', async () => {
    const c = t.client();
    t.hasher.verifies.length = 0;
    const real = await c.login('ann', 'Wrong-password-1');
    const ghost = await c.login('no-such-user', 'Wrong-password-1');
    expect(t.hasher.verifies).toHaveLength(2);
    const params = (h: string) => h.split('$').slice(1, 4).join('$');
    expect(params(t.hasher.verifies[0])).toBe(params(t.hasher.verifies[1]));
    expect(params(t.hasher.verifies[1])).toBe('argon2id$v=19$m=65536,t=3,p=1');
    expect(t.hasher.verifies[1]).not.toBe(t.hasher.verifies[0]); // the dummy hash, not a user's
    expect([real.status, real.body]).toEqual([ghost.status, ghost.body]);
  });
});

describe('deny by default', () => {
  let t: TestApp;
  let server: Server;
  let base: string;
  beforeAll(async () => {
    t = await startTestApp();
    // A second app wired like web/app.ts, with one route that forgot to declare its policy.
    const app = new Koa();
    const router = new Router();
    router.get('/api/declared', publicRoute(), (ctx) => (ctx.body = { ok: true }));
    router.get('/api/forgot', (ctx) => (ctx.body = { secret: 'leak' }));
    router.post('/api/items', requirePermission('item:ingest'), (ctx) => (ctx.body = { ok: true }));
    app.use(async (ctx, next) => {
      try {
        await next();
      } catch (e) {
        const err = e as { status?: number; code?: string };
        ctx.status = err.status ?? 500;
        ctx.body = { error: { code: err.code } };
      }
    });
    app.use(t.auth.guard(router));
    app.use(router.routes());
    server = await new Promise((r) => {
      const s = app.listen(0, '127.0.0.1', () => r(s));
    });
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    server.close();
    server.closeAllConnections();
    await t.close();
  });

  it('a route without a declared policy answers 403, never its data', async () => {
    expect(await (await fetch(`${base}/api/declared`)).json()).toEqual({ ok: true });
    const r = await fetch(`${base}/api/forgot`);
    expect(r.status).toBe(403);
    expect(await r.json()).toEqual({ error: { code: 'ROUTE_NOT_DECLARED' } });
    expect((await fetch(`${base}/api/items`, { method: 'POST' })).status).toBe(401);
  });
});
