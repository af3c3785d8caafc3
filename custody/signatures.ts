import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFile, lstat, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { ApplianceError, fsyncDir } from '../core/index.ts';
import { type AuditLog, type AuditEntry, clamdCommand, SIGNATURE_MAX_AGE_DAYS, clamdSignatures, type SignatureStatus, scanStream } from '../security/index.ts';

/**
 * Offline signature update: .cvd/.cld/.cud files (and plain .hdb/.hsb/.ndb/.ldb databases)
 * carried in on approved media. Nothing reaches clamd unless the whole new set loads: files are
 * copied to a staging folder beside DatabaseDirectory, each .cvd/.cld/.cud must pass
 * `sigtool --info` (which checks the digital signature of a .cvd), and the complete candidate
 * database must load in `clamscan`. Only then each file is renamed into place (atomic per file,
 * same filesystem) and clamd is told to RELOAD.
 *
 * How we know the reload finished: the set carries a canary, a one-line .hdb naming the MD5 of
 * fresh random bytes. clamd keeps answering from the old engine while it loads the new one; the
 * canary is detected only once the new engine is live. If it never is, the old files go back.
 */
export const SIGNATURE_EXTS = ['.cvd', '.cld', '.cud', '.hdb', '.hsb', '.ndb', '.ldb'] as const;
const CVD_LIKE = new Set(['.cvd', '.cld', '.cud']);
const CANARY_FILE = 'archive-reload-canary.hdb';
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$/;

export interface SignatureFileInfo {
  name: string;
  sha256: string;
  bytes: number;
  version?: number;
  buildTime?: string;
  signatures?: number;
}

export interface SignatureImportOptions {
  /** clamd's DatabaseDirectory (production: /var/lib/clamav). */
  databaseDir: string;
  /** clamd address (cfg.clamd). */
  clamd: string;
  audit?: AuditLog;
  actor?: Pick<AuditEntry, 'actor' | 'role' | 'source'>;
  maxAgeDays?: number;
  /** How long clamd may take to load the new set (a full main.cvd takes tens of seconds). */
  reloadTimeoutMs?: number;
}

export interface SignatureImportResult {
  databaseDir: string;
  files: SignatureFileInfo[];
  ignored: string[];
  replaced: string[];
  /** What clamd runs now; when it was not running, what the installed set holds. */
  status: SignatureStatus;
  /**
   * clamd reloaded and runs the new set (reloadMs: how long that took). False: clamd was not
   * running (a fresh machine: clamd does not start without signatures), the set is installed
   * after its test load and clamd loads it when it starts.
   */
  loaded: boolean;
  reloadMs: number;
  warnings: string[];
}

const invalid = (zh: string, en: string, details: Record<string, unknown> = {}) =>
  new ApplianceError('SIGNATURES_INVALID', `病毒库文件未通过校验，未做任何更改：${zh}`, `signature import refused: ${en}`, { status: 400, details });

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number; out: string }> {
  return new Promise((res) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      res({ code, out: `${stdout}${stderr}` });
    });
  });
}

async function sha256Of(path: string): Promise<string> {
  const { createReadStream } = await import('node:fs');
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

/** The files to import from PATH (a file or a folder of them); others in a folder are listed as ignored. */
async function sources(src: string): Promise<{ files: string[]; ignored: string[] }> {
  const st = await stat(src).catch(() => undefined);
  if (!st) throw new ApplianceError('SIGNATURES_NOT_FOUND', `找不到病毒库文件或目录：${src}`, `no such file or folder: ${src}`, { status: 404 });
  const ok = (n: string) => (SIGNATURE_EXTS as readonly string[]).includes(extname(n).toLowerCase()) && SAFE_NAME.test(n) && n !== CANARY_FILE;
  if (st.isFile()) {
    if (!ok(basename(src))) throw invalid(`${basename(src)} 不是病毒库文件（应为 ${SIGNATURE_EXTS.join(' ')}）`, `${src}: not a signature file`);
    return { files: [resolve(src)], ignored: [] };
  }
  const files: string[] = [];
  const ignored: string[] = [];
  for (const n of (await readdir(src)).sort()) {
    const p = join(src, n);
    if (ok(n) && (await lstat(p)).isFile()) files.push(resolve(p));
    else ignored.push(n);
  }
  if (!files.length) throw invalid(`${src} 中没有病毒库文件（${SIGNATURE_EXTS.join(' ')}）`, `no signature files in ${src}`);
  return { files, ignored };
}

function parseSigtool(out: string): Pick<SignatureFileInfo, 'version' | 'buildTime' | 'signatures'> {
  const get = (k: string) => new RegExp(`^${k}:\\s*(.+)$`, 'm').exec(out)?.[1]?.trim();
  const version = Number(get('Version'));
  const sigs = Number(get('Signatures'));
  const bt = get('Build time');
  const t = bt ? new Date(bt.replace(/^(\d+ \w+ \d{4}) (\d{2})-(\d{2})/, '$1 $2:$3')) : undefined;
  return {
    ...(Number.isFinite(version) ? { version } : {}),
    ...(Number.isFinite(sigs) ? { signatures: sigs } : {}),
    ...(t && !Number.isNaN(t.getTime()) ? { buildTime: t.toISOString() } : bt ? { buildTime: bt } : {}),
  };
}

/** The database name a file belongs to: daily.cvd, daily.cld and daily.cud are one database. */
const dbName = (n: string) => (CVD_LIKE.has(extname(n).toLowerCase()) ? n.slice(0, -4) : n);

export async function importSignatures(src: string, opts: SignatureImportOptions): Promise<SignatureImportResult> {
  const dbDir = resolve(opts.databaseDir);
  const actor = opts.actor ?? { actor: 'console', role: 'console', source: 'console' };
  const staging = join(dirname(dbDir), `.${basename(dbDir)}-import-${randomBytes(4).toString('hex')}`);
  let swapped: Array<{ name: string; old?: string }> | undefined;
  try {
    if (
      !(await stat(dbDir).then(
        (s) => s.isDirectory(),
        () => false,
      ))
    ) {
      throw new ApplianceError('SIGNATURES_DB_DIR', `病毒库目录不存在：${dbDir}（clamd 的 DatabaseDirectory）`, `database dir missing: ${dbDir}`, { status: 400 });
    }
    const { files, ignored } = await sources(src);
    await mkdir(join(staging, 'new'), { recursive: true, mode: 0o755 });
    await mkdir(join(staging, 'test'), { mode: 0o755 });
    await mkdir(join(staging, 'old'), { mode: 0o755 });
    const infos: SignatureFileInfo[] = [];
    for (const f of files) {
      const name = basename(f);
      const to = join(staging, 'new', name);
      await copyFile(f, to);
      const info: SignatureFileInfo = { name, sha256: await sha256Of(to), bytes: (await stat(to)).size };
      if (CVD_LIKE.has(extname(name).toLowerCase())) {
        const r = await run('sigtool', ['--info', to], 120_000);
        if (r.code !== 0)
          throw invalid(`${name} 不是有效的 ClamAV 病毒库（sigtool：${r.out.trim().split('\n').slice(-1)[0] ?? ''}）`, `${name}: sigtool --info failed: ${r.out.slice(0, 300)}`, { file: name });
        Object.assign(info, parseSigtool(r.out));
      }
      infos.push(info);
    }
    // The candidate: today's databases, minus those the new files supersede, plus the new files and a fresh canary.
    const incoming = new Set(infos.map((i) => dbName(i.name)));
    const current = (await readdir(dbDir)).filter((n) => (SIGNATURE_EXTS as readonly string[]).includes(extname(n).toLowerCase()) && n !== CANARY_FILE);
    const superseded = current.filter((n) => incoming.has(dbName(n)));
    for (const n of current) if (!superseded.includes(n)) await copyFile(join(dbDir, n), join(staging, 'test', n));
    for (const i of infos) await copyFile(join(staging, 'new', i.name), join(staging, 'test', i.name));
    const canary = randomBytes(64);
    const canaryName = `Archive.ReloadCanary.${randomBytes(4).toString('hex')}`;
    const canaryLine = `${createHash('md5').update(canary).digest('hex')}:${canary.length}:${canaryName}\n`;
    await writeFile(join(staging, 'test', CANARY_FILE), canaryLine);
    await writeFile(join(staging, 'canary.bin'), canary);
    const load = await run('clamscan', ['--no-summary', `--database=${join(staging, 'test')}`, join(staging, 'canary.bin')], 600_000);
    if (load.code !== 1 || !load.out.includes(canaryName)) {
      const why =
        load.out
          .split('\n')
          .filter((l) => /error/i.test(l))
          .slice(0, 3)
          .join('；') || `clamscan exit ${load.code}`;
      throw invalid(`新病毒库无法加载（${why}）`, `test load failed: ${load.out.slice(0, 500)}`);
    }

    // Swap: each file renamed into place (old ones kept in staging/old until clamd runs the new set).
    swapped = [];
    for (const n of superseded) {
      await rename(join(dbDir, n), join(staging, 'old', n));
      swapped.push({ name: n, old: join(staging, 'old', n) });
    }
    for (const i of infos) {
      await rename(join(staging, 'new', i.name), join(dbDir, i.name));
      if (!swapped.some((s) => s.name === i.name)) swapped.push({ name: i.name });
    }
    // The canary is rolled back like any file: a canary left behind in a folder without real
    // signatures would let clamd start there, scanning with nothing.
    const oldCanary = await rename(join(dbDir, CANARY_FILE), join(staging, 'old', CANARY_FILE)).then(
      () => join(staging, 'old', CANARY_FILE),
      () => undefined,
    );
    swapped.push({ name: CANARY_FILE, old: oldCanary });
    await writeFile(join(staging, 'canary.hdb'), canaryLine, { mode: 0o644 });
    await rename(join(staging, 'canary.hdb'), join(dbDir, CANARY_FILE));
    await fsyncDir(dbDir);
    const t0 = Date.now();
    const loaded = await reloadAndWait(opts.clamd, canary, canaryName, opts.reloadTimeoutMs ?? 180_000);
    const reloadMs = loaded ? Date.now() - t0 : 0;
    swapped = undefined;
    const status = loaded ? await clamdSignatures(opts.clamd) : await installedStatus(infos);
    const maxAge = opts.maxAgeDays ?? SIGNATURE_MAX_AGE_DAYS;
    const warnings: string[] = [];
    if (!loaded)
      warnings.push(
        'clamd 未运行：病毒库已通过试加载并安装，clamd 启动时加载。请启动 clamd（systemctl start clamav-daemon），再用 archive signatures status 确认；在此之前归档会因扫描服务不可用而暂停。',
      );
    if (status.ageDays !== undefined && status.ageDays > maxAge) warnings.push(`导入后病毒库仍已 ${status.ageDays} 天（上限 ${maxAge} 天），请尽快取得更新的病毒库。`);
    const result: SignatureImportResult = { databaseDir: dbDir, files: infos, ignored, replaced: superseded, status, loaded, reloadMs, warnings };
    await opts.audit?.append({
      ...actor,
      action: 'signatures.import',
      target: dbDir,
      outcome: 'success',
      details: { files: infos, replaced: superseded, loaded, engine: status.engine, version: status.signatureVersion ?? null, date: status.signatureDate ?? null, ageDays: status.ageDays ?? null },
    });
    return result;
  } catch (e) {
    if (swapped) await rollback(dbDir, swapped, opts.clamd);
    await opts.audit
      ?.append({
        ...actor,
        action: 'signatures.import',
        target: dbDir,
        outcome: 'failure',
        details: { source: src, error: (e as ApplianceError).code ?? 'INTERNAL', message: (e as Error).message.slice(0, 300) },
      })
      .catch(() => undefined);
    throw e;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/**
 * RELOAD and wait until the canary is detected: true once clamd runs the new set. False when no
 * clamd answers at all (nothing listens): then there is no engine to switch, and the files stay
 * installed for clamd's start, as the test load proved they load.
 */
async function reloadAndWait(clamd: string, canary: Buffer, canaryName: string, timeoutMs: number): Promise<boolean> {
  let unreachable = false;
  const reply = await clamdCommand(clamd, 'RELOAD', 10_000).catch((e: NodeJS.ErrnoException) => {
    unreachable = e.code === 'ECONNREFUSED' || e.code === 'ENOENT';
    return e.message;
  });
  if (unreachable) return false;
  if (reply.trim() !== 'RELOADING') throw reloadFailed(`RELOAD answered: ${reply.slice(0, 80)}`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await scanStream(
        clamd,
        (async function* () {
          yield canary;
        })(),
        { timeoutMs: 30_000 },
      );
      if (v.verdict === 'infected' && v.signature.startsWith(canaryName)) return true;
    } catch {
      /* clamd may be busy loading; keep asking until the deadline */
    }
    if (Date.now() > deadline) throw reloadFailed('new databases not active before the deadline');
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Without a running clamd: the engine from clamscan, the signature version and date from daily. */
async function installedStatus(infos: SignatureFileInfo[]): Promise<SignatureStatus> {
  const v = await run('clamscan', ['--version'], 30_000);
  const engine = /^ClamAV ([0-9][0-9A-Za-z.+~-]*)/.exec(v.out.trim())?.[1] ?? 'unknown';
  const daily = infos.find((i) => dbName(i.name) === 'daily') ?? infos.find((i) => i.version !== undefined);
  const status: SignatureStatus = { engine, raw: v.out.trim().split('\n')[0] ?? '' };
  if (daily?.version !== undefined) status.signatureVersion = daily.version;
  const t = daily?.buildTime ? new Date(daily.buildTime) : undefined;
  if (t && !Number.isNaN(t.getTime())) {
    status.signatureDate = t.toISOString();
    status.ageDays = Math.max(0, Math.floor((Date.now() - t.getTime()) / 86_400_000));
  }
  return status;
}

async function rollback(dbDir: string, swapped: Array<{ name: string; old?: string }>, clamd: string): Promise<void> {
  for (const s of swapped) {
    await rm(join(dbDir, s.name), { force: true });
    if (s.old) await rename(s.old, join(dbDir, s.name)).catch(() => undefined);
  }
  await fsyncDir(dbDir).catch(() => undefined);
  await clamdCommand(clamd, 'RELOAD', 10_000).catch(() => undefined);
}

function reloadFailed(why: string): ApplianceError {
  return new ApplianceError('SIGNATURES_RELOAD_FAILED', `病毒扫描服务未能加载新病毒库，已恢复原病毒库：${why}`, `clamd did not load the new databases: ${why}`, { status: 503 });
}
