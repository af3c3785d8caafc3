import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { healthReport } from '../../core/health.ts';
import { oneUserPerRole, startTestApp, type Client, type TestApp } from './support.ts';

/**
 * Issue #17.7: /api/health without a session told Meilisearch's pid and port, ClamAV's version,
 * disk bytes, install paths and the gateway addresses named by the self-check. The report below
 * carries exactly such details (as the real components return them); every request that is not
 * the console, the sysadmin or the secadmin must get none of them.
 */
const SECRETS = ['48213', '7700', 'ClamAV 1.4.6', '27100', '/var/lib/archive', '/opt/archive/releases', '10.20.30.1', '982374912', '123456789012', 'clamd.ctl'];

const CONSOLE_TOKEN = 'console-token-for-this-test-0123456789abcdef';

function detailedReport() {
  return healthReport({
    meilisearch: () => ({ status: 'ok' as const, reason: '运行正常', pid: 48213, port: 7700 }),
    clamd: () => ({ status: 'ok' as const, reason: '运行中；病毒特征库 1 天前发布', version: 'ClamAV 1.4.6/27100/Mon Nov 23 09:00:00 2026', address: 'unix:/run/clamav/clamd.ctl' }),
    disk: () => ({ status: 'ok' as const, reason: '可用空间 114.8 GiB', path: '/var/lib/archive', freeBytes: 123456789012, totalBytes: 982374912 * 1000 }),
    ocrData: () => ({ status: 'ok' as const, reason: '已安装：chi_sim（/opt/archive/releases/r1/node_modules/@tesseract.js-data）' }),
    selfcheck: () => ({ status: 'down' as const, reason: '失败：存在默认路由（经 10.20.30.1，接口 eth0）' }),
  });
}

describe('health without a session tells only ok / degraded / down (#17.7)', () => {
  let t: TestApp;
  const as: Record<string, Client> = {};
  beforeAll(async () => {
    t = await startTestApp({ health: detailedReport, consoleToken: CONSOLE_TOKEN });
    await t.sec.identity.createPost({ code: 'BGS', name: '办公室' });
    Object.assign(as, await oneUserPerRole(t, (roles) => (roles.includes('staff') || roles.includes('archivist') ? { posts: ['BGS'] } : {})));
  });
  afterAll(() => t.close());

  const noSecrets = (body: unknown) => {
    const text = JSON.stringify(body);
    for (const s of SECRETS) expect(text, s).not.toContain(s);
  };

  it('unauthenticated: status and time only (503 when down), nothing else', async () => {
    const r = await t.client().get('/api/health');
    expect(r.status).toBe(503);
    expect(Object.keys(r.body).sort()).toEqual(['status', 'time']);
    expect(r.body.status).toBe('down');
    noSecrets(r.body);
    // Guessing the console token, or sending an empty one, changes nothing.
    for (const guess of ['', 'x', CONSOLE_TOKEN.slice(0, -1), `${CONSOLE_TOKEN}x`, CONSOLE_TOKEN.toUpperCase()]) {
      const g = await t.client().req('GET', '/api/health', undefined, { headers: { 'x-archive-console': guess } });
      expect(Object.keys(g.body).sort(), guess).toEqual(['status', 'time']);
      noSecrets(g.body);
    }
    const details = await t.client().get('/api/health/details');
    expect(details.status).toBe(401);
    noSecrets(details.body);
  });

  it('staff, archivists and the auditor get the summary; the details are refused and the refusal audited', async () => {
    for (const u of ['sam', 'amy', 'aud']) {
      const r = await as[u].get('/api/health');
      expect(Object.keys(r.body).sort(), u).toEqual(['status', 'time']);
      noSecrets(r.body);
      const before = await t.auditCount();
      const d = await as[u].get('/api/health/details');
      expect(d.status, u).toBe(403);
      expect(d.body.error.code).toBe('FORBIDDEN');
      noSecrets(d.body);
      expect(await t.auditCount()).toBe(before + 1);
      expect((await t.auditTail(1))[0]).toMatchObject({ actor: u, action: 'authz.denied', target: 'GET /api/health/details', outcome: 'denied' });
    }
  });

  it('the sysadmin and the secadmin see every component; so does the console with its token', async () => {
    for (const u of ['sys', 'sec']) {
      const d = await as[u].get('/api/health/details');
      expect(d.status, u).toBe(503);
      expect(d.body.components.meilisearch).toMatchObject({ pid: 48213, port: 7700 });
      expect(d.body.components.selfcheck.reason).toContain('10.20.30.1');
      // Even they get the summary at the public address: the details have their own route.
      expect(Object.keys((await as[u].get('/api/health')).body).sort()).toEqual(['status', 'time']);
    }
    const c = await t.client().req('GET', '/api/health', undefined, { headers: { 'x-archive-console': CONSOLE_TOKEN } });
    expect(c.body.components.clamd.version).toContain('ClamAV 1.4.6');
    expect(Object.keys(c.body.components).sort()).toEqual(['clamd', 'disk', 'meilisearch', 'ocrData', 'selfcheck']);
  });
});
