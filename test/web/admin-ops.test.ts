import type { Server } from 'node:http';
import { mkdir, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.ts';
import { healthReport } from '../../core/health.ts';
import { createLogger } from '../../core/log.ts';
import { openSecurity } from '../../security/index.ts';
import { addRecipient } from '../../custody/backup-keys.ts';
import { createAuth } from '../../web/auth.ts';
import { integrityLatestPath } from '../../custody/integrity.ts';
import { saveBackupRecord } from '../../custody/backup-records.ts';
import { createWebApp } from '../../web/index.ts';
import { auditRecords, cleanup, tempDir } from '../support/appliance.ts';
import { addUsers, Client, GOOD_PASSWORD } from '../security/support.ts';
import { makeSecadmin } from '../custody/backup-support.ts';
import { launchChromium, logIn, screenshot, watchedPage } from './browser.ts';

// The real koa app and security stores on a temp data dir; clamd deliberately absent (a socket
// that does not exist), so the signature page must report "down" instead of failing.
let dir: string;
let base: string;
let server: Server;
let auditLines: () => Promise<Array<Record<string, unknown>>>;
let media: string;
const stopHooks: Array<() => Promise<void>> = [];

beforeAll(async () => {
  dir = await tempDir('archive-adminops-');
  // The "removable medium": outside the data dir (a backup never goes inside it).
  media = await tempDir('archive-media-');
  await mkdir(join(media, 'usb'), { recursive: true });
  const cfg = loadConfig({ overrides: { dataDir: dir, clamd: 'unix:/nonexistent/clamd.sock', backupDirs: [media] } });
  const sec = await openSecurity(cfg);
  const log = createLogger({ level: 'silent' });
  const auth = await createAuth({ configDir: sec.configDir, identity: sec.identity, audit: sec.audit, log });
  await addUsers(sec.identity, [
    ['sec1', ['secadmin']],
    ['sys1', ['sysadmin']],
    ['aud1', ['auditor']],
    ['staff1', ['staff']],
  ]);
  await saveBackupRecord(dir, {
    backupId: 'bk-20261124T030000Z-a1b2c3',
    parentId: null,
    kind: 'full',
    created: '2026-11-24T03:00:00.000Z',
    file: '/media/usb/bk-20261124T030000Z-a1b2c3.archive-backup',
    outBytes: 2048,
    files: 12,
    bytes: 4096,
    auditHead: { seq: 1, hash: 'x', file: 'audit-2026.jsonl', time: '2026-11-24T03:00:00.000Z' },
    items: { a1: 'h1', b2: 'h2' },
    included: 2,
  });
  const app = createWebApp({ log, auth, health: () => healthReport({}), config: cfg, onStop: (h) => stopHooks.push(h) });
  server = await new Promise((r) => {
    const s = app.listen(0, '127.0.0.1', () => r(s));
  });
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  auditLines = () => auditRecords(dir);
});

afterAll(async () => {
  await new Promise<void>((r) => {
    server?.close(() => r());
    server?.closeAllConnections();
  });
  await cleanup(dir);
  await cleanup(media);
});

async function as(username: string): Promise<Client> {
  const c = new Client(base);
  const r = await c.login(username);
  expect(r.status).toBe(200);
  return c;
}

describe('admin ops routes', () => {
  it('integrity: 404 before any run, then the secadmin runs one and reads it back', async () => {
    const sec = await as('sec1');
    const none = await sec.get('/api/integrity/latest');
    expect(none.status).toBe(404);
    expect(none.body.error.code).toBe('INTEGRITY_NONE');
    expect(none.body.error.message).toMatch(/尚未进行过完整性检测/);

    const run = await sec.req('POST', '/api/integrity/run', {});
    expect(run.status).toBe(200);
    expect(run.body.counts).toMatchObject({ total: 0, ok: 0, changed: 0, missing: 0 });
    expect(run.body.security.signatures.unavailable).toBeTruthy();
    const saved = JSON.parse(await readFile(integrityLatestPath(dir), 'utf8'));
    expect(saved.startedAt).toBe(run.body.startedAt);

    const latest = await sec.get('/api/integrity/latest');
    expect(latest.status).toBe(200);
    expect(latest.body.finishedAt).toBe(run.body.finishedAt);

    const rec = (await auditLines()).filter((l) => l.action === 'integrity.check');
    expect(rec.at(-1)).toMatchObject({ actor: 'sec1', outcome: 'success' });
    expect(String(rec.at(-1)!.role)).toMatch(/安全保密管理员|secadmin/);

    // Without the CSRF header the run is refused and nothing runs.
    const noCsrf = await sec.req('POST', '/api/integrity/run', {}, { csrf: false });
    expect(noCsrf.status).toBe(403);
  });

  it('integrity: staff and sysadmin are refused', async () => {
    for (const u of ['staff1', 'sys1']) {
      const c = await as(u);
      expect((await c.get('/api/integrity/latest')).status).toBe(403);
      expect((await c.req('POST', '/api/integrity/run', {})).status).toBe(403);
    }
  });

  it('integrity: a second concurrent run gets 409', async () => {
    const sec = await as('sec1');
    // Both requests race through the guard; if the first run ends before the second arrives, both
    // succeed (never anything else), so try a few times until the overlap happens.
    let refused: Awaited<ReturnType<Client['get']>> | undefined;
    for (let i = 0; i < 10 && !refused; i++) {
      const rs = await Promise.all([1, 2, 3].map(() => sec.req('POST', '/api/integrity/run', {})));
      for (const r of rs) expect([200, 409]).toContain(r.status);
      expect(rs.some((r) => r.status === 200)).toBe(true);
      refused = rs.find((r) => r.status === 409);
    }
    expect(refused?.body.error.code).toBe('INTEGRITY_RUNNING');
    expect(refused?.body.error.message).toMatch(/正在进行中/);
  });

  it('backups: the sysadmin lists them, the auditor and secadmin cannot', async () => {
    const sys = await as('sys1');
    const r = await sys.get('/api/admin/backups');
    expect(r.status).toBe(200);
    expect(r.body.backups).toEqual([
      {
        id: 'bk-20261124T030000Z-a1b2c3',
        kind: 'full',
        parent: null,
        created: '2026-11-24T03:00:00.000Z',
        file: '/media/usb/bk-20261124T030000Z-a1b2c3.archive-backup',
        outBytes: 2048,
        bytes: 4096,
        files: 12,
        items: 2,
        included: 2,
      },
    ]);
    expect((await (await as('aud1')).get('/api/admin/backups')).status).toBe(403);
    expect((await (await as('sec1')).get('/api/admin/backups')).status).toBe(403);
    expect((await new Client(base).get('/api/admin/backups')).status).toBe(401);
  });

  it('backups: the sysadmin runs one to the registered recipient, follows it, and verifies its structure and signature', async () => {
    const sys = await as('sys1');
    // The secadmin's public key registered (its private key stays on the secadmin's own medium).
    await addRecipient(dir, (await makeSecadmin(media)).publicKey, { actor: { actor: 'sec1', role: '安全保密管理员', source: 'test' } });
    const out = join(media, 'usb', 'full.bak');
    const waitTask = async (id: number) => {
      for (let i = 0; i < 300; i++) {
        const t = (await sys.get('/api/admin/backups/task')).body.task;
        if (t.id === id && t.state !== 'running') return t;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('backup task did not finish');
    };
    const started = await sys.req('POST', '/api/admin/backups', { out });
    expect(started.status).toBe(202);
    const done = await waitTask(started.body.task.id);
    expect(done).toMatchObject({ kind: 'create', state: 'done', actor: 'sys1', result: { kind: 'full', out } });
    expect((await stat(out)).size).toBe(done.result.outBytes);
    expect((await sys.get('/api/admin/backups')).body.backups[0].id).toBe(done.result.backupId);

    const v = await sys.req('POST', '/api/admin/backups/verify', { files: [out] });
    expect(v.status).toBe(202);
    expect(await waitTask(v.body.task.id)).toMatchObject({ kind: 'verify', state: 'done', result: { contentChecked: false, backups: [{ backupId: done.result.backupId, kind: 'full' }] } });
    // A changed copy: the task fails with the reason in Chinese.
    const changed = join(media, 'usb', 'changed.bak');
    const bytes = await readFile(out);
    bytes[bytes.length - 100] ^= 0x01;
    await writeFile(changed, bytes);
    const bad = await sys.req('POST', '/api/admin/backups/verify', { files: [changed] });
    expect(await waitTask(bad.body.task.id)).toMatchObject({ state: 'failed', error: { code: 'BACKUP_BAD_SIGNATURE', message: expect.stringContaining('签名不符') } });

    const trail = await auditLines();
    expect(trail.filter((l) => l.action === 'backup.create').at(-1)).toMatchObject({ actor: 'sys1', outcome: 'success', target: done.result.backupId });
    expect(trail.filter((l) => l.action === 'backup.verify').map((l) => [l.actor, l.outcome])).toEqual([
      ['sys1', 'success'],
      ['sys1', 'failure'],
    ]);
  });

  it('backups from the web: only inside the configured media dirs, never over a file, only for the sysadmin', async () => {
    const sys = await as('sys1');
    const outside = await sys.req('POST', '/api/admin/backups', { out: join(dir, 'elsewhere.bak') });
    expect(outside.status).toBe(400);
    expect(outside.body.error).toMatchObject({ code: 'BACKUP_PATH_NOT_ALLOWED', message: expect.stringContaining('移动介质') });
    // A link on the medium pointing out of it is followed, and refused.
    await symlink(dir, join(media, 'escape'));
    expect((await sys.req('POST', '/api/admin/backups', { out: join(media, 'escape', 'x.bak') })).body.error.code).toBe('BACKUP_PATH_NOT_ALLOWED');
    expect((await sys.req('POST', '/api/admin/backups', { out: 'usb/relative.bak' })).body.error.code).toBe('BACKUP_PATH_NOT_ALLOWED');
    expect((await sys.req('POST', '/api/admin/backups', { out: join(media, 'usb', 'full.bak') })).body.error.code).toBe('BACKUP_OUT_EXISTS');
    expect((await sys.req('POST', '/api/admin/backups', { out: join(media, 'nope', 'x.bak') })).body.error.code).toBe('BACKUP_PATH_MISSING');
    for (const u of ['aud1', 'sec1', 'staff1']) {
      const c = await as(u);
      expect((await c.req('POST', '/api/admin/backups', { out: join(media, 'usb', `${u}.bak`) })).status).toBe(403);
      expect((await c.req('POST', '/api/admin/backups/verify', { files: [join(media, 'usb', 'full.bak')] })).status).toBe(403);
      expect((await c.get('/api/admin/backups/task')).status).toBe(403);
    }
    expect((await sys.req('POST', '/api/admin/backups', { out: join(media, 'usb', 'nocsrf.bak') }, { csrf: false })).status).toBe(403);
  });

  it('signatures: status down with a Chinese reason when clamd is not running; others refused', async () => {
    const sec = await as('sec1');
    const r = await sec.get('/api/signatures');
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('down');
    expect(r.body.reason).toMatch(/病毒扫描服务/);
    expect((await (await as('sys1')).get('/api/signatures')).status).toBe(403);
  });
});

describe('admin ops pages in Chromium', () => {
  it('sysadmin sees the backup list; secadmin sees signatures down, runs an integrity check and sees the report', async () => {
    const browser = await launchChromium();
    const outside: string[] = [];
    const problems: string[] = [];
    try {
      const login = async (username: string) => {
        const { page } = await watchedPage(browser, outside, problems);
        await page.goto(base);
        await logIn(page, username, GOOD_PASSWORD);
        return page;
      };
      const sys = await login('sys1');
      await sys.waitForURL(/#\/system$/);
      await sys.waitForSelector('#backups tr[data-backup="bk-20261124T030000Z-a1b2c3"]');
      expect(await sys.textContent('#backup-console-note')).toContain('archive backup verify');
      await sys.waitForSelector('#backup-keys code[data-fingerprint]');
      // Run a backup to the medium with the key file on it; watch it finish; verify it.
      const out = join(media, 'usb', 'from-browser.bak');
      await sys.fill('#backup-out', out);
      await sys.click('#backup-run');
      await sys.waitForSelector('#backup-task .ok:has-text("备份完成")');
      const made = (await sys.textContent('#backup-task'))!.match(/bk-[0-9TZ]+-[0-9a-f]+/)![0];
      await sys.waitForSelector(`#backups tr[data-backup="${made}"]`);
      await sys.fill('#backup-verify-files', out);
      await sys.click('#backup-verify');
      await sys.waitForSelector('#backup-task .ok:has-text("结构与签名完好")');
      expect(await sys.textContent('#backup-task')).toContain(made);
      await screenshot(sys, 'admin-ops-backups');

      const sec = await login('sec1');
      await sec.waitForURL(/#\/security$/);
      await sec.waitForSelector('#signatures .error:has-text("病毒扫描服务")');
      await sec.waitForSelector('#integrity-report');
      await sec.click('#integrity-run');
      await sec.waitForSelector('#integrity-counts [data-status="missing"]');
      expect(await sec.textContent('#integrity-counts')).toContain('缺失');
      expect(await sec.textContent('#integrity-report')).toContain('检测时间');
      await screenshot(sec, 'admin-ops-integrity');
      expect(outside).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});

// Last in the file: the stop hooks end this app's backup tasks for good.
describe('stopping the appliance', () => {
  it('backups: the appliance stopping mid-backup leaves no partial file on the medium', async () => {
    const sys = await as('sys1');
    const out = join(media, 'usb', 'stopping.bak');
    const started = await sys.req('POST', '/api/admin/backups', { out });
    expect(started.status).toBe(202);
    // What `archive serve` does first on SIGTERM; it returns once the backup has cleaned up.
    for (const h of stopHooks) await h();
    const t = (await sys.get('/api/admin/backups/task')).body.task;
    expect(t).toMatchObject({ id: started.body.task.id, state: 'failed', error: { code: 'BACKUP_ABORTED', message: expect.stringContaining('未完成的备份文件已删除') } });
    expect((await readdir(join(media, 'usb'))).filter((n) => n.includes('stopping'))).toEqual([]);
    expect((await auditLines()).filter((l) => l.action === 'backup.create').at(-1)).toMatchObject({ actor: 'sys1', outcome: 'failure', details: { error: 'BACKUP_ABORTED' } });
  });
});
