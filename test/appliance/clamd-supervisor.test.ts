import { copyFile, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NO_SIGNATURES_ZH, ClamdSupervisor, ownClamdSocket } from '../../appliance/clamd-supervisor.ts';
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/log.ts';
import { scanFile } from '../../security/index.ts';
import { cleanup, consoleHealth, pidAlive, startServe, tempDir, waitFor, type ServeHandle } from '../support/appliance.ts';
import { CLAMAV_FIXTURES, eicarBytes, startTestClamd } from '../support/clamd.ts';

interface Health {
  components: Record<string, { status: string; reason: string }>;
}

function ppidOf(pid: number): Promise<number> {
  return readFile(`/proc/${pid}/stat`, 'utf8').then((s) => Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]));
}

describe('archive serve runs clamd itself on a machine without systemd', () => {
  let work = '';
  let app: ServeHandle | undefined;
  afterAll(async () => {
    await app?.stop('SIGKILL');
    await cleanup(work);
  });

  it('says plainly when there are no signatures, starts clamd once they are installed, restarts it, stops it', async () => {
    work = await tempDir('archive-clamd-sup-');
    const db = join(work, 'clamav-db');
    await mkdir(db);
    const dataDir = join(work, 'data');
    // Nothing listens on the configured socket; the DatabaseDirectory is empty.
    app = await startServe({ ARCHIVE_CLAMD: `unix:${join(work, 'nobody.sock')}`, ARCHIVE_CLAMD_DB_DIR: db }, dataDir);
    const health = async () => (await (await consoleHealth(app!.base, dataDir)).json()) as Health;
    const first = await waitFor(async () => (await health()).components?.clamd, 60_000, `serve up (output: ${app.output()})`);
    expect(first.status).toBe('down');
    expect(first.reason).toContain(NO_SIGNATURES_ZH);
    const warned = app
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { code?: string; msg: string })
      .find((l) => l.code === 'NO_SIGNATURES');
    expect(warned?.msg).toContain(NO_SIGNATURES_ZH);

    // Signatures arrive (the project's test set): clamd starts by itself, in the data dir.
    for (const f of await readdir(CLAMAV_FIXTURES)) await copyFile(join(CLAMAV_FIXTURES, f), join(db, f));
    const up = await waitFor(
      async () => {
        const c = (await health()).components.clamd;
        return c.status === 'ok' ? c : undefined;
      },
      90_000,
      `clamd up (output: ${app.output()})`,
    );
    expect(up.reason).toMatch(/^运行中/);
    const sock = ownClamdSocket(dataDir);
    expect((await stat(sock)).isSocket()).toBe(true);
    expect((await stat(sock)).mode & 0o777).toBe(0o600);
    const conf = await readFile(join(dataDir, 'run', 'clamd', 'clamd.conf'), 'utf8');
    for (const line of [`LocalSocket ${sock}`, `DatabaseDirectory ${db}`, 'StreamMaxLength 200M', 'MaxFileSize 200M', 'MaxScanSize 800M', 'AlertExceedsMax yes']) expect(conf).toContain(line);
    const pid = Number((await readFile(join(dataDir, 'run', 'clamd', 'clamd.pid'), 'utf8')).trim());
    expect(await ppidOf(pid)).toBe(app.proc.pid);
    // It scans, fail closed as configured: EICAR is found.
    await writeFile(join(work, 'eicar.txt'), eicarBytes());
    expect(await scanFile(`unix:${sock}`, join(work, 'eicar.txt'))).toMatchObject({ verdict: 'infected' });

    // It dies: the appliance starts a new one.
    process.kill(pid, 'SIGKILL');
    const again = await waitFor(
      async () => {
        const p = Number((await readFile(join(dataDir, 'run', 'clamd', 'clamd.pid'), 'utf8').catch(() => '0')).trim());
        return p && p !== pid && pidAlive(p) && (await health()).components.clamd.status === 'ok' ? p : undefined;
      },
      90_000,
      `clamd restarted (output: ${app.output()})`,
    );
    expect(await ppidOf(again)).toBe(app.proc.pid);

    // The appliance stops: its clamd goes with it, socket removed.
    expect(await app.stop('SIGTERM')).toBe(0);
    await waitFor(async () => (pidAlive(again) ? undefined : true), 15_000, 'clamd stopped');
    await expect(stat(sock)).rejects.toThrow();
  });

  it('leaves clamd alone when one answers on the configured address, or when systemd manages clamav-daemon', async () => {
    const dir = await tempDir('archive-clamd-ext-');
    const ext = await startTestClamd();
    try {
      const log = createLogger({ level: 'silent' });
      const cfg = loadConfig({ env: { ARCHIVE_DATA_DIR: dir, ARCHIVE_CLAMD: ext.address, ARCHIVE_CLAMD_DB_DIR: ext.databaseDir } });
      const s = new ClamdSupervisor(cfg, log, { systemd: false });
      await s.start();
      expect(s.supervising).toBe(false);
      expect(s.address).toBe(ext.address);
      expect((await s.health()).status).toBe('ok');
      await s.stop();
      // Nothing answers, but systemd is there: clamav-daemon.service's job, not a second clamd.
      const cfg2 = { ...cfg, clamd: `unix:${join(dir, 'nobody.sock')}` };
      const s2 = new ClamdSupervisor(cfg2, log, { systemd: true });
      await s2.start();
      expect(s2.supervising).toBe(false);
      expect(s2.pid).toBeUndefined();
      expect((await s2.health()).status).toBe('down');
      await s2.stop();

      // No systemd, nothing answers, no signatures: it waits with its own socket — and when a
      // clamd comes up on the configured address meanwhile, it uses that one instead.
      const emptyDb = join(dir, 'empty-db');
      await mkdir(emptyDb);
      const late = join(dir, 'late', 'clamd.sock');
      const s3 = new ClamdSupervisor({ ...cfg, clamd: `unix:${late}`, clamdDatabaseDir: emptyDb }, log, { systemd: false, pollMs: 200 });
      await s3.start();
      expect(s3.supervising).toBe(true);
      expect(s3.address).toBe(`unix:${ownClamdSocket(dir)}`);
      expect((await s3.health()).reason).toContain(NO_SIGNATURES_ZH);
      const lateClamd = await startTestClamd({ socketPath: late });
      try {
        await waitFor(async () => (s3.address === `unix:${late}` ? true : undefined), 30_000, 'switched to the clamd on the configured address');
        expect(s3.supervising).toBe(false);
        expect(s3.pid).toBeUndefined();
        expect((await s3.health()).status).toBe('ok');
      } finally {
        await s3.stop();
        await lateClamd.stop();
      }
    } finally {
      await ext.stop();
      await cleanup(dir);
    }
  });
});
