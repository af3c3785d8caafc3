import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdentityStore, argon2Hasher, passwordProblems } from '../../security/index.ts';
import { cleanup, tempDir } from '../support/appliance.ts';
import { startTestApp, type TestApp } from './support.ts';

describe('identity store', () => {
  let dir: string;
  let server: IdentityStore;
  let consoleSide: IdentityStore;
  beforeAll(async () => {
    dir = await tempDir('archive-id-');
    server = await IdentityStore.open(dir);
    consoleSide = await IdentityStore.open(dir);
    await server.createPost({ code: 'BGS-KY', name: '办公室科员', department: '办公室' });
  });
  afterAll(() => cleanup(dir));

  const nu = (username: string, roles: Parameters<IdentityStore['createUser']>[0]['roles'], extra = {}) => ({ username, roles, passwordHash: 'x', mustChangePassword: true, ...extra });

  it('refuses two administrator roles, or an administrator role with a working role', async () => {
    for (const roles of [
      ['sysadmin', 'auditor'],
      ['secadmin', 'staff'],
    ] as const) {
      await expect(server.createUser(nu('bad', [...roles]))).rejects.toMatchObject({ code: 'ADMIN_ROLE_CONFLICT' });
    }
    await server.createUser(nu('worker', ['staff', 'archivist']));
    await expect(server.setRoles('worker', ['staff', 'sysadmin'])).rejects.toMatchObject({ code: 'ADMIN_ROLE_CONFLICT' });
    expect((await server.findUser('worker'))!.roles).toEqual(['staff', 'archivist']);
  });

  it('checks names, posts and clearances and changes nothing on bad input', async () => {
    await expect(server.createUser(nu('console', ['staff']))).rejects.toMatchObject({ code: 'USERNAME_INVALID' });
    await expect(server.createUser(nu('ok-name', ['staff'], { posts: ['NOPE'] }))).rejects.toMatchObject({ code: 'POST_UNKNOWN' });
    await expect(server.setAccess('worker', { clearance: '特级' as '内部' })).rejects.toMatchObject({ code: 'CLEARANCE_INVALID' });
    await expect(server.createPost({ code: 'bgs-ky', name: 'dup' })).rejects.toMatchObject({ code: 'POST_EXISTS' });
    expect(await server.findUser('ok-name')).toBeUndefined();
  });

  it('a change made by one process is seen by the other, and bumps the stamp sessions carry', async () => {
    const before = (await server.findUser('worker'))!;
    await consoleSide.setAccess('worker', { posts: ['BGS-KY'], clearance: '内部' });
    const after = (await server.findUser('worker'))!;
    expect(after).toMatchObject({ posts: ['BGS-KY'], clearance: '内部' });
    expect(after.stamp).toBe(before.stamp + 1);
  });

  it('interleaved changes from two handles lose nothing (each re-reads under the lock)', async () => {
    await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? server : consoleSide).createUser(nu(`p${i}`, ['staff']))));
    const names = JSON.parse(await readFile(join(dir, 'identity.json'), 'utf8')).users.map((u: { username: string }) => u.username);
    for (let i = 0; i < 10; i++) expect(names).toContain(`p${i}`);
  });

  it('a damaged file stops the store (fail closed) and is not overwritten', async () => {
    const d = await tempDir('archive-id-bad-');
    await writeFile(join(d, 'identity.json'), '{"version":1,"users":[');
    await expect(IdentityStore.open(d)).rejects.toMatchObject({ code: 'IDENTITY_STORE_CORRUPT' });
    expect(await readFile(join(d, 'identity.json'), 'utf8')).toBe('{"version":1,"users":[');
    await cleanup(d);
  });
});

describe('passwords', () => {
  it('argon2id with the measured parameters', async () => {
    const h = await argon2Hasher.hash('Some-good-pass-1');
    expect(h).toMatch(/^\$argon2id\$v=19\$m=65536,t=3,p=1\$/);
    expect(await argon2Hasher.verify(h, 'Some-good-pass-1')).toBe(true);
    expect(await argon2Hasher.verify(h, 'Some-good-pass-2')).toBe(false);
    expect(await argon2Hasher.verify('not-a-hash', 'x')).toBe(false);
  });
  it('policy: length, three classes, not the user name — in Chinese', () => {
    expect(passwordProblems('Short1!', 'ann')).toContain('密码至少 12 个字符');
    expect(passwordProblems('alllowercaseletters', 'ann')).toContain('密码须包含大写字母、小写字母、数字、符号中的至少三类');
    expect(passwordProblems('Zhangwei-2026!', 'zhangwei')).toContain('密码不能包含用户名');
    expect(passwordProblems('Archive#2026-ok', 'ann')).toEqual([]);
  });
});

describe('first start: no default password, a one-time setup token', () => {
  let t: TestApp;
  let token: string;
  beforeAll(async () => {
    t = await startTestApp();
    token = (await t.auth.issueSetupToken())!;
  });
  afterAll(() => t.close());

  it('the store starts empty and only the hash of the token is kept', async () => {
    expect(await t.sec.identity.users()).toEqual([]);
    expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const stored = await readFile(join(t.sec.configDir, 'setup-token.json'), 'utf8');
    expect(stored).not.toContain(token);
    expect((await t.client().get('/api/auth/setup')).body).toMatchObject({ needed: true });
  });

  it('creates each administrator once with the token, then the token dies', async () => {
    const c = t.client();
    await c.get('/api/auth/csrf');
    const setup = (role: string, username: string, tok = token) => c.req('POST', '/api/auth/setup', { token: tok, username, password: 'First-admin-2026', role });
    const before = await t.auditCount();
    const bad = await setup('sysadmin', 'mallory', 'wrong-token');
    expect(bad.body.error.code).toBe('SETUP_TOKEN_INVALID');
    expect(await t.auditCount()).toBe(before + 1);
    expect((await setup('staff', 'sam')).body.error.code).toBe('SETUP_ROLE_INVALID');
    expect((await setup('系统管理员', 'root1')).status).toBe(201);
    expect((await setup('sysadmin', 'root2')).body.error.code).toBe('SETUP_ROLE_TAKEN');
    expect((await setup('secadmin', 'sec1')).status).toBe(201);
    expect((await setup('auditor', 'aud1')).status).toBe(201);
    expect((await t.client().get('/api/auth/setup')).body).toMatchObject({ needed: false });
    const late = await setup('auditor', 'aud2');
    expect(late.body.error.code).toBe('SETUP_TOKEN_INVALID');
    expect((await t.sec.identity.users()).map((u) => u.username).sort()).toEqual(['aud1', 'root1', 'sec1']);
    expect((await t.client().login('root1', 'First-admin-2026')).status).toBe(200);
    expect(await t.auth.issueSetupToken()).toBeUndefined();
  });
});
