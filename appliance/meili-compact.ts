import { spawn } from 'node:child_process';
import { copyFile, chmod, lstat, mkdir, open, readdir, readFile, rename, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { pino } from 'pino';
import { ApplianceError, type Config, acquireRunLock, ensureDataDir, fsyncDir, pidAlive, runningAppliance } from '../core/index.ts';
import { MeiliSupervisor, freeLoopbackPort, meiliArgs, meiliEnv, meiliPaths } from './meili-supervisor.ts';
import { preparedMeiliBinary } from './meili-binary.ts';
import { meiliMasterKey } from './meili-master-key.ts';
import { stopChild } from './child-stop.ts';
import { compactPaths, recoverCompaction } from './meili-compact-recover.ts';

/**
 * `archive compact`: Meilisearch's LMDB files never give back the pages freed by deletions and
 * rewrites (measured at about 2.2× what they hold), and `mdb_copy -c` (lmdb-utils) writes a copy
 * that leaves the free pages out. This runs it on every LMDB file of a stopped appliance's
 * database, checks the copy, and swaps it in; meili-compact-recover.ts says how a kill is settled.
 */

export const MDB_COPY = '/usr/bin/mdb_copy';
export const MDB_STAT = '/usr/bin/mdb_stat';
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** One LMDB environment (Meilisearch keeps each as `<dir>/data.mdb` with `lock.mdb` beside it). */
export interface LmdbFile {
  /** Path under the database dir: `indexes/<uuid>/data.mdb`, `tasks/data.mdb`, `auth/data.mdb`. */
  rel: string;
  /** Bytes on disk before. */
  before: number;
  /** Pages in use (all pages minus the free list), in bytes: about what the copy takes. */
  used: number;
  /** Bytes after (set once compacted). */
  after?: number;
  /** Entries of each named database, as mdb_stat counts them. */
  entries: Record<string, number>;
  /** `documents` entries: the document count of an index's file. */
  documents?: number;
  /** The index uid, when the document count names one index alone. */
  index?: string;
}

export interface CompactResult {
  files: LmdbFile[];
  /** Bytes of the whole database dir before and after. */
  before: number;
  after: number;
  ms: number;
  /** Indexes and their document counts, as the checked copy answered. */
  indexes: Record<string, number>;
  /** Leftovers of a killed earlier run that were settled first. */
  recovered: string[];
}

export interface CompactOptions {
  /** A line of progress for the operator. */
  progress?: (line: string) => void;
  /** Tests: called after the named step, to kill the process there. */
  afterStep?: (step: 'copied' | 'verified' | 'ready' | 'aside') => Promise<void> | void;
}

const gb = (n: number) => (n >= GiB ? `${(n / GiB).toFixed(2)} GiB` : `${(n / MiB).toFixed(1)} MiB`);
export { gb as formatBytes };

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    p.on('error', reject);
    p.on('exit', (code, signal) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')}: exit ${code ?? signal}: ${err.trim()}`))));
  });
}

/**
 * An LMDB tool on a data file alone (-n): LMDB 0.9's tools cannot read the lock file of
 * Meilisearch's LMDB and make their own `<file>-lock` beside it, which is removed after.
 */
async function mdbTool(cmd: string, args: string[], file: string): Promise<string> {
  const lock = `${file}-lock`;
  const had = Boolean(await stat(lock).catch(() => undefined));
  try {
    return await run(cmd, args);
  } finally {
    if (!had) await rm(lock, { force: true });
  }
}

/** mdb_stat of one file: page size, pages in use, free pages and each named database's entries. */
export async function lmdbStat(file: string): Promise<{ used: number; entries: Record<string, number> }> {
  const out = await mdbTool(MDB_STAT, ['-n', '-e', '-f', '-a', file], file);
  const num = (re: RegExp, s = out) => Number(re.exec(s)?.[1] ?? NaN);
  const psize = num(/Page size: (\d+)/);
  const pages = num(/Number of pages used: (\d+)/);
  const free = num(/Free pages: (\d+)/);
  if (![psize, pages, free].every(Number.isFinite)) throw new Error(`unexpected mdb_stat output for ${file}`);
  const entries: Record<string, number> = {};
  for (const block of out.split(/\n(?=Status of )/)) {
    const name = /^Status of (.+)$/m.exec(block)?.[1];
    if (name && name !== 'Main DB') entries[name] = num(/Entries: (\d+)/, block);
  }
  return { used: (pages - free) * psize, entries };
}

/** Every file under `dir`, with its path relative to `root`; links and special files are refused. */
async function walk(root: string, dir = root): Promise<Array<{ rel: string; dir: boolean }>> {
  const out: Array<{ rel: string; dir: boolean }> = [];
  for (const name of (await readdir(dir)).sort()) {
    const p = join(dir, name);
    const st = await lstat(p);
    if (st.isDirectory()) {
      out.push({ rel: relative(root, p), dir: true }, ...(await walk(root, p)));
    } else if (st.isFile()) {
      out.push({ rel: relative(root, p), dir: false });
    } else {
      throw new ApplianceError('COMPACT_UNEXPECTED_FILE', `检索引擎数据目录中有链接或特殊文件：${p}。为安全起见不做压缩，请检查该目录。`, `link or special file in the Meilisearch database: ${p}`, {
        status: 500,
      });
    }
  }
  return out;
}

async function fsyncFile(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function dirBytes(root: string): Promise<number> {
  let n = 0;
  for (const e of await walk(root)) if (!e.dir) n += (await stat(join(root, e.rel))).size;
  return n;
}

/** What the engine answers about its data: compared between the original and the copy. */
export interface EngineSnapshot {
  indexes: Record<string, { primaryKey: string | null; documents: number; fieldDistribution: unknown; settings: unknown; probes: unknown[] }>;
  keys: string[];
  tasks: { total: number; newest: number | null };
}

async function meiliGet<T>(host: string, key: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${host}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(300_000),
  });
  if (!res.ok) throw new Error(`Meilisearch ${path}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
  return (await res.json()) as T;
}

/** Wait until the engine has no enqueued or processing task (a killed appliance may have left some). */
async function waitIdle(host: string, key: string, progress: (l: string) => void, timeoutMs = 60 * 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let said = false;
  for (;;) {
    const r = await meiliGet<{ total: number }>(host, key, '/tasks?statuses=enqueued,processing&limit=1');
    if (r.total === 0) return;
    if (Date.now() > deadline)
      throw new ApplianceError('COMPACT_ENGINE_BUSY', `检索引擎仍有 ${r.total} 个未完成的任务，等待超时，未做任何改动。请稍后重试。`, `Meilisearch still has ${r.total} unfinished tasks`, {
        status: 503,
      });
    if (!said) progress(`等待检索引擎完成 ${r.total} 个未完成的任务…`);
    said = true;
    await new Promise((res) => setTimeout(res, 1_000));
  }
}

/**
 * Per index: documents, fields, settings, and searches whose hits and totals must come back the
 * same (a placeholder search with facets, and up to three terms taken from the documents).
 */
export async function engineSnapshot(host: string, key: string): Promise<EngineSnapshot> {
  const snap: EngineSnapshot = { indexes: {}, keys: [], tasks: { total: 0, newest: null } };
  const list = await meiliGet<{ results: Array<{ uid: string; primaryKey: string | null }> }>(host, key, '/indexes?limit=1000');
  for (const { uid, primaryKey } of list.results) {
    const u = encodeURIComponent(uid);
    const stats = await meiliGet<{ numberOfDocuments: number; fieldDistribution: unknown }>(host, key, `/indexes/${u}/stats`);
    const settings = await meiliGet<{ filterableAttributes?: unknown[]; searchableAttributes?: string[] }>(host, key, `/indexes/${u}/settings`);
    const facets = (settings.filterableAttributes ?? []).filter((a): a is string => typeof a === 'string' && !a.includes('*')).slice(0, 5);
    const idOf = (h: Record<string, unknown>) => (primaryKey ? h[primaryKey] : JSON.stringify(h));
    const probes: unknown[] = [];
    const first = await meiliGet<{ hits: Array<Record<string, unknown>>; estimatedTotalHits: number; facetDistribution?: unknown }>(host, key, `/indexes/${u}/search`, {
      q: '',
      limit: 20,
      facets,
    });
    probes.push({ q: '', total: first.estimatedTotalHits, ids: first.hits.map(idOf), facets: first.facetDistribution });
    // Terms from the documents themselves, so each search meets a real posting list.
    const searchable = settings.searchableAttributes ?? ['*'];
    const terms: string[] = [];
    for (const h of first.hits) {
      if (terms.length >= 3) break;
      for (const [f, v] of Object.entries(h)) {
        if (typeof v !== 'string' || (!searchable.includes('*') && !searchable.includes(f))) continue;
        const t = v.trim().split(/\s+/)[0]?.slice(0, 24);
        if (t && !terms.includes(t)) {
          terms.push(t);
          break;
        }
      }
    }
    for (const q of terms) {
      const r = await meiliGet<{ hits: Array<Record<string, unknown>>; estimatedTotalHits: number }>(host, key, `/indexes/${u}/search`, {
        q,
        limit: 20,
        ...(primaryKey ? { attributesToRetrieve: [primaryKey] } : {}),
      });
      probes.push({ q, total: r.estimatedTotalHits, ids: r.hits.map(idOf) });
    }
    snap.indexes[uid] = { primaryKey, documents: stats.numberOfDocuments, fieldDistribution: stats.fieldDistribution, settings, probes };
  }
  const keys = await meiliGet<{ results: Array<{ uid: string }> }>(host, key, '/keys?limit=1000');
  snap.keys = keys.results.map((k) => k.uid).sort();
  const tasks = await meiliGet<{ total?: number; results: Array<{ uid: number }> }>(host, key, '/tasks?limit=1');
  snap.tasks = { total: tasks.total ?? -1, newest: tasks.results[0]?.uid ?? null };
  return snap;
}

/** Start Meilisearch on the copy (loopback, a free port), take its snapshot, stop it. */
async function snapshotOfCopy(cfg: Config, dbPath: string, pidFile: string): Promise<EngineSnapshot> {
  const binary = await preparedMeiliBinary(cfg);
  const key = await meiliMasterKey(cfg.dataDir);
  const port = await freeLoopbackPort();
  const paths = meiliPaths(cfg.dataDir);
  const child = spawn(binary, meiliArgs({ ...paths, dbPath }, port), { cwd: dirname(paths.dbPath), env: meiliEnv(key), stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-4000)));
  try {
    if (child.pid) await writeFile(pidFile, `${child.pid}\n`, { mode: 0o600 });
    const host = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 300_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`Meilisearch exited on the copy: ${err.trim().slice(-1000)}`);
      const ok = await fetch(`${host}/health`, { signal: AbortSignal.timeout(2_000) })
        .then((r) => r.ok)
        .catch(() => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error('Meilisearch did not become healthy on the copy');
      await new Promise((r) => setTimeout(r, 200));
    }
    await waitIdle(host, key, () => undefined, 600_000);
    return await engineSnapshot(host, key);
  } finally {
    await stopChild(child);
    await rm(pidFile, { force: true });
  }
}

/** Refuse while the appliance, a console command, or a Meilisearch on this database runs. */
async function assertStopped(cfg: Config): Promise<void> {
  const run = await runningAppliance(cfg.dataDir);
  if (run) {
    const zh =
      run.httpAddr === 'console'
        ? `另一个控制台命令（进程 ${run.pid}）正在使用数据目录 ${cfg.dataDir}，请待其结束后再压缩检索索引。`
        : `设备服务正在运行（进程 ${run.pid}，${run.url ?? run.httpAddr}）。压缩检索索引只能在停机维护时进行：请先停止设备服务（如 systemctl stop archive），再运行 archive compact。`;
    throw new ApplianceError('COMPACT_APPLIANCE_RUNNING', zh, `the appliance (or a console command) runs on ${cfg.dataDir} (pid ${run.pid}): stop it before compacting`, {
      status: 409,
      details: { pid: run.pid },
    });
  }
  const dbPath = meiliPaths(cfg.dataDir).dbPath;
  for (const pidFile of [join(cfg.dataDir, 'run', 'meilisearch.pid'), compactPaths(dbPath).verifyPid]) {
    const pid = Number((await readFile(pidFile, 'utf8').catch(() => '0')).trim());
    if (!pid || !pidAlive(pid)) continue;
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (!cmdline.some((a) => a === dbPath || a.startsWith(`${dbPath}.`))) continue;
    throw new ApplianceError(
      'COMPACT_MEILI_RUNNING',
      `检索引擎 Meilisearch（进程 ${pid}）仍在使用 ${dbPath}（多为设备服务未正常停止时遗留）。请先停止它（启动再停止一次设备服务即可清理，或 kill ${pid}），再运行 archive compact。`,
      `Meilisearch (pid ${pid}) still has ${dbPath} open`,
      { status: 409, details: { pid } },
    );
  }
}

async function assertTools(): Promise<void> {
  for (const t of [MDB_COPY, MDB_STAT]) {
    if (!(await stat(t).catch(() => undefined)))
      throw new ApplianceError('COMPACT_TOOL_MISSING', `找不到 ${t}（Debian 软件包 lmdb-utils）。请从离线安装包安装，或运行 appliance/provision.sh。`, `${t} (lmdb-utils) is missing`, { status: 500 });
  }
}

/**
 * Compact the search engine's files of a stopped appliance. The original stays in place, untouched,
 * until a copy has been made, counted database by database (mdb_stat), opened by Meilisearch and
 * found to answer the same as the original; only then is it swapped in by renames.
 */
export async function compactMeili(cfg: Config, opts: CompactOptions = {}): Promise<CompactResult> {
  const say = opts.progress ?? (() => undefined);
  const t0 = performance.now();
  await ensureDataDir(cfg.dataDir);
  await assertTools();
  await assertStopped(cfg);
  const lock = await acquireRunLock(cfg.dataDir, 'console');
  const dbPath = meiliPaths(cfg.dataDir).dbPath;
  const cp = compactPaths(dbPath);
  try {
    const recovered = (await recoverCompaction(dbPath)).actions;
    for (const a of recovered) say(`已清理上次中断的压缩：${a}`);
    if (!(await stat(dbPath).catch(() => undefined))) {
      return { files: [], before: 0, after: 0, ms: performance.now() - t0, indexes: {}, recovered };
    }

    // 1. What is there, and room for the copy (the audit trail's reserve stays free).
    const entries = await walk(dbPath);
    const files: LmdbFile[] = [];
    let others = 0;
    for (const e of entries) {
      if (e.dir) continue;
      const p = join(dbPath, e.rel);
      const size = (await stat(p)).size;
      if (e.rel.endsWith('data.mdb')) {
        const s = await lmdbStat(p);
        files.push({ rel: e.rel, before: size, used: s.used, entries: s.entries, documents: s.entries.documents });
      } else if (!e.rel.endsWith('lock.mdb') && !e.rel.endsWith('.mdb-lock')) others += size;
    }
    const before = await dirBytes(dbPath);
    const need = Math.ceil(files.reduce((n, f) => n + f.used, 0) * 1.05) + others + 64 * MiB;
    const fs = await statfs(dirname(dbPath));
    const free = fs.bavail * fs.bsize;
    const reserve = cfg.disk.refuseWorkBelowGiB * GiB;
    if (free - need < reserve) {
      throw new ApplianceError(
        'COMPACT_DISK_SPACE',
        `磁盘空间不足，未做任何改动：压缩需要约 ${gb(need)} 临时空间（副本写在同一磁盘上，完成后原文件释放），另须保留 ${gb(reserve)} 供审计记录，而可用空间为 ${gb(free)}。请先清理空间。`,
        `not enough free space: need ${need} bytes + ${reserve} reserve, have ${free}`,
        { status: 507, details: { needBytes: need, freeBytes: free, reserveBytes: reserve } },
      );
    }

    // 2. The original's answers (a killed appliance's unfinished tasks are finished first).
    say(`检索索引数据 ${gb(before)}（其中在用约 ${gb(files.reduce((n, f) => n + f.used, 0))}）。启动检索引擎读取压缩前的状态…`);
    const sup = new MeiliSupervisor({ ...cfg, meili: { ...cfg.meili, port: 0 } }, pino({ level: 'silent' }));
    let original: EngineSnapshot;
    try {
      await sup.start(300_000);
      await waitIdle(sup.connection.host, sup.connection.apiKey, say);
      original = await engineSnapshot(sup.connection.host, sup.connection.apiKey);
    } finally {
      await sup.stop();
    }
    // The engine may have written while it ran (unfinished tasks): count again.
    for (const f of files) {
      const p = join(dbPath, f.rel);
      const s = await lmdbStat(p);
      Object.assign(f, { before: (await stat(p)).size, used: s.used, entries: s.entries, documents: s.entries.documents });
    }
    for (const f of files) {
      const named = Object.entries(original.indexes).filter(([, i]) => f.documents !== undefined && i.documents === f.documents);
      if (named.length === 1) f.index = named[0]![0];
    }

    // 3. The copy, file by file: LMDB files compacted, the rest copied, lock files left out.
    await rm(cp.tmp, { recursive: true, force: true });
    await mkdir(cp.tmp, { mode: 0o700 });
    for (const e of entries) {
      const src = join(dbPath, e.rel);
      const dst = join(cp.tmp, e.rel);
      if (e.dir) {
        await mkdir(dst, { mode: (await stat(src)).mode & 0o777 });
        continue;
      }
      if (e.rel.endsWith('lock.mdb') || e.rel.endsWith('.mdb-lock')) continue;
      const f = files.find((x) => x.rel === e.rel);
      if (f) {
        const t = performance.now();
        await mdbTool(MDB_COPY, ['-n', '-c', src, dst], src);
        await chmod(dst, (await stat(src)).mode & 0o777);
        await fsyncFile(dst);
        f.after = (await stat(dst)).size;
        say(`  ${label(f)}：${gb(f.before)} → ${gb(f.after)}（${((performance.now() - t) / 1000).toFixed(1)} 秒）`);
      } else {
        await copyFile(src, dst);
        await chmod(dst, (await stat(src)).mode & 0o777);
        await fsyncFile(dst);
      }
    }
    for (const e of [...entries].reverse()) if (e.dir) await fsyncDir(join(cp.tmp, e.rel));
    await fsyncDir(cp.tmp);
    await opts.afterStep?.('copied');

    // 4. Check: every named database holds as many entries, and the engine answers the same.
    say('核对副本：逐个数据库核对条目数，并在副本上启动检索引擎比对文档数与检索结果…');
    for (const f of files) {
      const copy = await lmdbStat(join(cp.tmp, f.rel));
      if (!isDeepStrictEqual(copy.entries, f.entries)) throw verifyFailed(`${f.rel}: entries ${JSON.stringify(f.entries)} vs copy ${JSON.stringify(copy.entries)}`);
    }
    const copied = await snapshotOfCopy(cfg, cp.tmp, cp.verifyPid);
    if (!isDeepStrictEqual(copied, original)) throw verifyFailed(`engine answers differ: ${diffHint(original, copied)}`);
    // What the engine wrote while it ran on the copy is on disk before the copy counts as checked.
    for (const e of await walk(cp.tmp)) await (e.dir ? fsyncDir : fsyncFile)(join(cp.tmp, e.rel));
    for (const f of files) f.after = (await stat(join(cp.tmp, f.rel))).size;
    await opts.afterStep?.('verified');

    // 5. The swap: each step a rename, the directory synced after each.
    const meiliDir = dirname(dbPath);
    await rename(cp.tmp, cp.ready);
    await fsyncDir(meiliDir);
    await opts.afterStep?.('ready');
    await rename(dbPath, cp.old);
    await fsyncDir(meiliDir);
    await opts.afterStep?.('aside');
    await rename(cp.ready, dbPath);
    await fsyncDir(meiliDir);
    await rm(cp.old, { recursive: true, force: true });
    await fsyncDir(meiliDir);

    const indexes = Object.fromEntries(Object.entries(copied.indexes).map(([k, v]) => [k, v.documents]));
    return { files, before, after: await dirBytes(dbPath), ms: performance.now() - t0, indexes, recovered };
  } catch (e) {
    // Whatever failed, the original is untouched, or (the swap begun) the checked copy is put in its
    // place; an unchecked copy goes.
    await recoverCompaction(dbPath).catch(() => undefined);
    throw e;
  } finally {
    await lock.release();
  }
}

export function label(f: LmdbFile): string {
  if (f.rel.startsWith('indexes/')) return `索引 ${f.index ?? f.rel.split('/')[1]!.slice(0, 8)}（${f.documents ?? 0} 条文档）`;
  if (f.rel.startsWith('tasks/')) return '任务记录 tasks';
  if (f.rel.startsWith('auth/')) return '密钥 auth';
  return f.rel;
}

function verifyFailed(en: string): ApplianceError {
  return new ApplianceError(
    'COMPACT_VERIFY_FAILED',
    '压缩后的副本核对未通过（与原索引的条目数或检索结果不一致），已丢弃副本，原索引未改动。请保留日志并联系维护人员。',
    `compacted copy did not verify; original kept: ${en}`,
    { status: 500, details: { reason: en.slice(0, 2000) } },
  );
}

function diffHint(a: EngineSnapshot, b: EngineSnapshot): string {
  const out: string[] = [];
  for (const uid of new Set([...Object.keys(a.indexes), ...Object.keys(b.indexes)])) {
    const x = a.indexes[uid];
    const y = b.indexes[uid];
    if (!isDeepStrictEqual(x, y)) out.push(`${uid}: ${JSON.stringify(x).slice(0, 300)} vs ${JSON.stringify(y).slice(0, 300)}`);
  }
  if (!isDeepStrictEqual(a.keys, b.keys)) out.push('keys differ');
  if (!isDeepStrictEqual(a.tasks, b.tasks)) out.push(`tasks ${JSON.stringify(a.tasks)} vs ${JSON.stringify(b.tasks)}`);
  return out.join('; ');
}
