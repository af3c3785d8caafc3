import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_ROLES, can, parseRole } from '../../security/index.ts';
import { PERMISSIONS, ROLES, ROLE_PERMISSIONS } from '../../security/roles.ts';
import { oneUserPerRole, startTestApp, type Client, type TestApp } from './support.ts';

describe('role → permission table', () => {
  it('the three administrators can neither search nor read items', () => {
    for (const r of ADMIN_ROLES) {
      for (const p of ['item:search', 'item:read', 'item:ingest', 'item:edit'] as const) expect(can([r], p), `${r} ${p}`).toBe(false);
    }
  });
  it('staff search and read; archivists also ingest and edit metadata', () => {
    expect(ROLE_PERMISSIONS.staff).toEqual(['item:search', 'item:read']);
    for (const p of ['item:search', 'item:read', 'item:ingest', 'item:edit'] as const) expect(can(['archivist'], p)).toBe(true);
    expect(can(['staff'], 'item:ingest')).toBe(false);
  });
  it('no role may alter the audit trail; only the auditor reads it', () => {
    expect(PERMISSIONS.some((p) => /^audit:(write|delete|edit)/.test(p))).toBe(false);
    for (const r of ROLES) expect(can([r], 'audit:read')).toBe(r === 'auditor');
  });
  it('三员 duties are disjoint', () => {
    const owners = (p: (typeof PERMISSIONS)[number]) => ROLES.filter((r) => can([r], p));
    expect(owners('user:create')).toEqual(['sysadmin']);
    expect(owners('backup:run')).toEqual(['sysadmin']);
    // Who can open a backup is the secadmin's choice, never the sysadmin's who makes them.
    expect(owners('backup:recipients')).toEqual(['secadmin']);
    expect(owners('user:access')).toEqual(['secadmin']);
    expect(owners('post:manage')).toEqual(['secadmin']);
    expect(owners('signature:import')).toEqual(['secadmin']);
    expect(owners('integrity:check')).toEqual(['secadmin']);
    expect(owners('audit:export')).toEqual(['auditor']);
    expect(owners('grant:auditor')).toEqual(['auditor']);
    expect(owners('grant:secadmin')).toEqual(['secadmin']);
  });
  it('roles are accepted by code or Chinese name', () => {
    expect(parseRole('安全审计员')).toBe('auditor');
    expect(parseRole('Staff')).toBe('staff');
    expect(() => parseRole('root')).toThrow(expect.objectContaining({ code: 'ROLE_UNKNOWN', zh: expect.stringContaining('未知角色') }));
  });
});

describe('what each role can and cannot do over HTTP', () => {
  let t: TestApp;
  const as: Record<string, Client> = {};
  beforeAll(async () => {
    t = await startTestApp();
    await t.sec.identity.createPost({ code: 'BGS', name: '办公室' });
    Object.assign(as, await oneUserPerRole(t));
    await t.addUser('target', []);
  });
  afterAll(() => t.close());

  const routes = {
    listUsers: (c: Client) => c.get('/api/admin/users'),
    createStaff: (c: Client, n: string) => c.req('POST', '/api/admin/users', { username: n, password: 'Init!al-pass-123', roles: ['staff'] }),
    createAuditor: (c: Client, n: string) => c.req('POST', '/api/admin/users', { username: n, password: 'Init!al-pass-123', roles: ['auditor'] }),
    setAccess: (c: Client) => c.req('PUT', '/api/admin/users/target/access', { posts: ['BGS'], clearance: '内部' }),
    addPost: (c: Client, code: string) => c.req('POST', '/api/admin/posts', { code, name: '岗位' + code }),
    listPosts: (c: Client) => c.get('/api/admin/posts'),
    verify: (c: Client) => c.get('/api/admin/audit/verify'),
    exportAudit: (c: Client) => c.get('/api/admin/audit/export'),
    disable: (c: Client) => c.req('POST', '/api/admin/users/target/disable', {}),
  };

  it('staff and archivists: their own account only, no administration at all', async () => {
    for (const u of ['sam', 'amy']) {
      const me = await as[u].get('/api/auth/me');
      expect(me.status).toBe(200);
      expect(me.body.permissions).toContain('item:read');
      for (const r of [
        routes.listUsers(as[u]),
        routes.createStaff(as[u], `x${u}`),
        routes.setAccess(as[u]),
        routes.addPost(as[u], `P${u}`),
        routes.listPosts(as[u]),
        routes.verify(as[u]),
        routes.exportAudit(as[u]),
        routes.disable(as[u]),
      ]) {
        const res = await r;
        expect(res.status).toBe(403);
        expect(res.body.error.code).toBe('FORBIDDEN');
      }
    }
  });

  it('系统管理员: accounts yes; posts, clearances, audit and other administrators no; no item permission', async () => {
    const c = as.sys;
    expect((await c.get('/api/auth/me')).body.permissions.filter((p: string) => p.startsWith('item:'))).toEqual([]);
    expect((await routes.listUsers(c)).status).toBe(200);
    expect((await routes.createStaff(c, 'newstaff')).status).toBe(201);
    const aud = await routes.createAuditor(c, 'newaud');
    expect(aud.status).toBe(403);
    expect(aud.body.error.code).toBe('GRANT_FORBIDDEN');
    expect((await routes.setAccess(c)).status).toBe(403);
    expect((await routes.addPost(c, 'SYS1')).status).toBe(403);
    expect((await routes.verify(c)).status).toBe(403);
    expect((await routes.exportAudit(c)).status).toBe(403);
    // Cannot take over or silence the other two officers.
    for (const r of [c.req('POST', '/api/admin/users/aud/password', { password: 'Takeover-2026!x' }), c.req('POST', '/api/admin/users/sec/disable', {})]) {
      expect((await r).body.error.code).toBe('GRANT_FORBIDDEN');
    }
    expect((await as.aud.get('/api/auth/me')).status).toBe(200);
  });

  it('安全保密管理员: posts and clearances yes; accounts and audit no; no item permission', async () => {
    const c = as.sec;
    expect((await c.get('/api/auth/me')).body.permissions.filter((p: string) => p.startsWith('item:'))).toEqual([]);
    expect((await routes.addPost(c, 'ZH')).status).toBe(201);
    const acc = await routes.setAccess(c);
    expect(acc.status).toBe(200);
    expect(acc.body.user).toMatchObject({ posts: ['BGS'], clearance: '内部' });
    expect((await routes.createStaff(c, 'secmade')).status).toBe(403);
    expect((await routes.disable(c)).status).toBe(403);
    expect((await routes.verify(c)).status).toBe(403);
    // Roles: may give secadmin, may not give staff or auditor.
    expect((await c.req('PUT', '/api/admin/users/target/roles', { roles: ['staff'] })).status).toBe(403);
    expect((await c.req('PUT', '/api/admin/users/target/roles', { roles: ['auditor'] })).status).toBe(403);
  });

  it('安全审计员: reads, verifies and exports the audit trail; cannot administer accounts, posts or clearances', async () => {
    const c = as.aud;
    expect((await c.get('/api/auth/me')).body.permissions.filter((p: string) => p.startsWith('item:'))).toEqual([]);
    const v = await routes.verify(c);
    expect(v.status).toBe(200);
    expect(v.body.ok).toBe(true);
    const ex = await routes.exportAudit(c);
    expect(ex.status).toBe(200);
    expect(ex.headers.get('content-type')).toContain('application/x-ndjson');
    // What the other administrators did is in it.
    const lines = String(ex.body)
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.some((r) => r.actor === 'sys' && r.action === 'user.create')).toBe(true);
    expect(lines.some((r) => r.actor === 'sec' && r.action === 'user.access')).toBe(true);
    const read = await c.get('/api/admin/audit/records?action=user&actor=sys');
    expect(read.status).toBe(200);
    expect(read.body.records.length).toBeGreaterThan(0);
    expect(read.body.records.every((r: { actor: string; action: string }) => r.actor === 'sys' && r.action.startsWith('user.'))).toBe(true);
    for (const u of ['sys', 'sec', 'sam']) expect((await as[u].get('/api/admin/audit/records')).status).toBe(403);
    expect((await routes.createStaff(c, 'audmade')).status).toBe(403);
    expect((await routes.setAccess(c)).status).toBe(403);
    expect((await routes.addPost(c, 'AUD1')).status).toBe(403);
  });

  it('one account holds at most one administrator role', async () => {
    // The auditor may make `target` an auditor; the security officer cannot then add secadmin to it.
    expect((await as.aud.req('PUT', '/api/admin/users/target/roles', { roles: ['auditor'] })).status).toBe(200);
    const both = await as.sec.req('PUT', '/api/admin/users/target/roles', { roles: ['auditor', 'secadmin'] });
    expect(both.status).toBe(400);
    expect(both.body.error.code).toBe('ADMIN_ROLE_CONFLICT');
    const mixed = await as.sys.req('POST', '/api/admin/users', { username: 'mixed', password: 'Init!al-pass-123', roles: ['sysadmin', 'staff'] });
    expect(mixed.body.error.code).toBe('ADMIN_ROLE_CONFLICT');
  });

  it('health stays public; admin routes need a session; unknown paths are 404', async () => {
    expect((await t.client().get('/api/health')).status).toBe(200);
    expect((await t.client().get('/api/admin/users')).status).toBe(401);
    expect((await t.client().get('/api/nothing-here')).status).toBe(404);
  });
});
