import { request, type Server } from 'node:http';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { healthReport } from '../../core/health.ts';
import { openSecurity } from '../../security/index.ts';
import { createAuth } from '../../web/auth.ts';
import { createWebApp } from '../../web/index.ts';
import { Client } from '../security/support.ts';
import { cleanup, tempDir, waitFor } from '../support/appliance.ts';

// The access line ('http') is written after the answer has gone out (web/app.ts): still exactly
// one per request, with the status the client got, and one for a request the client gave up on.
interface Line {
  msg: string;
  method: string;
  path: string;
  status: number;
  ms: number;
  ip: string;
  requestId: string;
  aborted?: boolean;
}
const lines: Line[] = [];
let dir: string;
let server: Server;
let base: string;

beforeAll(async () => {
  dir = await tempDir('archive-access-log-');
  const sec = await openSecurity({ dataDir: dir });
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Line) });
  const auth = await createAuth({ configDir: sec.configDir, identity: sec.identity, audit: sec.audit, log });
  const app = createWebApp({ log, auth, health: () => healthReport({}) });
  server = await new Promise((r) => {
    const s = app.listen(0, '127.0.0.1', () => r(s));
  });
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  await new Promise<void>((r) => {
    server?.close(() => r());
    server?.closeAllConnections();
  });
  await cleanup(dir);
});

const http = () => lines.filter((l) => l.msg === 'http');

describe('access log', () => {
  it('one line per request, with the status the client got', async () => {
    const c = new Client(base);
    const got = [
      (await c.get('/api/auth/csrf')).status,
      (await c.get('/api/auth/me')).status,
      (await c.get('/api/no-such-route')).status,
      (await c.req('POST', '/api/auth/logout', {}, { csrf: false })).status,
    ];
    expect(got).toEqual([200, 401, 404, 401]);
    const logged = await waitFor(async () => (http().length >= 4 ? http() : undefined), 5_000, 'access lines');
    expect(logged.map((l) => [l.method, l.path, l.status])).toEqual([
      ['GET', '/api/auth/csrf', 200],
      ['GET', '/api/auth/me', 401],
      ['GET', '/api/no-such-route', 404],
      ['POST', '/api/auth/logout', 401],
    ]);
    for (const l of logged) {
      expect(l.ip).toBe('127.0.0.1');
      expect(l.aborted).toBeUndefined();
      expect(l.ms).toBeGreaterThanOrEqual(0);
    }
    expect(new Set(logged.map((l) => l.requestId)).size).toBe(4);
  });

  it('a request the client abandons is still logged once, marked aborted', async () => {
    const before = http().length;
    const c = new Client(base);
    await c.get('/api/auth/csrf');
    const csrf = c.cookies.get('archive_csrf')!;
    // A login for an unknown user still verifies a dummy argon2id hash (hundreds of ms): the
    // client goes away long before the answer.
    const body = JSON.stringify({ username: 'nobody-here', password: 'Whatever-2026' });
    await new Promise<void>((resolve) => {
      const req = request(`${base}/api/auth/login`, {
        method: 'POST',
        headers: { cookie: `archive_csrf=${csrf}`, 'x-csrf-token': csrf, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      });
      req.on('error', () => resolve());
      req.end(body, () => setTimeout(() => req.destroy(), 20));
    });
    const logged = await waitFor(
      async () =>
        http()
          .slice(before)
          .find((l) => l.path === '/api/auth/login'),
      10_000,
      'access line of the abandoned login',
    );
    expect(logged.aborted).toBe(true);
    expect(
      http()
        .slice(before)
        .filter((l) => l.path === '/api/auth/login'),
    ).toHaveLength(1);
  });
});
