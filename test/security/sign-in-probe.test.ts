// The sign-in page asks GET /api/auth/me on every visit to learn whether it is signed in. With no
// session cookie at all that question is not an access attempt, so it is answered 401 without an
// audit record (it used to put a 未登录访问被拒 record in the auditor's trail for every visit).
// Anything else unauthenticated stays on record: the same question with a forged or stale session
// cookie, another method on the same path, and any other protected route without a cookie.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_COOKIE } from '../../web/authorize.ts';
import { startTestApp, type TestApp } from './support.ts';

describe('the sign-in page’s own question', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  const settledCount = async () => {
    await t.auth.flushAudit();
    return t.auditCount();
  };

  it('GET /api/auth/me without a session cookie: 401, nothing on record', async () => {
    const before = await settledCount();
    for (let i = 0; i < 3; i++) {
      const r = await t.client().get('/api/auth/me');
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe('AUTH_REQUIRED');
    }
    expect(await settledCount()).toBe(before);
  });

  it('with a forged session cookie it is probing: on record', async () => {
    const before = await settledCount();
    const c = t.client();
    c.cookies.set(SESSION_COOKIE, 'forged-session-id');
    expect((await c.get('/api/auth/me')).status).toBe(401);
    expect(await settledCount()).toBeGreaterThan(before);
    const rec = (await t.auditTail(1))[0] as { action: string; target?: string; outcome: string; details?: Record<string, unknown> };
    expect(rec.outcome).toBe('denied');
    expect(JSON.stringify(rec)).toContain('/api/auth/me');
  });

  it('another method on the path, and another protected route, without a cookie stay on record', async () => {
    const n = await settledCount();
    expect((await t.client().req('HEAD', '/api/auth/me')).status).toBe(401);
    expect(await settledCount()).toBeGreaterThan(n);
    const before = await settledCount();
    expect((await t.client().get('/api/admin/users')).status).toBe(401);
    expect(await settledCount()).toBeGreaterThan(before);
    expect(JSON.stringify((await t.auditTail(1))[0])).toContain('GET /api/admin/users');
  });
});
