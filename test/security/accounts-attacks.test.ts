import type { Server } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.ts';
import { dataPath } from '../../core/data-dir.ts';
import { createLogger } from '../../core/log.ts';
import { createIngestService, type IngestService } from '../../ingest/index.ts';
import { createSearchService, type SearchService } from '../../search/index.ts';
import { argon2Hasher, openSecurity } from '../../security/index.ts';
import { createAuth, type Auth } from '../../web/auth.ts';
import type { SecurityStores } from '../../security/open-security.ts';
import { createWebApp } from '../../web/index.ts';
import { loadGroundTruth, startMeili, type MeiliHandle } from '../search/support.ts';
import { cleanup, tempDir } from '../support/appliance.ts';
import { stageItem } from '../support/staged-item.ts';
import { Client, GOOD_PASSWORD, countingHasher } from './support.ts';

// Attacks on accounts against the real koa app, a real Meilisearch, the real item store, real
// argon2id and the real audit trail: the system administrator taking over an account by resetting
// its password or promoting a fresh one, an archivist filing into another post, 30 concurrent
// password guesses, and a restart that must keep locks and sessions.

const RESET_PW = 'Reset#by-sys-2026';
const OWN_PW = 'Mine#own-pass-2026';
const Q = encodeURIComponent('机构编制');

let m: MeiliHandle;
let dir: string;
let sec: SecurityStores;
let search: SearchService;
let ingest: IngestService;
let auth: Auth;
let server: Server;
let base: string;
let hasher: ReturnType<typeof countingHasher>;
let itemId = '';
let zhangHash = '';
const log = createLogger({ level: 'silent' });
const stateDir = () => dataPath(dir, 'run');

async function listen(a: Auth): Promise<{ server: Server; base: string }> {
  const app = createWebApp({
    log,
    auth: a,
    search,
    ingest,
    uploadDir: dataPath(dir, 'run', 'uploads'),
    classificationCeiling: '内部',
    health: async () => ({ status: 'ok', time: '', components: {} }),
  });
  const s: Server = await new Promise((r) => {
    const x = app.listen(0, '127.0.0.1', () => r(x));
  });
  return { server: s, base: `http://127.0.0.1:${(s.address() as { port: number }).port}` };
}

async function close(s: Server): Promise<void> {
  await new Promise<void>((r) => {
    s.close(() => r());
    s.closeAllConnections();
  });
}

const audit = async () =>
  (await readFile(join(dir, 'audit', `audit-${new Date().getFullYear()}.jsonl`), 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { actor: string; action: string; outcome: string; target: string; details?: Record<string, unknown> });

async function as(name: string, password = GOOD_PASSWORD): Promise<Client> {
  const c = new Client(base);
  const r = await c.login(name, password);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return c;
}

/** A multipart upload as the browser sends it, with this client's cookies and CSRF token. */
async function upload(c: Client, fields: Record<string, string>, files: Array<{ name: string; bytes: Buffer }>): Promise<{ status: number; body: any }> {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) fd.append(k, v);
  for (const f of files) fd.append('files', new Blob([new Uint8Array(f.bytes)]), f.name);
  const res = await fetch(`${base}/api/ingest/upload`, {
    method: 'POST',
    body: fd,
    headers: { cookie: [...c.cookies].map(([k, v]) => `${k}=${v}`).join('; '), 'x-csrf-token': c.cookies.get('archive_csrf') ?? '' },
  });
  return { status: res.status, body: await res.json() };
}

beforeAll(async () => {
  dir = await tempDir('archive-accounts-');
  m = await startMeili({ dir });
  const cfg = loadConfig({ overrides: { dataDir: m.dir } });
  search = createSearchService(m.conn, m.dir);
  await search.init();
  await search.indexItems(
    loadGroundTruth(
      () => ['BGS'],
      () => '内部',
    ),
  );
  sec = await openSecurity(cfg);
  hasher = countingHasher();
  auth = await createAuth({ configDir: sec.configDir, identity: sec.identity, audit: sec.audit, log, hasher, stateDir: stateDir(), ceiling: '内部' });
  ingest = await createIngestService(cfg, { log, audit: sec.audit, search, knownPosts: async () => new Set((await sec.identity.posts()).filter((p) => !p.disabled).map((p) => p.code)) });
  for (const [code, name] of [
    ['BGS', '办公室'],
    ['ZH', '综合科'],
    ['OLD', '旧岗位'],
  ])
    await sec.identity.createPost({ code, name });
  const hash = await argon2Hasher.hash(GOOD_PASSWORD);
  const add = (username: string, roles: Array<'staff' | 'archivist' | 'sysadmin' | 'secadmin' | 'auditor'>, posts: string[] = []) =>
    sec.identity.createUser({ username, roles, posts, clearance: '内部', passwordHash: hash, mustChangePassword: false });
  await add('sys', ['sysadmin']);
  await add('sec', ['secadmin']);
  await add('aud', ['auditor']);
  await add('zhang', ['staff'], ['BGS']);
  await add('li', ['archivist'], ['BGS']);
  await add('wang', ['archivist'], ['ZH']);
  zhangHash = (await sec.identity.findUser('zhang'))!.passwordHash;
  const staged = await stageItem(join(dir, 'run'), { meta: { posts: ['BGS'], classification: '内部', title: '归档权限测试件', archivalCode: 'J001-2026-Y-BGS-0001' } });
  itemId = (await ingest.store.putItem(staged)).itemId;
  ({ server, base } = await listen(auth));
}, 90_000);

afterAll(async () => {
  if (server) await close(server);
  await ingest?.stop();
  await m?.stop();
  await cleanup(dir);
});

describe('no silent account takeover: a reset by the system administrator', () => {
  it('lets the account log in only to set its own password; items stay closed until the security officer confirms', async () => {
    const before = await as('zhang');
    const hits = await before.get(`/api/search?q=${Q}`);
    expect(hits.status).toBe(200);
    expect(hits.body.total).toBeGreaterThan(0);

    const sys = await as('sys');
    expect((await sys.req('POST', '/api/admin/users/zhang/password', { password: RESET_PW })).status).toBe(200);
    // The session zhang had ends with the reset.
    expect((await before.get(`/api/search?q=${Q}`)).status).toBe(401);

    // The attacker (who chose RESET_PW) logs in: only the password change is open.
    const mole = await as('zhang', RESET_PW);
    const s1 = await mole.get(`/api/search?q=${Q}`);
    expect(s1.status).toBe(403);
    expect(s1.body.error.code).toBe('PASSWORD_CHANGE_REQUIRED');
    const me1 = await mole.get('/api/auth/me');
    expect(me1.body.user.resetPending).toMatchObject({ by: 'sys' });
    expect(me1.body.permissions.filter((p: string) => p.startsWith('item:'))).toEqual([]);

    // Even after setting "their own" password, nothing of the archive: search, item, page, PDF.
    expect((await mole.req('POST', '/api/auth/password', { current: RESET_PW, next: OWN_PW })).status).toBe(200);
    const s2 = await mole.get(`/api/search?q=${Q}`);
    expect(s2.status).toBe(403);
    expect(s2.body.error.code).toBe('RESET_AWAITING_CONFIRMATION');
    expect(s2.body.error.message).toContain('安全保密管理员确认');
    for (const path of [`/api/items/${itemId}`, `/api/items/${itemId}/pages/1`, `/api/items/${itemId}/document.pdf`, `/api/items/${itemId}/text`]) {
      const r = await mole.get(path);
      expect(r.status, path).toBe(403);
      expect(r.body.error.code, path).toBe('RESET_AWAITING_CONFIRMATION');
    }
    expect((await mole.get('/api/auth/me')).body.user.resetPending).toBeTruthy();

    // The system administrator cannot confirm their own reset.
    const selfConfirm = await sys.req('POST', '/api/admin/users/zhang/confirm-reset');
    expect(selfConfirm.status).toBe(403);

    // The security officer sees the reset awaiting confirmation, and confirms it.
    const secC = await as('sec');
    const listed = (await secC.get('/api/admin/users')).body.users.find((u: { username: string }) => u.username === 'zhang');
    expect(listed.resetPending).toMatchObject({ by: 'sys' });
    expect((await secC.req('POST', '/api/admin/users/zhang/confirm-reset')).status).toBe(200);
    expect((await secC.req('POST', '/api/admin/users/zhang/confirm-reset')).body.error.code).toBe('NO_RESET_PENDING');

    // Access returns in the same session.
    const s3 = await mole.get(`/api/search?q=${Q}`);
    expect(s3.status).toBe(200);
    expect(s3.body.total).toBe(hits.body.total);

    const trail = await audit();
    expect(trail.find((r) => r.action === 'user.password.reset' && r.actor === 'sys' && r.target === 'zhang')).toMatchObject({ outcome: 'success', details: { awaitingConfirmation: true } });
    expect(trail.find((r) => r.action === 'user.password.reset.confirm' && r.actor === 'sec' && r.target === 'zhang')).toMatchObject({ outcome: 'success', details: { resetBy: 'sys' } });
    expect(trail.some((r) => r.action === 'authz.denied' && r.actor === 'zhang' && r.details?.reason === 'reset-awaiting-confirmation')).toBe(true);
  });

  it('a reset archivist cannot upload either until confirmed', async () => {
    const sys = await as('sys');
    expect((await sys.req('POST', '/api/admin/users/wang/password', { password: RESET_PW })).status).toBe(200);
    const w = await as('wang', RESET_PW);
    expect((await w.req('POST', '/api/auth/password', { current: RESET_PW, next: OWN_PW })).status).toBe(200);
    const up = await upload(w, { posts: 'ZH' }, [{ name: 'a.jpg', bytes: Buffer.from([0xff, 0xd8, 0xff, 0xe0]) }]);
    expect(up.status).toBe(403);
    expect(up.body.error.code).toBe('RESET_AWAITING_CONFIRMATION');
    expect((await w.get('/api/jobs')).status).toBe(403);
    const secC = await as('sec');
    expect((await secC.req('POST', '/api/admin/users/wang/confirm-reset')).status).toBe(200);
    // wang keeps OWN_PW for the filing tests below.
    await sec.identity.setPassword('wang', zhangHash, false);
  });
});

describe('no takeover by promotion', () => {
  it('a fresh account the system administrator made gets no officer role and no items', async () => {
    const sys = await as('sys');
    // An account without roles is how a new officer starts (README); one with staff, how a reader does.
    expect((await sys.req('POST', '/api/admin/users', { username: 'fresh', password: RESET_PW, roles: [] })).status).toBe(201);
    expect((await sys.req('POST', '/api/admin/users', { username: 'freshs', password: RESET_PW, roles: ['staff'] })).status).toBe(201);
    // The sysadmin may not give officer roles, posts or clearances.
    for (const r of [
      await sys.req('POST', '/api/admin/users', { username: 'fresh2', password: RESET_PW, roles: ['secadmin'] }),
      await sys.req('PUT', '/api/admin/users/fresh/roles', { roles: ['secadmin'] }),
      await sys.req('PUT', '/api/admin/users/fresh/roles', { roles: ['auditor'] }),
    ]) {
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe('GRANT_FORBIDDEN');
    }
    expect((await sys.req('PUT', '/api/admin/users/freshs/access', { posts: ['BGS'], clearance: '内部' })).status).toBe(403);
    // The officers may not give their roles to an account whose password the sysadmin chose.
    const secC = await as('sec');
    const audC = await as('aud');
    const g1 = await secC.req('PUT', '/api/admin/users/fresh/roles', { roles: ['secadmin'] });
    expect(g1.status).toBe(409);
    expect(g1.body.error.code).toBe('OWN_PASSWORD_REQUIRED');
    expect(g1.body.error.message).toContain('本人');
    expect((await audC.req('PUT', '/api/admin/users/fresh/roles', { roles: ['auditor'] })).body.error.code).toBe('OWN_PASSWORD_REQUIRED');

    // Logged in with the sysadmin's password the account holds nothing of the archive.
    const f = await as('freshs', RESET_PW);
    expect((await f.req('POST', '/api/auth/password', { current: RESET_PW, next: OWN_PW })).status).toBe(200);
    const s = await f.get(`/api/search?q=${Q}`);
    expect(s.status).toBe(200);
    expect(s.body.total).toBe(0);
    expect((await f.get(`/api/items/${itemId}`)).status).toBe(404);
    const f1 = await as('fresh', RESET_PW);
    expect((await f1.req('POST', '/api/auth/password', { current: RESET_PW, next: OWN_PW })).status).toBe(200);

    // A reset by the sysadmin makes the password the sysadmin's again: no officer role after it.
    expect((await sys.req('POST', '/api/admin/users/fresh/password', { password: RESET_PW })).status).toBe(200);
    expect((await secC.req('PUT', '/api/admin/users/fresh/roles', { roles: ['secadmin'] })).body.error.code).toBe('OWN_PASSWORD_REQUIRED');
    // Once the owner set their own password, the officer may grant the role (the legitimate path).
    const f2 = await as('fresh', RESET_PW);
    expect((await f2.req('POST', '/api/auth/password', { current: RESET_PW, next: 'Another#own-2026' })).status).toBe(200);
    expect((await secC.req('PUT', '/api/admin/users/fresh/roles', { roles: ['secadmin'] })).status).toBe(200);

    const trail = await audit();
    expect(trail.filter((r) => r.action === 'user.roles' && r.target === 'fresh' && r.outcome !== 'success').length).toBeGreaterThanOrEqual(4);
  });
});

describe('filing rights: an archivist files only into posts they hold, at most at their clearance', () => {
  const jpg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10]);

  it('upload into a post they do not hold is refused (form field and CSV row), audited; their own post is taken', async () => {
    const li = await as('li');
    const r1 = await upload(li, { posts: 'ZH' }, [{ name: 'a.jpg', bytes: jpg }]);
    expect(r1.status).toBe(403);
    expect(r1.body.error.code).toBe('FILING_FORBIDDEN');
    expect(r1.body.error.message).toContain('无权向岗位 ZH 归档');
    const csv = Buffer.from('文件,题名,岗位\nb.jpg,他岗文件,ZH\n');
    const r2 = await upload(li, { posts: 'BGS' }, [
      { name: 'items.csv', bytes: csv },
      { name: 'b.jpg', bytes: jpg },
    ]);
    expect(r2.status).toBe(403);
    expect(r2.body.error.code).toBe('FILING_FORBIDDEN');
    const r3 = await upload(li, { posts: 'BGS', classification: '秘密' }, [{ name: 'c.jpg', bytes: jpg }]);
    expect(r3.status).toBe(403);
    expect(r3.body.error.message).toContain('高于您的密级');
    const refused = (await audit()).filter((r) => r.action === 'ingest.refused' && r.actor === 'li' && r.details?.reason === 'filing-rights');
    expect(refused).toHaveLength(3);
    expect((await upload(li, { posts: 'BGS' }, [{ name: 'd.jpg', bytes: jpg }])).status).toBe(202);
  });

  it('PATCH moving an item into a post they do not hold is refused until the security officer grants that filing post', async () => {
    const li = await as('li');
    const p1 = await li.req('PATCH', `/api/items/${itemId}`, { posts: ['BGS', 'ZH'] });
    expect(p1.status).toBe(403);
    expect(p1.body.error.code).toBe('FILING_FORBIDDEN');
    expect((await ingest.store.getItem(itemId))!.posts).toEqual(['BGS']);
    expect((await audit()).filter((r) => r.action === 'item.edit' && r.actor === 'li' && r.outcome === 'denied').at(-1)).toMatchObject({ target: itemId, details: { error: 'FILING_FORBIDDEN' } });

    // Only the security officer grants filing posts.
    const sys = await as('sys');
    expect((await sys.req('PUT', '/api/admin/users/li/access', { filingPosts: ['ZH'] })).status).toBe(403);
    const secC = await as('sec');
    const g = await secC.req('PUT', '/api/admin/users/li/access', { filingPosts: ['ZH'] });
    expect(g.status).toBe(200);
    expect(g.body.user.filingPosts).toEqual(['ZH']);
    const li2 = await as('li');
    const p2 = await li2.req('PATCH', `/api/items/${itemId}`, { posts: ['BGS', 'ZH'] });
    expect(p2.status, JSON.stringify(p2.body)).toBe(200);
    expect(p2.body.posts).toEqual(['BGS', 'ZH']);
    // Uploads into ZH are now allowed too (202: queued).
    expect((await upload(li2, { posts: 'ZH' }, [{ name: 'e.jpg', bytes: jpg }])).status).toBe(202);
  });
});

describe('posts: renamed and disabled, never deleted; no clearance above the ceiling', () => {
  it('a disabled post is given to no new account, item or upload; a clearance above 内部 is refused', async () => {
    const secC = await as('sec');
    const ren = await secC.req('PATCH', '/api/admin/posts/OLD', { name: '旧岗位（已合并）' });
    expect(ren.status).toBe(200);
    expect(ren.body.post.name).toBe('旧岗位（已合并）');
    expect((await secC.req('PATCH', '/api/admin/posts/OLD', { disabled: true })).body.post.disabled).toBe(true);
    expect((await secC.req('DELETE', '/api/admin/posts/OLD')).status).toBe(405);
    const g = await secC.req('PUT', '/api/admin/users/zhang/access', { posts: ['BGS', 'OLD'] });
    expect(g.status).toBe(400);
    expect(g.body.error.code).toBe('POST_DISABLED');
    const c = await secC.req('PUT', '/api/admin/users/zhang/access', { clearance: '秘密' });
    expect(c.status).toBe(400);
    expect(c.body.error.code).toBe('CLEARANCE_ABOVE_CEILING');
    expect(c.body.error.message).toContain('高于本机允许的最高密级');
    expect((await sec.identity.findUser('zhang'))!.clearance).toBe('内部');
    await secC.req('PUT', '/api/admin/users/li/access', { filingPosts: ['ZH', 'OLD'] }).then((r) => expect(r.body.error.code).toBe('POST_DISABLED'));
    const li = await as('li');
    const p = await li.req('PATCH', `/api/items/${itemId}`, { posts: ['BGS', 'OLD'] });
    expect(p.status).toBe(400);
    expect(p.body.error.code).toBe('POST_DISABLED');
    const up = await upload(li, { posts: 'OLD' }, [{ name: 'f.jpg', bytes: Buffer.from([0xff, 0xd8, 0xff]) }]);
    expect(up.status).toBe(400);
    const trail = await audit();
    expect(trail.filter((r) => r.action === 'post.update' && r.actor === 'sec')).toHaveLength(2);
  });
});

describe('lockout: counted before the password is checked, and kept with sessions across a restart', () => {
  it('30 concurrent wrong passwords for one account reach argon2 at most 5 times', async () => {
    const name = 'zhang';
    const before = hasher.verifies.length;
    const clients = await Promise.all(
      Array.from({ length: 30 }, async () => {
        const c = new Client(base);
        await c.get('/api/auth/csrf');
        return c;
      }),
    );
    // Each from its own source would be the same here (127.0.0.1): the per-account limit is what bites first.
    const answers = await Promise.all(clients.map((c) => c.req('POST', '/api/auth/login', { username: name, password: 'Wrong#guess-000' })));
    const checked = hasher.verifies.length - before;
    expect(checked).toBeLessThanOrEqual(5);
    expect(answers.filter((a) => a.status === 401).length).toBe(checked);
    expect(answers.filter((a) => a.status === 429).length).toBe(30 - checked);
    // Even the right password is refused while locked, without an argon2 check.
    const right = await new Client(base).login(name, OWN_PW);
    expect(right.status).toBe(429);
    expect(hasher.verifies.length - before).toBe(checked);
  });

  it('the system administrator sees the lock (已锁定) and unlocks it; audited', async () => {
    const sys = await as('sys');
    const u = (await sys.get('/api/admin/users')).body.users.find((x: { username: string }) => x.username === 'zhang');
    expect(u.lockedUntil).toBeGreaterThan(Date.now());
    // Not the security officer's to do, and not for an officer's account.
    expect((await (await as('sec')).req('POST', '/api/admin/users/zhang/unlock')).status).toBe(403);
    expect((await sys.req('POST', '/api/admin/users/sec/unlock')).body.error.code).toBe('GRANT_FORBIDDEN');
    const r = await sys.req('POST', '/api/admin/users/zhang/unlock');
    expect(r.status).toBe(200);
    expect(r.body.wasLocked).toBe(true);
    expect((await audit()).filter((x) => x.action === 'user.unlock' && x.actor === 'sys' && x.target === 'zhang').at(-1)).toMatchObject({ outcome: 'success', details: { wasLocked: true } });
    expect((await new Client(base).login('zhang', OWN_PW)).status).toBe(200);
  });

  it('a restart keeps a lockout and a session; the state files are 0600 and hold no session id', async () => {
    // A session to keep, and a lock to keep.
    const kept = await as('zhang', OWN_PW);
    const sid = kept.cookies.get('archive_session')!;
    for (let i = 0; i < 5; i++) await new Client(base).login('li', 'Wrong#guess-000');
    expect((await new Client(base).login('li')).status).toBe(429);

    // Restart: a new auth (new SessionStore and Lockout) from the same data dir, a new server.
    await close(server);
    await auth.close();
    for (const f of ['sessions.json', 'lockout.json']) {
      const st = await stat(join(stateDir(), f));
      expect(st.mode & 0o777, f).toBe(0o600);
    }
    expect(await readFile(join(stateDir(), 'sessions.json'), 'utf8')).not.toContain(sid);
    auth = await createAuth({ configDir: sec.configDir, identity: sec.identity, audit: sec.audit, log, hasher, stateDir: stateDir(), ceiling: '内部' });
    ({ server, base } = await listen(auth));

    const again = new Client(base);
    again.cookies = new Map(kept.cookies);
    const me = await again.get('/api/auth/me');
    expect(me.status).toBe(200);
    expect(me.body.user.username).toBe('zhang');
    expect((await again.get(`/api/search?q=${Q}`)).status).toBe(200);
    const locked = await new Client(base).login('li');
    expect(locked.status).toBe(429);
    expect(locked.body.error.code).toBe('ACCOUNT_LOCKED');
  });

  it('per address: 30 colleagues behind one address all log in (they wait, not refused); 30 guesses at 30 names reach argon2 at most 20 times', async () => {
    const hash = (await sec.identity.findUser('aud'))!.passwordHash;
    const names = Array.from({ length: 30 }, (_, i) => `colleague${i}`);
    for (const username of names) await sec.identity.createUser({ username, roles: ['staff'], posts: ['BGS'], clearance: '内部', passwordHash: hash, mustChangePassword: false });
    const clients = await Promise.all(
      names.map(async () => {
        const c = new Client(base);
        await c.get('/api/auth/csrf');
        return c;
      }),
    );
    const ok = await Promise.all(clients.map((c, i) => c.req('POST', '/api/auth/login', { username: names[i], password: GOOD_PASSWORD })));
    expect(ok.map((r) => r.status)).toEqual(names.map(() => 200));

    const before = hasher.verifies.length;
    const guesses = await Promise.all(clients.map((c, i) => c.req('POST', '/api/auth/login', { username: `nobody${i}`, password: 'Wrong#guess-000' })));
    const checked = hasher.verifies.length - before;
    expect(checked).toBeLessThanOrEqual(20);
    expect(guesses.filter((g) => g.status === 429).length).toBe(30 - checked);
    expect(guesses.filter((g) => g.status === 429).every((g) => g.body.error.code === 'SOURCE_LOCKED')).toBe(true);
  });
});
