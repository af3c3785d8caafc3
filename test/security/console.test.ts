import { spawn } from 'node:child_process';
import { userInfo } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAudit } from '../../security/index.ts';
import { CLI } from '../support/appliance.ts';
import { GOOD_PASSWORD, startTestApp, type TestApp } from './support.ts';

function cli(dataDir: string, args: string[], stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ARCHIVE_DATA_DIR: dataDir } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.stdin.end(stdin ?? '');
    p.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('console commands on the data dir of a running server', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('post add / list, user add with a Chinese role name and --password-stdin, user list', async () => {
    expect((await cli(t.dir, ['post', 'add', 'BGS-KY', '办公室科员', '--department', '办公室'])).code).toBe(0);
    expect((await cli(t.dir, ['post', 'add', 'ZH', '综合'])).code).toBe(0);
    const posts = JSON.parse((await cli(t.dir, ['--json', 'post', 'list'])).stdout).posts;
    expect(posts.map((p: { code: string }) => p.code)).toEqual(['ZH', 'BGS-KY']);
    const add = await cli(t.dir, ['user', 'add', 'zhang', '--role', '查阅人员', '--posts', 'BGS-KY', '--clearance', '内部', '--password-stdin'], `${GOOD_PASSWORD}\n`);
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    const weak = await cli(t.dir, ['user', 'add', 'li', '--role', 'staff', '--password-stdin'], 'weak\n');
    expect(weak.code).toBe(1);
    expect(weak.stderr).toContain('PASSWORD_POLICY');
    const noPw = await cli(t.dir, ['user', 'add', 'li', '--role', 'staff']);
    expect(noPw.stderr).toContain('--password-stdin');
    const users = JSON.parse((await cli(t.dir, ['--json', 'user', 'list'])).stdout).users;
    expect(users).toEqual([expect.objectContaining({ username: 'zhang', roles: ['staff'], posts: ['BGS-KY'], clearance: '内部', mustChangePassword: true })]);
    expect(JSON.stringify(users)).not.toContain('argon2');
  });

  it('the running server sees console changes: forced password change, post change ends the session, disable blocks login', async () => {
    const c = t.client();
    const first = await c.login('zhang');
    expect(first.status).toBe(200);
    expect(first.body.mustChangePassword).toBe(true);
    expect((await c.req('POST', '/api/auth/password', { current: GOOD_PASSWORD, next: 'Better-pass-2026' })).status).toBe(200);
    expect((await c.get('/api/auth/me')).body.user.posts).toEqual(['BGS-KY']);
    expect((await cli(t.dir, ['user', 'set', 'zhang', '--posts', 'ZH'])).code).toBe(0);
    expect((await c.get('/api/auth/me')).body.error.code).toBe('SESSION_INVALIDATED');
    expect((await cli(t.dir, ['user', 'disable', 'zhang'])).code).toBe(0);
    const r = await c.login('zhang', 'Better-pass-2026');
    expect(r.body.error.code).toBe('ACCOUNT_DISABLED');
    expect((await cli(t.dir, ['user', 'enable', 'zhang'])).code).toBe(0);
    expect((await cli(t.dir, ['user', 'passwd', 'zhang', '--password-stdin'], 'Console-reset-2026\n')).code).toBe(0);
    const again = await c.login('zhang', 'Console-reset-2026');
    expect(again.body.mustChangePassword).toBe(true);
  });

  it('console actions are on record as actor `console` with the OS user, one record each, chain intact', async () => {
    const recs = await t.auditTail(100);
    const mine = recs.filter((r) => r.actor === 'console');
    expect(mine.map((r) => `${r.action}:${r.outcome}`)).toEqual([
      'post.create:success',
      'post.create:success',
      'user.create:success',
      'user.create:failure',
      'user.create:failure',
      'user.access:success',
      'user.disable:success',
      'user.enable:success',
      'user.password.reset:success',
    ]);
    let os = 'unknown';
    try {
      os = userInfo().username;
    } catch {
      /* no passwd entry */
    }
    expect(mine.every((r) => r.source === `console:${os}` && r.role === 'console')).toBe(true);
    expect((await verifyAudit(t.sec.audit.dir)).ok).toBe(true);
  });
});

describe('each administrative action leaves exactly one audit record', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    await t.addUser('sys', ['sysadmin']);
    await t.addUser('sec', ['secadmin']);
  });
  afterAll(() => t.close());

  it('user, post, role and access changes, and refusals', async () => {
    const sys = t.client();
    const sec = t.client();
    await sys.login('sys');
    await sec.login('sec');
    const steps: Array<[string, () => Promise<{ status: number }>, string, string, string]> = [
      ['create post', () => sec.req('POST', '/api/admin/posts', { code: 'DA', name: '档案室', department: '办公室' }), 'post.create', 'success', 'DA'],
      ['create user', () => sys.req('POST', '/api/admin/users', { username: 'wang', password: 'Init!al-pass-123', roles: ['staff'] }), 'user.create', 'success', 'wang'],
      ['bad user', () => sys.req('POST', '/api/admin/users', { username: 'wang', password: 'Init!al-pass-123', roles: ['staff'] }), 'user.create', 'failure', 'wang'],
      ['set access', () => sec.req('PUT', '/api/admin/users/wang/access', { posts: ['DA'], clearance: '内部' }), 'user.access', 'success', 'wang'],
      ['set roles', () => sys.req('PUT', '/api/admin/users/wang/roles', { roles: ['staff', 'archivist'] }), 'user.roles', 'success', 'wang'],
      ['grant refused', () => sys.req('PUT', '/api/admin/users/wang/roles', { roles: ['auditor'] }), 'user.roles', 'denied', 'wang'],
      ['reset password', () => sys.req('POST', '/api/admin/users/wang/password', { password: 'Reset-pass-2026!' }), 'user.password.reset', 'success', 'wang'],
      ['disable', () => sys.req('POST', '/api/admin/users/wang/disable', {}), 'user.disable', 'success', 'wang'],
      ['permission refused', () => sys.req('POST', '/api/admin/posts', { code: 'X', name: 'x' }), 'authz.denied', 'denied', 'POST /api/admin/posts'],
    ];
    for (const [what, run, action, outcome, target] of steps) {
      const before = await t.auditCount();
      await run();
      expect(await t.auditCount(), what).toBe(before + 1);
      expect((await t.auditTail(1))[0], what).toMatchObject({ action, outcome, target, source: '127.0.0.1' });
    }
    expect((await t.auditTail(1))[0]).toMatchObject({ actor: 'sys', role: 'sysadmin' });
    const access = (await t.auditTail(100)).find((r) => r.action === 'user.access')!;
    expect(access.details).toEqual({ before: { posts: [], clearance: '公开' }, after: { posts: ['DA'], clearance: '内部' } });
  });
});

describe('archive serve on first start', () => {
  it('prints a one-time setup token that creates the first administrator; no default account exists', async () => {
    const { startServe, waitFor, cleanup, readSetupToken } = await import('../support/appliance.ts');
    const { Client } = await import('./support.ts');
    const app = await startServe();
    try {
      const token = await readSetupToken(app);
      const c = new Client(app.base);
      await waitFor(async () => ((await c.get('/api/health')).status < 600 ? true : undefined), 30_000, 'http');
      expect((await c.login('admin', 'admin')).status).toBe(401);
      const r = await c.req('POST', '/api/auth/setup', { token, username: 'root1', password: 'First-admin-2026', role: 'sysadmin' });
      expect(r.status).toBe(201);
      expect((await c.login('root1', 'First-admin-2026')).status).toBe(200);
      expect((await c.get('/api/admin/users')).body.users).toHaveLength(1);
    } finally {
      await app.stop('SIGTERM');
      await cleanup(app.dataDir);
    }
  });
});
