// Audit growth under unauthenticated failures (issue 17.8): 200 requests from one source against
// the real koa app and stores — 100 logins for accounts that do not exist (the source is locked
// out part-way, as it would be) and 100 POSTs without a CSRF token — and the bytes and records
// they add to the audit trail. Run: npx tsx bench/audit-denials.ts
import type { Server } from 'node:http';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { healthReport } from '../core/health.ts';
import { createLogger } from '../core/log.ts';
import { argon2Hasher, openSecurity } from '../security/index.ts';
import { createAuth } from '../web/auth.ts';
import { createWebApp } from '../web/index.ts';

async function auditBytes(dir: string): Promise<{ bytes: number; records: number }> {
  let bytes = 0;
  let records = 0;
  for (const f of (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.jsonl'))) {
    bytes += (await stat(join(dir, f))).size;
    const { readFile } = await import('node:fs/promises');
    records += (await readFile(join(dir, f), 'utf8')).split('\n').filter(Boolean).length;
  }
  return { bytes, records };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'archive-bench-denials-'));
  try {
    const sec = await openSecurity({ dataDir: join(dir, 'data') });
    const log = createLogger({ level: 'silent' });
    const auth = await createAuth({ configDir: sec.configDir, identity: sec.identity, audit: sec.audit, log });
    await sec.identity.createUser({ username: 'staff1', roles: ['staff'], passwordHash: await argon2Hasher.hash('Bench-pass-2026!'), mustChangePassword: false });
    const app = createWebApp({ log, auth, health: () => healthReport({}) });
    const server: Server = await new Promise((r) => {
      const s = app.listen(0, '127.0.0.1', () => r(s));
    });
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const csrf = ((await (await fetch(`${base}/api/auth/csrf`)).json()) as { csrfToken: string }).csrfToken;
    const auditDir = join(dir, 'data', 'audit');
    await sec.audit.settle();
    const before = await auditBytes(auditDir);
    const t0 = performance.now();
    const statuses = new Map<number, number>();
    for (let i = 0; i < 200; i++) {
      const withToken = i % 2 === 0;
      const r = await fetch(`${base}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie: `archive_csrf=${csrf}`, ...(withToken ? { 'x-csrf-token': csrf } : {}) },
        body: JSON.stringify({ username: `nobody-${i}-${'x'.repeat(40)}`, password: 'wrong-password' }),
      });
      await r.arrayBuffer();
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
    const ms = performance.now() - t0;
    await sec.audit.settle();
    const mid = await auditBytes(auditDir);
    // What is still folded in memory is written when the appliance stops (or the minute ends).
    await (auth as { flushAudit?: () => Promise<void> }).flushAudit?.();
    await sec.audit.settle();
    const after = await auditBytes(auditDir);
    console.log(`200 unauthenticated failures in ${ms.toFixed(0)} ms; answers: ${[...statuses].map(([s, n]) => `${s}×${n}`).join(', ')}`);
    console.log(`audit growth right after: +${mid.bytes - before.bytes} bytes, +${mid.records - before.records} records`);
    console.log(`audit growth once folded counts are written: +${after.bytes - before.bytes} bytes, +${after.records - before.records} records`);
    console.log(`per failure: ${((after.bytes - before.bytes) / 200).toFixed(0)} bytes`);
    await new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
