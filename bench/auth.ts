// Login latency with the chosen argon2id parameters, and audit append throughput, each beside a
// baseline measured in the same run (the machine is shared: only ratios travel).
// Run: npx tsx bench/auth.ts
import argon2 from 'argon2';
import { appendFile, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { healthReport } from '../core/health.ts';
import { createLogger } from '../core/log.ts';
import { AuditLog, argon2Hasher, openSecurity } from '../security/index.ts';
import { ARGON2_PARAMS } from '../security/passwords.ts';
import { createAuth } from '../web/auth.ts';
import { createWebApp } from '../web/index.ts';

const PASSWORD = 'Bench-pass-2026!';

function stats(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return `median ${q(0.5).toFixed(1)} ms  p90 ${q(0.9).toFixed(1)} ms  p95 ${q(0.95).toFixed(1)} ms  (n=${s.length})`;
}

/**
 * 30 logins at once, as the appliance runs (default lockout, sessions and locks kept in the data
 * dir): 30 colleagues behind one address, five rounds; then 30 concurrent wrong passwords for one
 * account, counting the argon2 verifications they cost.
 */
async function concurrentLogins(dir: string): Promise<void> {
  const sec = await openSecurity({ dataDir: join(dir, 'data30') });
  const log = createLogger({ level: 'silent' });
  let verifies = 0;
  const hasher = { hash: argon2Hasher.hash, verify: (h: string, p: string) => ((verifies += 1), argon2Hasher.verify(h, p)) };
  const auth = await createAuth({ configDir: sec.configDir, identity: sec.identity, audit: sec.audit, log, hasher, stateDir: join(dir, 'data30', 'run') } as Parameters<typeof createAuth>[0]);
  const hash = await argon2Hasher.hash(PASSWORD);
  for (let i = 0; i < 31; i++) await sec.identity.createUser({ username: `user${i}`, roles: ['staff'], passwordHash: hash, mustChangePassword: false });
  const app = createWebApp({ log, auth, health: () => healthReport({}) });
  const server: Server = await new Promise((r) => {
    const s = app.listen(0, '127.0.0.1', () => r(s));
  });
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const csrf = ((await (await fetch(`${base}/api/auth/csrf`)).json()) as { csrfToken: string }).csrfToken;
  const login = async (username: string, password: string) => {
    const t = performance.now();
    const r = await fetch(`${base}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: `archive_csrf=${csrf}`, 'x-csrf-token': csrf },
      body: JSON.stringify({ username, password }),
    });
    await r.arrayBuffer();
    return { status: r.status, ms: performance.now() - t };
  };
  const all: number[] = [];
  let refused = 0;
  for (let round = 0; round < 5; round++) {
    const rs = await Promise.all(Array.from({ length: 30 }, (_, i) => login(`user${i}`, PASSWORD)));
    refused += rs.filter((r) => r.status !== 200).length;
    all.push(...rs.map((r) => r.ms));
  }
  console.log(`login     30 concurrent (30 accounts, one address), 5 rounds: ${stats(all)}  refused ${refused}`);
  verifies = 0;
  const t = performance.now();
  const wrong = await Promise.all(Array.from({ length: 30 }, () => login('user30', 'Wrong-pass-2026!')));
  console.log(
    `login     30 concurrent wrong passwords, one account: ${verifies} argon2 verifications, ${wrong.filter((r) => r.status === 429).length} refused as locked, all answered in ${(performance.now() - t).toFixed(0)} ms`,
  );
  await new Promise<void>((r) => server.close(() => r()));
}

async function time(n: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    out.push(performance.now() - t);
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'archive-bench-auth-'));
  try {
    console.log(`argon2id parameters: m=${ARGON2_PARAMS.memoryCost} KiB, t=${ARGON2_PARAMS.timeCost}, p=${ARGON2_PARAMS.parallelism}`);
    const owasp = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 };
    await argon2.hash('warm', owasp);
    const rawOwasp = await time(8, (i) => argon2.hash(`pw${i}`, owasp));
    const rawChosen = await time(8, (i) => argon2.hash(`pw${i}`, ARGON2_PARAMS));
    console.log(`baseline  raw argon2id hash, OWASP floor (19 MiB, t=2): ${stats(rawOwasp)}`);
    console.log(`baseline  raw argon2id hash, chosen (64 MiB, t=3):      ${stats(rawChosen)}`);

    // Login over HTTP against the real koa app and stores.
    const sec = await openSecurity({ dataDir: join(dir, 'data') });
    const log = createLogger({ level: 'silent' });
    const auth = await createAuth({ configDir: sec.configDir, identity: sec.identity, audit: sec.audit, log, lockout: { maxPerAccount: 1e9, maxPerSource: 1e9 } });
    await sec.identity.createUser({ username: 'bench', roles: ['staff'], passwordHash: await argon2Hasher.hash(PASSWORD), mustChangePassword: false });
    const app = createWebApp({ log, auth, health: () => healthReport({}) });
    const server: Server = await new Promise((r) => {
      const s = app.listen(0, '127.0.0.1', () => r(s));
    });
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const csrfRes = await fetch(`${base}/api/auth/csrf`);
    const csrf = ((await csrfRes.json()) as { csrfToken: string }).csrfToken;
    const login = async (username: string, password: string) => {
      const r = await fetch(`${base}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie: `archive_csrf=${csrf}`, 'x-csrf-token': csrf },
        body: JSON.stringify({ username, password }),
      });
      await r.arrayBuffer();
      return r.status;
    };
    await login('bench', PASSWORD);
    // Interleaved, so load from other processes falls on all three alike.
    const ok: number[] = [];
    const wrong: number[] = [];
    const ghost: number[] = [];
    for (let i = 0; i < 15; i++) {
      ok.push(...(await time(1, () => login('bench', PASSWORD))));
      wrong.push(...(await time(1, () => login('bench', 'Wrong-pass-2026!'))));
      ghost.push(...(await time(1, () => login('nobody', 'Wrong-pass-2026!'))));
    }
    console.log(`login     correct password:        ${stats(ok)}   (${(median(ok) / median(rawChosen)).toFixed(2)}× raw hash)`);
    console.log(`login     wrong password:          ${stats(wrong)}`);
    console.log(`login     user does not exist:     ${stats(ghost)}   (ratio to wrong password ${(median(ghost) / median(wrong)).toFixed(2)})`);
    await new Promise<void>((r) => server.close(() => r()));
    await concurrentLogins(dir);

    // Audit append throughput.
    const rec = { actor: 'bench', role: 'staff', source: '127.0.0.1', action: 'item.view', target: 'item-1', outcome: 'success' as const, details: { page: 1 } };
    const line = `${JSON.stringify({ seq: 1, time: new Date().toISOString(), ...rec, prev: '0'.repeat(64), hash: '0'.repeat(64) })}\n`;
    const rawPath = join(dir, 'raw.jsonl');
    const N = 3000;
    let t = performance.now();
    for (let i = 0; i < N; i++) await appendFile(rawPath, line);
    const rawNoSync = N / ((performance.now() - t) / 1000);
    const M = 200;
    const fh = await open(join(dir, 'raw-sync.jsonl'), 'a');
    t = performance.now();
    for (let i = 0; i < M; i++) {
      await fh.write(line);
      await fh.sync();
    }
    const rawSync = M / ((performance.now() - t) / 1000);
    await fh.close();
    const audit = new AuditLog(join(dir, 'audit'));
    await audit.append(rec);
    t = performance.now();
    for (let i = 0; i < M; i++) await audit.append(rec);
    const seq = M / ((performance.now() - t) / 1000);
    t = performance.now();
    await Promise.all(Array.from({ length: N }, () => audit.append(rec)));
    const burst = N / ((performance.now() - t) / 1000);
    console.log(`baseline  raw appendFile, no fsync:            ${rawNoSync.toFixed(0)} records/s`);
    console.log(`baseline  raw write + fsync per record:        ${rawSync.toFixed(0)} records/s`);
    console.log(`audit     one at a time (awaited each):        ${seq.toFixed(0)} records/s  (${(seq / rawSync).toFixed(2)}× raw write+fsync)`);
    console.log(`audit     ${N} concurrent (group commit):     ${burst.toFixed(0)} records/s  (${(burst / rawSync).toFixed(1)}× raw write+fsync, ${(burst / rawNoSync).toFixed(2)}× raw appendFile)`);
  } finally {
    // The audit head is brought up shortly after an append: retry while it lands.
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 300 });
  }
}

await main();
