import { spawn } from 'node:child_process';
import { chmod, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDataDir } from '../../core/data-dir.ts';
import { selfcheckHealth } from '../../appliance/selfcheck-run.ts';
import { readRoutes } from '../../security/selfcheck-net.ts';
import { selfcheck, type SelfcheckInputs, type SelfcheckReport } from '../../security/index.ts';
import { type ProbeHealth } from '../../security/selfcheck.ts';
import { CLI, cleanup, tempDir } from '../support/appliance.ts';

/**
 * A simulated machine: /proc, /sys and / as directories the self-check is pointed at. Nothing here
 * touches the network; the self-check only ever reads files.
 */
const APP_PID = 4100;
const MEILI_PID = 4101;
const SSHD_PID = 300;

const TCP_HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
/** One /proc/net/tcp LISTEN line: address as the kernel writes it (little-endian hex). */
function tcpLine(i: number, ip: string, port: number, inode: number): string {
  const hex = ip
    .split('.')
    .map((o) => Number(o).toString(16).padStart(2, '0').toUpperCase())
    .reverse()
    .join('');
  return `   ${i}: ${hex}:${port.toString(16).toUpperCase().padStart(4, '0')} 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 ${inode} 1 0000000000000000 100 0 0 10 0\n`;
}

interface Machine {
  procRoot: string;
  sysRoot: string;
  rootDir: string;
  dataDir: string;
}

async function proc(m: Machine, pid: number, name: string, cmdline: string[], ppid: number, sockets: number[]): Promise<void> {
  const dir = join(m.procRoot, String(pid));
  await mkdir(join(dir, 'fd'), { recursive: true });
  await writeFile(join(dir, 'cmdline'), `${cmdline.join('\0')}\0`);
  await writeFile(join(dir, 'status'), `Name:\t${name}\nState:\tS (sleeping)\nPid:\t${pid}\nPPid:\t${ppid}\n`);
  let fd = 3;
  for (const inode of sockets) await symlink(`socket:[${inode}]`, join(dir, 'fd', String(fd++)));
}

/** A healthy appliance: no default route, Meilisearch on loopback, web on its configured port. */
async function machine(base: string, opts: { defaultRoute?: boolean; meiliAddr?: string; extraAppSocket?: boolean; analytics?: boolean } = {}): Promise<Machine> {
  const m: Machine = { procRoot: join(base, 'proc'), sysRoot: join(base, 'sys'), rootDir: join(base, 'root'), dataDir: join(base, 'data') };
  await mkdir(join(m.procRoot, 'net'), { recursive: true });
  const route = ['Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT', 'eth0\t0038A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0'];
  if (opts.defaultRoute) route.push('eth0\t00000000\t0138A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0');
  await writeFile(join(m.procRoot, 'net/route'), `${route.join('\n')}\n`);
  // The kernel's own unreachable default on lo (RTF_REJECT) is not a way out.
  await writeFile(
    join(m.procRoot, 'net/ipv6_route'),
    '00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n',
  );
  const meiliAddr = opts.meiliAddr ?? '127.0.0.1';
  let tcp = TCP_HEADER + tcpLine(0, meiliAddr, 7700, 1001) + tcpLine(1, '192.168.56.20', 8080, 1002) + tcpLine(2, '0.0.0.0', 22, 2001);
  if (opts.extraAppSocket) tcp += tcpLine(3, '0.0.0.0', 9229, 1003);
  await writeFile(join(m.procRoot, 'net/tcp'), tcp);
  await writeFile(join(m.procRoot, 'net/tcp6'), TCP_HEADER);
  await proc(m, APP_PID, 'node', ['/opt/archive/current/runtime/node', 'archive.mjs', 'serve'], 1, opts.extraAppSocket ? [1002, 1003] : [1002]);
  const meiliArgs = ['/var/lib/archive/run/bin/meilisearch-5354', '--http-addr', `${meiliAddr}:7700`, '--env', 'production', ...(opts.analytics ? [] : ['--no-analytics'])];
  await proc(m, MEILI_PID, 'meilisearch-535', meiliArgs, APP_PID, [1001]);
  await proc(m, SSHD_PID, 'sshd', ['/usr/sbin/sshd', '-D'], 1, [2001]);
  for (const [name, type, oper, flags] of [
    ['lo', '772', 'unknown', '0x9'],
    ['eth0', '1', 'up', '0x1003'],
  ]) {
    await mkdir(join(m.sysRoot, 'class/net', name), { recursive: true });
    await writeFile(join(m.sysRoot, 'class/net', name, 'type'), `${type}\n`);
    await writeFile(join(m.sysRoot, 'class/net', name, 'operstate'), `${oper}\n`);
    await writeFile(join(m.sysRoot, 'class/net', name, 'flags'), `${flags}\n`);
  }
  await mkdir(join(m.rootDir, 'run/chrony'), { recursive: true });
  await writeFile(join(m.rootDir, 'run/chrony/chronyd.pid'), '55\n');
  await ensureDataDir(m.dataDir);
  await writeFile(join(m.dataDir, 'run', 'meilisearch.pid'), `${MEILI_PID}\n`);
  await writeFile(join(m.dataDir, 'config', 'meili-master.key'), 'k'.repeat(43), { mode: 0o600 });
  await writeFile(join(m.dataDir, 'config', 'identity.json'), '{}', { mode: 0o600 });
  return m;
}

const fine =
  (extra: Partial<ProbeHealth> = {}) =>
  async (): Promise<ProbeHealth> => ({ status: 'ok', reason: 'fine', ...extra });

function inputs(m: Machine, over: Partial<SelfcheckInputs> = {}): SelfcheckInputs {
  return {
    dataDir: m.dataDir,
    httpAddr: '192.168.56.20:8080',
    appPid: APP_PID,
    procRoot: m.procRoot,
    sysRoot: m.sysRoot,
    rootDir: m.rootDir,
    clamd: fine({ signatures: { ageDays: 2 } }),
    ocrData: fine(),
    disk: fine(),
    ...over,
  };
}

const byId = (r: SelfcheckReport, id: string) => r.checks.find((c) => c.id === id)!;
const failures = (r: SelfcheckReport) => r.checks.filter((c) => c.status === 'failure').map((c) => c.id);

describe('isolation self-check (simulated machine)', () => {
  let work: string;
  beforeAll(async () => {
    work = await tempDir('archive-selfcheck-');
  });
  afterAll(async () => {
    await cleanup(work);
  });

  it('passes a machine that is where it belongs', async () => {
    const m = await machine(join(work, 'clean'));
    const r = await selfcheck(inputs(m));
    expect(failures(r), JSON.stringify(r.checks, null, 1)).toEqual([]);
    expect(byId(r, 'route.default').status).toBe('ok');
    expect(byId(r, 'listen.meilisearch').status).toBe('ok');
    expect(byId(r, 'listen.appliance')).toMatchObject({ status: 'ok' });
    expect(byId(r, 'telemetry').status).toBe('ok');
    expect(byId(r, 'perm.keys').status).toBe('ok');
    // sshd on 0.0.0.0 is not ours: named, as a warning for the operator.
    expect(byId(r, 'listen.other')).toMatchObject({ status: 'warning' });
    expect(byId(r, 'listen.other').message).toContain('0.0.0.0:22（sshd 进程 300）');
    expect(selfcheckHealth(r).status).toBe('ok');
    expect(selfcheckHealth(r).reason).toMatch(/^\d+ 项通过，\d+ 项警告：.*listen\.other/);
    expect(selfcheckHealth(undefined)).toMatchObject({ status: 'degraded', reason: '隔离自检尚未运行' });
  });

  it('fails on a default route, naming the gateway and what to do', async () => {
    const m = await machine(join(work, 'route'), { defaultRoute: true });
    const r = await selfcheck(inputs(m));
    expect(failures(r)).toEqual(['route.default']);
    const c = byId(r, 'route.default');
    expect(c.message).toContain('IPv4 经 eth0 网关 192.168.56.1');
    expect(c.action).toContain('ip route del default');
    expect(selfcheckHealth(r)).toMatchObject({ status: 'degraded', failures: ['route.default'] });
    expect(selfcheckHealth(r).reason).toMatch(/^1 项未通过：route\.default: .*网关 192\.168\.56\.1/);
  });

  it('fails when Meilisearch listens on 0.0.0.0, and when the appliance opens a port it was not configured for', async () => {
    const m = await machine(join(work, 'wide'), { meiliAddr: '0.0.0.0', extraAppSocket: true });
    const r = await selfcheck(inputs(m));
    expect(failures(r).sort()).toEqual(['listen.appliance', 'listen.meilisearch', 'telemetry']);
    expect(byId(r, 'listen.meilisearch').message).toContain('0.0.0.0:7700');
    expect(byId(r, 'listen.appliance').message).toContain('0.0.0.0:9229');
    expect(byId(r, 'listen.appliance').action).toBeTruthy();
  });

  it('fails when Meilisearch runs without --no-analytics', async () => {
    const m = await machine(join(work, 'telemetry'), { analytics: true });
    const r = await selfcheck(inputs(m));
    expect(failures(r)).toEqual(['telemetry']);
    expect(byId(r, 'telemetry').message).toContain('--no-analytics');
  });

  it('fails on a world-readable key file and a data dir open to others', async () => {
    const m = await machine(join(work, 'perm'));
    await chmod(join(m.dataDir, 'config', 'meili-master.key'), 0o644);
    let r = await selfcheck(inputs(m));
    expect(failures(r)).toEqual(['perm.keys']);
    expect(byId(r, 'perm.keys').message).toContain('meili-master.key（0644）');
    expect(byId(r, 'perm.keys').action).toContain(`chmod 600 ${join(m.dataDir, 'config', 'meili-master.key')}`);
    await chmod(join(m.dataDir, 'config', 'meili-master.key'), 0o600);
    await chmod(m.dataDir, 0o755);
    r = await selfcheck(inputs(m));
    expect(failures(r)).toEqual(['perm.dataDir']);
  });

  it('fails on a clock set before the last audit record, and on a scanner that is down', async () => {
    const m = await machine(join(work, 'clock'));
    await mkdir(join(m.dataDir, 'audit'), { recursive: true });
    await writeFile(join(m.dataDir, 'audit', 'head.json'), JSON.stringify({ seq: 9, hash: 'a'.repeat(64), file: 'audit-2026.jsonl', time: '2026-11-20T10:00:00.000Z' }));
    const r = await selfcheck(inputs(m, { now: () => new Date('2026-01-01T00:00:00Z'), clamd: async () => ({ status: 'down', reason: 'connect ENOENT' }) }));
    expect(failures(r).sort()).toEqual(['clamd', 'time']);
    expect(byId(r, 'time').message).toContain('早于最后一条审计记录');
    expect(byId(r, 'clamd').action).toContain('clamav-daemon');
  });

  it('reads the real routing table the way the kernel writes it', async () => {
    const routes = await readRoutes('/proc');
    const text = await readFile('/proc/net/route', 'utf8');
    const hasDefault = text
      .split('\n')
      .slice(1)
      .some((l) => l.split(/\s+/)[1] === '00000000' && (parseInt(l.split(/\s+/)[3], 16) & 1) === 1);
    expect(routes.some((r) => r.family === 4 && r.prefix === 0)).toBe(hasDefault);
  });

  it('`archive selfcheck --json` reports every check with what to do, and records the run in the audit trail', async () => {
    const dataDir = join(work, 'cli-data');
    const r = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const p = spawn(process.execPath, [CLI, 'selfcheck', '--json'], {
        env: { ...process.env, ARCHIVE_DATA_DIR: dataDir, ARCHIVE_CLAMD: 'unix:/nonexistent/clamd.sock' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      p.stdout.on('data', (d) => (out += d));
      p.stderr.on('data', (d) => (err += d));
      p.on('exit', (code) => resolve({ code, out, err }));
    });
    const rep = JSON.parse(r.out) as SelfcheckReport & { ok: boolean };
    expect(r.code, r.err).toBe(1); // clamd is missing: a failure
    expect(rep.ok).toBe(false);
    const ids = rep.checks.map((c) => c.id);
    for (const id of ['route.default', 'net.interfaces', 'listen.meilisearch', 'listen.other', 'telemetry', 'perm.dataDir', 'perm.keys', 'clamd', 'ocr', 'disk', 'time']) expect(ids).toContain(id);
    for (const c of rep.checks) if (c.status !== 'ok') expect(c.action, c.id).toMatch(/\p{Script=Han}/u);
    expect(rep.checks.find((c) => c.id === 'clamd')!.status).toBe('failure');
    expect(rep.checks.find((c) => c.id === 'ocr')!.status).toBe('ok');
    const audit = (await readFile(join(dataDir, 'audit', `audit-${new Date().getFullYear()}.jsonl`), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { action: string; outcome: string });
    expect(audit.at(-1)).toMatchObject({ action: 'selfcheck.run', outcome: 'failure' });
  });
});
