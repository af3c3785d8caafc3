import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../core/config.ts';
import { assertRoomForWork, diskHealth } from '../../core/disk.ts';
import { JobStore } from '../../ingest/index.ts';
import { createIngestService, submitPaths } from '../../ingest/service.ts';
import { createLogger } from '../../core/log.ts';
import type { SearchService } from '../../search/index.ts';
import { AuditLog, verifyAudit } from '../../security/index.ts';
import { ROOT, cleanup, tempDir } from '../support/appliance.ts';
import { GOOD_PASSWORD, startTestApp, type TestApp } from './support.ts';

/**
 * Issue 17.8: unauthenticated failures used to append one fsynced record each (200 requests:
 * +76 KB, bench/audit-denials.ts), and long paths were stored whole; a full disk then stopped
 * everything. Now denials from one source fold into one record per minute, texts are capped with
 * a hash, the trail has a reserve, and new work is refused well before the disk is full.
 */
describe('audit volume', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    await t.addUser('ann', ['staff']);
  });
  afterAll(() => t.close());

  const bytes = async () => (await readFile(join(t.dir, 'audit', `audit-${new Date().getFullYear()}.jsonl`)).catch(() => Buffer.alloc(0))).length;

  it('200 unauthenticated failures from one source: the first written at once, the rest folded into one record with the count', async () => {
    const c = t.client();
    await c.get('/api/auth/csrf');
    const before = await t.auditCount();
    const bytesBefore = await bytes();
    // The first of the burst is on record before its answer.
    expect((await c.login('nobody-0', 'x')).status).toBe(401);
    expect(await t.auditCount()).toBe(before + 1);
    expect((await t.auditTail(1))[0]).toMatchObject({ action: 'auth.login', outcome: 'failure', source: '127.0.0.1', target: 'nobody-0', details: { reason: 'unknown-user', burst: 'first' } });
    const statuses: number[] = [];
    for (let i = 1; i < 200; i++) {
      const r =
        i % 3 === 0
          ? await c.req('POST', '/api/auth/login', { username: `nobody-${i}`, password: 'x' }, { csrf: false })
          : i % 3 === 1
            ? await c.login(`nobody-${i}`, 'x')
            : await c.req('POST', '/api/auth/setup', { token: 'guess', username: `x${i}`, password: 'x', role: 'sysadmin' });
      statuses.push(r.status);
    }
    expect(statuses.every((s) => s >= 400)).toBe(true);
    await t.auth.audit.settle();
    // Direct records during the burst: only the source lockout being imposed (an event of its own).
    const during = (await t.auditTail((await t.auditCount()) - before)).slice(1);
    expect(during.map((r) => r.action)).toEqual(['auth.lockout']);
    await t.auth.flushAudit();
    const folded = (await t.auditTail(1))[0] as { action: string; source: string; details: { count: number; kinds: Record<string, number>; targets: Record<string, number> } };
    expect(folded).toMatchObject({ action: 'auth.denied.folded', source: '127.0.0.1', outcome: 'denied' });
    expect(folded.details.count).toBe(199);
    expect(Object.values(folded.details.kinds).reduce((a, b) => a + b, 0)).toBe(199);
    expect(Object.keys(folded.details.kinds).sort()).toEqual(expect.arrayContaining(['auth.csrf:denied', 'auth.setup:bad-token']));
    expect(Object.keys(folded.details.targets).length).toBeLessThanOrEqual(20);
    expect(await t.auditCount()).toBe(before + 3);
    const grew = (await bytes()) - bytesBefore;
    console.log(`audit growth under 200 unauthenticated failures: +${grew} bytes (3 records)`);
    expect(grew).toBeLessThan(4_000);
    expect((await verifyAudit(join(t.dir, 'audit'))).ok).toBe(true);
  });

  it('another source opens its own burst, written at once; a wrong password for a real account stays a record of its own', async () => {
    const before = await t.auditCount();
    // From 127.0.0.2 (still this machine): its own first record at once.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${t.base}/api/auth/login`, { method: 'POST', localAddress: '127.0.0.2', headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(JSON.stringify({ username: 'a', password: 'b' }));
    });
    expect(status).toBe(403); // no CSRF token
    expect(await t.auditCount()).toBe(before + 1);
    expect((await t.auditTail(1))[0]).toMatchObject({ action: 'auth.csrf', source: '127.0.0.2', details: { burst: 'first' } });
    t.clock.advance(16 * 60_000); // past the source lockout of the first test
    const c = t.client();
    for (let i = 0; i < 3; i++) expect((await c.login('ann', 'Wrong-password-1')).status).toBe(401);
    const tail = await t.auditTail(3);
    expect(tail.map((r) => [r.action, r.target, (r.details as { reason: string }).reason])).toEqual(Array(3).fill(['auth.login', 'ann', 'wrong-password']));
    expect((await c.login('ann', GOOD_PASSWORD)).status).toBe(200);
  });

  it('long paths and targets are stored capped, with the SHA-256 of the whole', async () => {
    const long = `/srv/scans/${'很长的目录名/'.repeat(600)}page-0001.tif`;
    const rec = await t.auth.audit.append({
      actor: 'console',
      role: 'console',
      source: 'console:test',
      action: 'ingest.file-refused',
      target: long,
      outcome: 'denied',
      details: { files: [long], nested: { path: long } },
    });
    const hash = createHash('sha256').update(long).digest('hex');
    expect(rec.target.length).toBeLessThan(400);
    expect(rec.target.startsWith(long.slice(0, 256))).toBe(true);
    expect(rec.target).toContain(`sha256:${hash}`);
    expect((rec.details.files as string[])[0]).toContain(hash);
    expect((rec.details.nested as { path: string }).path).toContain(hash);
    const line = (await readFile(join(t.dir, 'audit', `audit-${new Date().getFullYear()}.jsonl`), 'utf8')).trim().split('\n').pop()!;
    expect(Buffer.byteLength(line)).toBeLessThan(4_000); // three copies of a 7 KB path: ~43 KB uncapped
    expect((await verifyAudit(join(t.dir, 'audit'))).ok).toBe(true);
  });
});

describe('disk thresholds and the audit reserve', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir('archive-disk-');
  });
  afterAll(() => cleanup(dir));

  it('health turns degraded at the configured threshold, and new ingest work is refused below refuseWorkBelowGiB', async () => {
    const disk = defaultConfig().disk;
    expect(disk).toEqual({ degradedBelowGiB: 5, degradedBelowPercent: 5, refuseWorkBelowGiB: 1, auditReserveMiB: 64 });
    expect((await diskHealth(dir, { ...disk, degradedBelowGiB: 1e6 })).status).toBe('degraded');
    expect((await diskHealth(dir, { ...disk, degradedBelowGiB: 0, degradedBelowPercent: 100 })).status).toBe('degraded');
    const low = await diskHealth(dir, { ...disk, refuseWorkBelowGiB: 1e6 });
    expect(low).toMatchObject({ status: 'degraded' });
    expect(low.reason).toContain('暂停接收新的导入');
    expect((await diskHealth(dir, { ...disk, degradedBelowGiB: 0, degradedBelowPercent: 0 })).status).toBe('ok');
    await expect(assertRoomForWork(dir, { ...disk, refuseWorkBelowGiB: 1e6 })).rejects.toMatchObject({ code: 'DISK_LOW', status: 507 });
    await mkdir(join(dir, 'b'));
    await writeFile(join(dir, 'b', 'a.tif'), 'II*\0');
    const cfg = { ...defaultConfig(), dataDir: join(dir, 'data'), disk: { ...disk, refuseWorkBelowGiB: 1e6 } };
    await mkdir(cfg.dataDir);
    const audit = new AuditLog(join(dir, 'data', 'audit'));
    await expect(submitPaths(cfg, new JobStore(cfg.dataDir), audit, [join(dir, 'b')], { actor: { name: 'c', role: 'console', source: 'console' }, via: 'cli', posts: ['ZH'] })).rejects.toMatchObject({
      code: 'DISK_LOW',
    });
    // The service the upload route and re-OCR use refuses the same way (the route asks before receiving a byte).
    const svc = await createIngestService(cfg, { log: createLogger({ level: 'silent' }), audit, search: undefined as unknown as SearchService });
    await expect(svc.assertRoom()).rejects.toMatchObject({ code: 'DISK_LOW' });
    await expect(
      svc.submitItems([{ label: 'a.tif', files: [join(dir, 'b', 'a.tif')], metadata: {} }], { actor: { name: 'c', role: 'console', source: 'console' }, via: 'reocr', posts: ['ZH'] }),
    ).rejects.toMatchObject({ code: 'DISK_LOW' });
    expect(await new JobStore(cfg.dataDir).list()).toEqual([]);
  });

  it('on a full filesystem the trail gives back its reserve and keeps writing (a real 4 MiB tmpfs, in a user namespace)', async () => {
    const probe = spawnSync('unshare', ['-rm', 'true']);
    if (probe.status !== 0) throw new Error(`unshare -rm is needed for this test: ${probe.stderr}`);
    const script = `
      import { AuditLog } from ${JSON.stringify(join(ROOT, 'security/index.ts'))};
      import { openSync, writeSync, closeSync } from 'node:fs';
      const dir = process.argv[2];
      const out = {};
      for (const reserve of [true, false]) {
        const root = dir + (reserve ? '/with' : '/without');
        const { mkdirSync } = await import('node:fs');
        mkdirSync(root, { recursive: true });
        const log = new AuditLog(root + '/audit', { reservePath: reserve ? root + '/audit-reserve' : undefined });
        await log.append({ actor: 'system', role: 'system', source: 'system', action: 'start', target: '-', outcome: 'success' });
        out[reserve ? 'reserved' : 'unreserved'] = await log.ensureReserve(reserve ? 1024 * 1024 : 0);
        await log.settle();
        // Everything else fills the disk.
        const fd = openSync(root + '/filler', 'w');
        try { for (;;) writeSync(fd, Buffer.alloc(65536)); } catch (e) { out.fill = e.code; }
        closeSync(fd);
        try {
          for (let i = 0; i < 50; i++) await log.append({ actor: '-', role: '-', source: '10.0.0.9', action: 'auth.denied.folded', target: '-', outcome: 'denied', details: { count: i } });
          out[reserve ? 'with' : 'without'] = 'written';
        } catch (e) {
          out[reserve ? 'with' : 'without'] = e.code;
        }
        out[reserve ? 'reserveInUse' : 'x'] = log.reserveInUse;
        const { rmSync } = await import('node:fs');
        rmSync(root + '/filler');
      }
      console.log(JSON.stringify(out));
    `;
    const mnt = '/tmp/archive-audit-full';
    const file = join(dir, 'fill.mts');
    await writeFile(file, script);
    const cmd = `mkdir -p ${mnt} && mount -t tmpfs -o size=4m tmpfs ${mnt} && cd ${JSON.stringify(ROOT)} && node --import tsx ${JSON.stringify(file)} ${mnt}`;
    const r = execFileSync('unshare', ['-rm', 'sh', '-c', cmd], { encoding: 'utf8', timeout: 120_000 });
    const out = JSON.parse(r.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(out).toMatchObject({ reserved: true, fill: 'ENOSPC', with: 'written', reserveInUse: true, without: 'AUDIT_WRITE_FAILED' });
  });
});
