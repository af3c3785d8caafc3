import { spawnSync, execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../core/config.ts';
import { isLoopbackHost, loadOrIssueTls } from '../../appliance/tls.ts';
import { CLI, cleanup, tempDir } from '../support/appliance.ts';
import { startTestApp, type TestApp } from './support.ts';

/**
 * Issue 17.10: outside loopback the appliance speaks only HTTPS, with Secure cookies and HSTS,
 * and a session cookie replayed from another address is refused.
 */
describe('HTTPS outside loopback', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir('archive-tls-');
  });
  afterAll(() => cleanup(dir));

  it('knows loopback from the rest', () => {
    for (const h of ['127.0.0.1', '127.0.0.2', 'localhost', '::1', '[::1]']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['0.0.0.0', '10.250.0.1', '192.168.1.10', '::', 'archive.local']) expect(isLoopbackHost(h), h).toBe(false);
  });

  it("serves the operator's certificate when tls.cert and tls.key are set, and refuses a key that does not match", async () => {
    const mk = (name: string) =>
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:P-256',
          '-nodes',
          '-subj',
          '/CN=archive.example',
          '-days',
          '30',
          '-keyout',
          join(dir, `${name}.key`),
          '-out',
          join(dir, `${name}.crt`),
        ],
        { stdio: 'ignore' },
      );
    mk('op');
    mk('other');
    const cfg = { ...defaultConfig(), dataDir: join(dir, 'opdata') };
    const mine = await loadOrIssueTls({ ...cfg, tls: { ...cfg.tls, cert: join(dir, 'op.crt'), key: join(dir, 'op.key') } }, '10.0.0.5');
    expect(mine.source).toBe('operator');
    expect(new X509Certificate(mine.cert).subject).toContain('archive.example');
    await expect(loadOrIssueTls({ ...cfg, tls: { ...cfg.tls, cert: join(dir, 'op.crt'), key: join(dir, 'other.key') } }, '10.0.0.5')).rejects.toMatchObject({ code: 'TLS_FILES_INVALID' });
    // The appliance's own: issued once for the address and the extra names, then reused.
    const own = await loadOrIssueTls({ ...cfg, tls: { ...cfg.tls, names: ['archive.office.lan'] } }, '10.0.0.5');
    const cert = new X509Certificate(own.cert);
    expect(cert.subjectAltName).toContain('IP Address:10.0.0.5');
    expect(cert.subjectAltName).toContain('DNS:archive.office.lan');
    expect(cert.verify(new X509Certificate(own.ca!).publicKey)).toBe(true);
    expect((await loadOrIssueTls({ ...cfg, tls: { ...cfg.tls, names: ['archive.office.lan'] } }, '10.0.0.5')).cert).toBe(own.cert);
    // A new address gets a new server certificate from the same CA.
    const moved = await loadOrIssueTls({ ...cfg, tls: { ...cfg.tls, names: [] } }, '10.0.0.6');
    expect(moved.ca).toBe(own.ca);
    expect(new X509Certificate(moved.cert).subjectAltName).toContain('IP Address:10.0.0.6');
  });

  it('archive serve on 10.250.0.1 (a network namespace of its own): TLS with the appliance CA, HSTS, Secure cookies, no plain HTTP, a replayed cookie refused', () => {
    // Two non-loopback addresses on the namespace's own interface: traffic never leaves it.
    const sh = `ip link set lo up && ip addr add 10.250.0.1/24 dev lo && ip addr add 10.250.0.2/24 dev lo && exec "${process.execPath}" "${join(import.meta.dirname, 'tls-driver.mjs')}" "${CLI}" "${join(dir, 'data')}" 10.250.0.1 10.250.0.2 8443`;
    const r = spawnSync('unshare', ['-rn', 'sh', '-c', sh], { encoding: 'utf8', timeout: 240_000 });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    expect(line.startsWith('{'), `${r.stdout}\n${r.stderr}`).toBe(true);
    const out = JSON.parse(line) as Record<string, unknown>;
    expect(out.error, JSON.stringify(out)).toBeUndefined();
    expect(out).toMatchObject({
      announced: 'https://10.250.0.1:8443/',
      setupUrl: 'https://10.250.0.1:8443/',
      tlsDirMode: '700',
      modes: { 'ca.key': '600', 'ca.crt': '600', 'server.key': '600', 'server.crt': '600' },
      untrusted: expect.stringMatching(/UNABLE_TO_VERIFY|SELF_SIGNED|UNABLE_TO_GET_ISSUER/),
      // Answered over TLS (503: no clamd in this namespace), with HSTS.
      health: { status: expect.any(Number), hsts: 'max-age=31536000' },
      caDownload: { status: 200, same: true, type: 'application/x-x509-ca-cert' },
      plain: expect.stringMatching(/ECONNRESET|socket hang up|HPE_|EPROTO|answered 400/),
      csrfCookieSecure: true,
      setup: 201,
      login: 200,
      sessionCookie: { secure: true, httpOnly: true, sameSite: true },
      meFromLogin: 200,
      replay: { status: 401, code: 'SESSION_ADDRESS_MISMATCH' },
      meAfterReplay: 401,
      status: { running: true, httpAddr: '10.250.0.1:8443', health: true },
      mismatchAudited: [{ source: '10.250.0.2', outcome: 'denied', boundTo: '10.250.0.1' }],
    });
  }, 300_000);
});

describe('sessions bound to the client address (loopback, plain HTTP)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    await t.addUser('ann', ['staff']);
  });
  afterAll(() => t.close());

  const fromOther = (path: string, cookie: string) =>
    new Promise<number>((resolve, reject) => {
      const req = request(`${t.base}${path}`, { localAddress: '127.0.0.2', headers: { cookie } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });

  it('a cookie replayed from 127.0.0.2 is refused and ends the session; loopback stays plain HTTP without Secure or HSTS', async () => {
    const c = t.client();
    const login = await c.login('ann');
    expect(login.status).toBe(200);
    expect(login.headers.get('strict-transport-security')).toBeNull();
    expect(login.headers.getSetCookie().find((x) => x.startsWith('archive_session='))).not.toMatch(/secure/i);
    expect((await c.get('/api/auth/me')).status).toBe(200);
    expect(await fromOther('/api/auth/me', `archive_session=${c.cookies.get('archive_session')}`)).toBe(401);
    expect((await t.auditTail(1))[0]).toMatchObject({ action: 'auth.session.address-mismatch', actor: 'ann', source: '127.0.0.2', outcome: 'denied', details: { boundTo: '127.0.0.1' } });
    expect((await c.get('/api/auth/me')).status).toBe(401);
  });
});
