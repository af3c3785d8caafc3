// Run inside a fresh network namespace (test/security/tls.test.ts): starts `archive serve` on a
// non-loopback address of this namespace and tries it as a browser and as an attacker would.
// Prints one JSON line of findings. Args: <cli> <dataDir> <host> <otherHost> <port>
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';

const [cli, dataDir, host, other, port] = process.argv.slice(2);
const out = {};
let log = '';
const proc = spawn(process.execPath, [cli, 'serve'], {
  env: { ...process.env, ARCHIVE_DATA_DIR: dataDir, ARCHIVE_HTTP_ADDR: `${host}:${port}`, ARCHIVE_MEILI_PORT: '0', ARCHIVE_LOG_LEVEL: 'warn', ARCHIVE_INTEGRITY_HOUR: 'off' },
  stdio: ['ignore', 'pipe', 'pipe'],
});
proc.stdout.on('data', (d) => (log += d));
proc.stderr.on('data', (d) => (log += d));

function call(method, path, { ca, localAddress = host, cookie, body, csrf, plain } = {}) {
  return new Promise((resolve) => {
    const headers = {};
    if (cookie) headers.cookie = cookie;
    if (csrf) headers['x-csrf-token'] = csrf;
    if (body) headers['content-type'] = 'application/json';
    const req = (plain ? httpRequest : httpsRequest)({ host, port: Number(port), path, method, headers, localAddress, ca, servername: undefined, timeout: 15_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ error: e.code ?? e.message }));
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

try {
  const deadline = Date.now() + 120_000;
  // With no terminal the one-time setup token goes to a 0600 file, never into the log.
  const tokenFile = join(dataDir, 'config', 'setup-token.txt');
  let token;
  while (!(token = /初始设置令牌[^：]*：(\S+)/.exec(await readFile(tokenFile, 'utf8').catch(() => ''))?.[1]) || !/档案检索一体机已启动/.test(log)) {
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`serve did not start: ${log}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  out.announced = /档案检索一体机已启动：(\S+)/.exec(log)?.[1];
  out.setupUrl = /在浏览器打开 (\S+)/.exec(await readFile(tokenFile, 'utf8'))?.[1];
  const ca = await readFile(join(dataDir, 'config', 'tls', 'ca.crt'), 'utf8');
  const { statSync } = await import('node:fs');
  out.modes = Object.fromEntries(['ca.key', 'ca.crt', 'server.key', 'server.crt'].map((f) => [f, (statSync(join(dataDir, 'config', 'tls', f)).mode & 0o777).toString(8)]));
  out.tlsDirMode = (statSync(join(dataDir, 'config', 'tls')).mode & 0o777).toString(8);

  // Without the CA the browser refuses; with it, TLS works.
  out.untrusted = (await call('GET', '/api/health')).error;
  const health = await call('GET', '/api/health', { ca });
  out.health = { status: health.status, hsts: health.headers?.['strict-transport-security'] };
  const caDownload = await call('GET', '/ca.crt', { ca });
  out.caDownload = { status: caDownload.status, same: caDownload.text === ca, type: caDownload.headers?.['content-type'] };
  // Plain HTTP on the same address and port gets no answer.
  const plain = await call('GET', '/api/health', { plain: true });
  out.plain = plain.error ?? `answered ${plain.status}`;

  // Set up an administrator and log in from `host`.
  const csrfRes = await call('GET', '/api/auth/csrf', { ca });
  const csrfCookie = (csrfRes.headers['set-cookie'] ?? []).find((c) => c.startsWith('archive_csrf='));
  out.csrfCookieSecure = /;\s*secure/i.test(csrfCookie ?? '');
  const csrf = JSON.parse(csrfRes.text).csrfToken;
  const cookie0 = `archive_csrf=${csrf}`;
  const setup = await call('POST', '/api/auth/setup', { ca, cookie: cookie0, csrf, body: { token, username: 'sysadm', password: 'First-admin-2026', role: 'sysadmin' } });
  out.setup = setup.status;
  const login = await call('POST', '/api/auth/login', { ca, cookie: cookie0, csrf, body: { username: 'sysadm', password: 'First-admin-2026' } });
  out.login = login.status;
  const sessionCookie = (login.headers['set-cookie'] ?? []).find((c) => c.startsWith('archive_session='));
  out.sessionCookie = { secure: /;\s*secure/i.test(sessionCookie ?? ''), httpOnly: /;\s*httponly/i.test(sessionCookie ?? ''), sameSite: /samesite=strict/i.test(sessionCookie ?? '') };
  const session = sessionCookie.split(';')[0];
  out.meFromLogin = (await call('GET', '/api/auth/me', { ca, cookie: session })).status;
  // The same cookie replayed from another address of this namespace.
  const replay = await call('GET', '/api/auth/me', { ca, cookie: session, localAddress: other });
  out.replay = { status: replay.status, code: JSON.parse(replay.text || '{}').error?.code };
  out.meAfterReplay = (await call('GET', '/api/auth/me', { ca, cookie: session })).status;
  // The console's `archive status` reaches it over HTTPS, trusting the appliance CA.
  const { spawnSync } = await import('node:child_process');
  const st = spawnSync(process.execPath, [cli, 'status', '--json'], { env: { ...process.env, ARCHIVE_DATA_DIR: dataDir }, encoding: 'utf8', timeout: 60_000 });
  try {
    const j = JSON.parse(st.stdout.trim().split('\n').pop());
    out.status = { running: j.running, httpAddr: j.httpAddr, health: Boolean(j.health?.status) };
  } catch {
    out.status = { error: `${st.stdout} ${st.stderr}` };
  }
} catch (e) {
  out.error = e.message;
} finally {
  proc.kill('SIGTERM');
  await new Promise((r) => proc.once('exit', r));
  const audit = await readFile(join(dataDir, 'audit', `audit-${new Date().getFullYear()}.jsonl`), 'utf8').catch(() => '');
  out.mismatchAudited = audit
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((r) => r.action === 'auth.session.address-mismatch')
    .map((r) => ({ source: r.source, outcome: r.outcome, boundTo: r.details.boundTo }));
  console.log(JSON.stringify(out));
}
