import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, cleanup, pidAlive, runCli, tempDir, waitFor } from '../support/appliance.ts';
import { Client } from '../security/support.ts';
import { launchChromium, watchedPage } from '../web/browser.ts';

interface DemoOut {
  ok: boolean;
  demo: boolean;
  url: string;
  dataDir: string;
  accounts: Array<{ username: string; password: string; role: string; posts: string[] }>;
  archived: number;
}

async function processesNaming(needle: string): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    if ((await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '')).includes(needle)) out.push(Number(name));
  }
  return out;
}

describe('archive demo', () => {
  let work = '';
  afterAll(() => cleanup(work));

  it('refuses a data dir that already holds data, and any address beyond loopback', async () => {
    work = await tempDir('archive-demo-test-');
    const real = join(work, 'real-data');
    await mkdir(join(real, 'items'), { recursive: true });
    await writeFile(join(real, 'items', 'keep.txt'), 'an archive');
    const r = await runCli(['--data-dir', real, 'demo', '--only', 'S0003'], {});
    expect(r.code).toBe(1);
    expect(r.err).toContain('DEMO_DATA_DIR_IN_USE');
    expect(r.err).toContain('演示模式不使用已有数据的目录');
    // Untouched.
    expect(await readdir(real)).toEqual(['items']);
    expect(await readFile(join(real, 'items', 'keep.txt'), 'utf8')).toBe('an archive');
    for (const addr of ['0.0.0.0:0', '10.1.2.3:8080', '[::]:8080']) {
      const n = await runCli(['demo', '--http-addr', addr, '--only', 'S0003'], {});
      expect(n.code, addr).toBe(1);
      expect(n.err, addr).toContain('DEMO_NOT_LOOPBACK');
    }
  });

  it('comes up with test signatures marked 演示模式, accounts and samples; staff see only their post; Ctrl-C removes everything', async () => {
    // A subset of the samples keeps this test short: one per post (the default ingests all).
    const proc = spawn(process.execPath, [CLI, '--json', 'demo', '--only', 'S0003,S0005'], { env: { ...process.env, ARCHIVE_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
    let root = '';
    try {
      const demo = await waitFor(async () => (out.includes('\n') ? (JSON.parse(out.split('\n')[0]) as DemoOut) : undefined), 600_000, `demo up (stderr: ${err.slice(-3000)})`);
      expect(demo).toMatchObject({ ok: true, demo: true, archived: 2 });
      expect(demo.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      expect(demo.url).not.toBe('http://127.0.0.1:8080/');
      const base = demo.url.replace(/\/$/, '');
      const pw = Object.fromEntries(demo.accounts.map((a) => [a.username, a.password]));
      expect(demo.accounts.map((a) => a.role).sort()).toEqual(['archivist', 'archivist', 'auditor', 'secadmin', 'staff', 'staff', 'sysadmin']);

      // 演示模式 in health (public and detailed), in every log line, and in the UI's banner text.
      const pub = await (await fetch(`${base}/api/health`)).json();
      expect(pub.demo).toBe(true);
      const sys = new Client(base);
      expect((await sys.login('sysadmin', pw.sysadmin)).status).toBe(200);
      const details = await sys.get('/api/health/details');
      expect(details.body.demo).toBe(true);
      expect(details.body.components.clamd.reason).toContain('演示模式：仅 ClamAV 测试特征库，不是真实病毒库');
      const logs = err
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { mode?: string; msg: string });
      expect(logs.length).toBeGreaterThan(0);
      expect(logs.every((l) => l.mode === '演示模式')).toBe(true);
      expect(logs.some((l) => l.msg.includes('仅 ClamAV 测试特征库'))).toBe(true);
      // The banner on the page itself, before anyone logs in (real Chromium).
      const browser = await launchChromium();
      try {
        const w = await watchedPage(browser, [], []);
        await w.page.goto(base);
        await w.page.waitForSelector('#demo-banner');
        expect(await w.page.textContent('#demo-banner')).toContain('演示模式：临时数据，仅装有 ClamAV 测试特征库（不是真实病毒库）');
      } finally {
        await browser.close();
      }

      // A staff member of each post finds that post's sample and nothing of the other.
      const zhang = new Client(base);
      expect((await zhang.login('zhang', pw.zhang)).status).toBe(200);
      const z = await zhang.get(`/api/search?q=${encodeURIComponent('报告')}`);
      expect(z.status).toBe(200);
      expect(z.body.total).toBe(1);
      expect(z.body.items.map((i: { archivalCode: string }) => i.archivalCode)).toEqual(['J012-2016-Y-BGS-0193']);
      const li = new Client(base);
      expect((await li.login('li', pw.li)).status).toBe(200);
      const l = await li.get(`/api/search?q=${encodeURIComponent('报告')}`);
      expect(l.body.items.map((i: { archivalCode: string }) => i.archivalCode)).toEqual(['J220-2021-Y-SYDJ-0286']);
      // Staff cannot open the other post's item by id either.
      const other = l.body.items[0].itemId as string;
      expect((await zhang.get(`/api/items/${other}`)).status).toBe(404);

      // The archivist's CSV template; staff may not fetch it.
      const wang = new Client(base);
      expect((await wang.login('wang', pw.wang)).status).toBe(200);
      const tpl = await fetch(`${base}/api/ingest/csv-template`, { headers: { cookie: [...wang.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
      expect(tpl.status).toBe(200);
      expect(tpl.headers.get('content-type')).toContain('text/csv');
      expect([...new Uint8Array(await tpl.arrayBuffer()).subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
      expect((await zhang.get('/api/ingest/csv-template')).status).toBe(403);

      // The console sees the components (archive status reads the token in run/).
      const st = await runCli(['--data-dir', demo.dataDir, '--json', 'status'], {});
      const status = JSON.parse(st.out.trim()) as { running: boolean; health: { demo?: boolean; components: Record<string, unknown> } };
      expect(status.running).toBe(true);
      expect(status.health.demo).toBe(true);
      expect(Object.keys(status.health.components)).toContain('clamd');

      // Ctrl-C: it stops, its processes go, and the temp data is gone.
      root = demo.dataDir.replace(/\/data$/, '');
      expect(await processesNaming(root)).not.toEqual([]);
      proc.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(err).toContain('演示已停止，临时数据已删除');
      await waitFor(async () => ((await processesNaming(root)).length === 0 ? true : undefined), 30_000, 'demo processes gone');
      await expect(stat(root)).rejects.toThrow();
    } finally {
      // On failure: stop it as an operator would, then make sure nothing of it is left behind.
      if (pidAlive(proc.pid!)) {
        proc.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
        if (pidAlive(proc.pid!)) proc.kill('SIGKILL');
      }
      root ||= /"dataDir":"(\/[^"]*archive-demo-[^/"]+)\/data"/.exec(err)?.[1] ?? '';
      if (root) {
        for (const pid of await processesNaming(root)) process.kill(pid, 'SIGKILL');
        await cleanup(root);
      }
    }
  }, 900_000);
});
