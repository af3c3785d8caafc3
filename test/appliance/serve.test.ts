import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, cleanup, consoleHealth, pidAlive, readSetupToken, startServe, waitFor, type ServeHandle } from '../support/appliance.ts';

interface Health {
  status: string;
  components: Record<string, { status: string; reason: string; pid?: number; port?: number }>;
}

let dataDirOfApp = '';
/** The full report, as the console reads it (anonymous callers get ok/degraded/down only). */
async function health(base: string): Promise<Health | undefined> {
  const res = await consoleHealth(base, dataDirOfApp);
  return (await res.json()) as Health;
}

/** Listening TCP sockets of the machine, from /proc (inspect, never probe). */
async function listeners(): Promise<Array<{ addr: string; port: number }>> {
  const out: Array<{ addr: string; port: number }> = [];
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const lines = (await readFile(f, 'utf8').catch(() => '')).split('\n').slice(1);
    for (const l of lines) {
      const cols = l.trim().split(/\s+/);
      if (cols[3] !== '0A') continue; // LISTEN
      const [hex, p] = cols[1].split(':');
      out.push({ addr: hex, port: parseInt(p, 16) });
    }
  }
  return out;
}

describe('archive serve', () => {
  let app: ServeHandle;
  afterAll(async () => {
    if (app) {
      await app.stop('SIGKILL');
      await cleanup(app.dataDir);
    }
  });

  it('answers /api/health within 30 s on an empty data dir with meilisearch ok', async () => {
    const started = Date.now();
    app = await startServe();
    dataDirOfApp = app.dataDir;
    const h = await waitFor(
      async () => {
        const r = await health(app.base);
        return r?.components.meilisearch.status === 'ok' ? r : undefined;
      },
      30_000,
      `health ok (output: ${app.output()})`,
    );
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(Object.keys(h.components).sort()).toEqual(['backup', 'clamd', 'disk', 'meilisearch', 'ocrData', 'selfcheck']);
    // The status page names every component in both languages (it showed "backup" as a code).
    const names = [...(await readFile(join(ROOT, 'web/public/js/i18n.js'), 'utf8')).matchAll(/componentNames: \{([^}]*)\}/g)].map((m) => m[1]);
    expect(names).toHaveLength(2);
    for (const dict of names) for (const k of Object.keys(h.components)) expect(dict).toMatch(new RegExp(`\\b${k}: '`));
    for (const c of Object.values(h.components)) {
      expect(['ok', 'degraded', 'down']).toContain(c.status);
      expect(c.reason.length).toBeGreaterThan(0);
      // Read by Chinese-speaking operators: every reason is Chinese (technical tokens may stay).
      expect(c.reason).toMatch(/\p{Script=Han}/u);
    }
    expect(h.components.ocrData.status).toBe('ok');
    expect(h.components.meilisearch.reason).toBe('运行正常');
    expect(h.components.disk.reason).toMatch(/^可用空间 \d+\.\d GiB/);
    expect(h.components.ocrData.reason).toMatch(/^已安装：chi_sim/);
  });

  it('first start: a quiet console; the setup token only in a 0600 file that the log names, never in the output', async () => {
    const token = await readSetupToken(app);
    expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const file = join(app.dataDir, 'config', 'setup-token.txt');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const text = await readFile(file, 'utf8');
    const rule = '═'.repeat(64);
    expect(text.startsWith(rule)).toBe(true);
    expect(text).toContain(`在浏览器打开 ${app.base}/`);
    expect(text).toContain('安全审计员三个账户');
    const out = await waitFor(async () => (app.output().includes('setup-token.txt') ? app.output() : undefined), 30_000, `log naming the token file (output: ${app.output()})`);
    // Not in the output (a service's stderr is the journal), only where it is.
    expect(out).not.toContain(token);
    const logs = out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string; component?: string; line?: string });
    expect(
      logs.find((l) => l.msg === 'appliance ready'),
      out,
    ).toBeDefined();
    // Meilisearch's banner (with its cloud advert) and the 404s of our own first-start lookups are debug.
    expect(out).not.toContain('Meilisearch Cloud');
    expect(out).not.toContain('index_not_found');
    expect(
      logs.filter((l) => l.component === 'meilisearch' && l.level >= 40),
      out,
    ).toEqual([]);
  });

  it('starts meilisearch on loopback only, analytics off, master key 0600 and not on the command line', async () => {
    const h = (await health(app.base))!;
    const { pid, port } = h.components.meilisearch;
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    expect(argv).toContain('--no-analytics');
    expect(argv[argv.indexOf('--http-addr') + 1]).toBe(`127.0.0.1:${port}`);
    expect(argv.join(' ')).not.toMatch(/master/i);
    const environ = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0');
    expect(environ).toContain('MEILI_NO_ANALYTICS=true');
    const socks = (await listeners()).filter((l) => l.port === port);
    expect(socks.length).toBeGreaterThan(0);
    for (const s of socks) expect(s.addr).toBe('0100007F'); // 127.0.0.1, never 0.0.0.0 or ::
    const keyStat = await stat(join(app.dataDir, 'config', 'meili-master.key'));
    expect(keyStat.mode & 0o777).toBe(0o600);
    expect((await stat(app.dataDir)).mode & 0o777).toBe(0o700);
    // The key is the one Meilisearch enforces: without it, requests are refused.
    const noKey = await fetch(`http://127.0.0.1:${port}/indexes`);
    expect(noKey.status).toBe(401);
  });

  it('restarts meilisearch when it dies', async () => {
    const before = (await health(app.base))!.components.meilisearch.pid!;
    process.kill(before, 'SIGKILL');
    const after = await waitFor(
      async () => {
        const m = (await health(app.base))!.components.meilisearch;
        return m.status === 'ok' && m.pid !== before ? m.pid : undefined;
      },
      20_000,
      'meilisearch restarted',
    );
    expect(after).not.toBe(before);
  });

  it('stops meilisearch with it on SIGTERM (no orphan)', async () => {
    const meiliPid = (await health(app.base))!.components.meilisearch.pid!;
    const appPid = app.proc.pid!;
    const code = await app.stop('SIGTERM');
    expect(code).toBe(0);
    await waitFor(async () => (pidAlive(meiliPid) ? undefined : true), 10_000, 'meilisearch exit');
    expect(pidAlive(appPid)).toBe(false);
    expect(pidAlive(meiliPid)).toBe(false);
  });
});
