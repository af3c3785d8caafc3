import { stopLeftover } from './leftover-process.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile, rm, mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type Config, ApplianceError, type Logger, type ComponentHealth, type MeiliConnection, readProcessActivity } from '../core/index.ts';
import { preparedMeiliBinary } from './meili-binary.ts';
import { EXIT_GRACE_MS, stopChild } from './child-stop.ts';
import { meiliMasterKey } from './meili-master-key.ts';
import { EngineLiveness, type LivenessBounds, type LivenessVerdict } from './meili-liveness.ts';
import { recoverCompaction } from './meili-compact-recover.ts';

/** How the supervisor watches its engine (tests shrink these). */
export interface MeiliSupervisorOptions extends LivenessBounds {
  /** Time between health checks. */
  checkIntervalMs: number;
  /** A check not answered within this counts as unanswered. */
  pingTimeoutMs: number;
}

export const MEILI_SUPERVISOR_DEFAULTS: MeiliSupervisorOptions = { checkIntervalMs: 5_000, pingTimeoutMs: 2_000, stuckMs: 120_000, busyMaxMs: 30 * 60_000 };

const secs = (ms: number) => Math.round(ms / 1000);

export interface MeiliPaths {
  dbPath: string;
  dumpDir: string;
  snapshotDir: string;
}

export function meiliPaths(dataDir: string): MeiliPaths {
  const base = join(dataDir, 'meili');
  return { dbPath: join(base, 'data.ms'), dumpDir: join(base, 'dumps'), snapshotDir: join(base, 'snapshots') };
}

/**
 * Meilisearch's indexing memory bound. Its default, two thirds of the machine's RAM (15.7 GiB here),
 * is paid on every indexing batch however small: measured on 2 cores, 8 one-item updates cost the
 * engine 19 s of CPU with the default and 0.5 s with 512 MiB; 2,000 items in batches of 500 cost
 * 62 s and 36–39 s (256 MiB to 2 GiB alike, 64 MiB no slower). The freed CPU goes to OCR.
 */
export const MEILI_INDEXING_MEMORY = '512MiB';

/**
 * The command line Meilisearch always gets. Loopback only and analytics off are not options:
 * nothing in the configuration can change them.
 */
export function meiliArgs(paths: MeiliPaths, port: number): string[] {
  return [
    '--db-path',
    paths.dbPath,
    '--dump-dir',
    paths.dumpDir,
    '--snapshot-dir',
    paths.snapshotDir,
    '--http-addr',
    `127.0.0.1:${port}`,
    '--env',
    'production',
    '--no-analytics',
    '--log-level',
    'WARN',
    '--max-indexing-memory',
    MEILI_INDEXING_MEMORY,
  ];
}

/**
 * A clean environment: only what Meilisearch needs. Inherited MEILI_* variables (or a
 * config.toml in the working directory) could otherwise override the loopback address.
 */
export function meiliEnv(masterKey: string): Record<string, string> {
  return { PATH: '/usr/bin:/bin', MEILI_MASTER_KEY: masterKey, MEILI_NO_ANALYTICS: 'true' };
}

export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Meilisearch colours its log lines for a terminal; the JSON log wants the text. */
export function plainLine(raw: string): string {
  return raw.replace(/\x1b\[[0-9;]*m/g, '').trim();
}

/**
 * Lines of the start-up banner of the pinned Meilisearch (ASCII-art logo, settings, links to its
 * website and cloud offer): informative for a developer, noise for the operator.
 */
const BANNER = [
  /^[8YPbdXKo.'"\s]*888[8YPbdXKo.'"\s]*$/,
  /^(Config file path|Database path|Server listening on|Environment|Commit SHA|Commit date|Package version|Anonymous telemetry):\s/,
  /^A master key has been set\./,
  /^(Check out Meilisearch Cloud!|Documentation:|Source code:|Discord:)\s+https:\/\//,
];

/**
 * Requests our own code makes on every first start and handles: it looks up the indexes and the
 * search key before creating them. Meilisearch logs each such 404 as a WARN.
 */
const EXPECTED_404 = /error_code: "(index_not_found|api_key_not_found)"/;

/**
 * The log level for one line of Meilisearch's output: its banner and the expected first-start
 * 404s are debug; its own WARN and ERROR lines, and anything unrecognised (a panic), stay loud.
 */
export function meiliLineLevel(line: string): 'debug' | 'info' | 'warn' | 'error' {
  const tracing = /^\d{4}-\d\d-\d\dT\S+\s+(TRACE|DEBUG|INFO|WARN|ERROR)\s/.exec(line);
  if (tracing) {
    const level = tracing[1];
    if (level === 'ERROR') return 'error';
    if (level === 'WARN') return EXPECTED_404.test(line) ? 'debug' : 'warn';
    return level === 'INFO' ? 'info' : 'debug';
  }
  return BANNER.some((re) => re.test(line)) ? 'debug' : 'warn';
}

interface MeiliHealth extends ComponentHealth {
  pid?: number;
  port?: number;
}

/**
 * Owns the Meilisearch child process: verifies and starts it, checks its health, restarts it if
 * it dies, and stops it on shutdown. A child left over from a crashed appliance is stopped first.
 */
export class MeiliSupervisor {
  private child?: ChildProcess;
  private stopping = false;
  private restarts = 0;
  private lastStart = 0;
  private timer?: NodeJS.Timeout;
  private healthTimer?: NodeJS.Timeout;
  private lastHealth: MeiliHealth = { status: 'down', reason: '未启动' };
  private readonly opts: MeiliSupervisorOptions;
  private readonly liveness: EngineLiveness;
  private checking = false;
  /** The last verdict of an unanswered streak (undefined while it answers), for logging its changes. */
  private streak?: LivenessVerdict['kind'];
  private busyLoggedAt = 0;
  port = 0;
  private key = '';
  private binary = '';

  constructor(
    private readonly cfg: Config,
    private readonly log: Logger,
    opts: Partial<MeiliSupervisorOptions> = {},
  ) {
    this.opts = { ...MEILI_SUPERVISOR_DEFAULTS, ...opts };
    this.liveness = new EngineLiveness(this.opts);
  }

  get connection(): MeiliConnection {
    return { host: `http://127.0.0.1:${this.port}`, apiKey: this.key, pid: () => this.child?.pid };
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  private pidFile(): string {
    return join(this.cfg.dataDir, 'run', 'meilisearch.pid');
  }

  async start(timeoutMs = 30_000): Promise<void> {
    this.binary = await preparedMeiliBinary(this.cfg);
    this.key = await meiliMasterKey(this.cfg.dataDir);
    this.port = this.cfg.meili.port || (await freeLoopbackPort());
    await stopLeftover(this.pidFile(), (c) => Boolean(c[0]?.includes('meilisearch')) && c.includes(meiliPaths(this.cfg.dataDir).dbPath), this.log, 'meilisearch');
    const paths = meiliPaths(this.cfg.dataDir);
    // A killed `archive compact` may have left its copy, or the database mid-swap: settle that first.
    const recovered = await recoverCompaction(paths.dbPath);
    if (recovered.actions.length) this.log.warn({ component: 'meilisearch', actions: recovered.actions }, 'settled what an interrupted index compaction left');
    await mkdir(paths.dumpDir, { recursive: true, mode: 0o700 });
    await mkdir(paths.snapshotDir, { recursive: true, mode: 0o700 });
    this.spawnChild();
    await this.waitHealthy(timeoutMs);
    this.healthTimer = setInterval(() => {
      if (this.checking) return;
      this.checking = true;
      this.checkHealth()
        .catch((err: Error) => this.log.error({ component: 'meilisearch', err: err.message }, 'meilisearch health check failed'))
        .finally(() => (this.checking = false));
    }, this.opts.checkIntervalMs);
    this.healthTimer.unref();
  }

  private spawnChild(): void {
    const paths = meiliPaths(this.cfg.dataDir);
    const args = meiliArgs(paths, this.port);
    this.lastStart = Date.now();
    const child = spawn(this.binary, args, { cwd: join(this.cfg.dataDir, 'meili'), env: meiliEnv(this.key), stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.liveness.reset();
    this.streak = undefined;
    this.lastHealth = { status: 'down', reason: '正在启动' };
    this.log.info({ component: 'meilisearch', pid: child.pid, port: this.port }, 'meilisearch started');
    if (child.pid) void writeFile(this.pidFile(), `${child.pid}\n`, { mode: 0o600 });
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (raw) => {
        const line = plainLine(raw);
        if (line) this.log[meiliLineLevel(line)]({ component: 'meilisearch', line: line.slice(0, 2000) }, 'meilisearch output');
      });
    }
    child.on('error', (err) => this.log.error({ component: 'meilisearch', err: err.message }, 'meilisearch failed to start'));
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      if (this.stopping) return;
      this.lastHealth = { status: 'down', reason: `已退出（退出码 ${code}，信号 ${signal}），正在重启` };
      // A Ctrl-C reaches the whole process group: the child can exit a moment before our own stop
      // begins. Decide (and log) only after that moment, so a clean stop logs no false alarm.
      this.timer = setTimeout(() => {
        if (this.stopping) return;
        // Back off when it keeps dying, so a broken database does not spin the CPU.
        if (Date.now() - this.lastStart > 60_000) this.restarts = 0;
        const delay = Math.min(30_000, 500 * 2 ** this.restarts++);
        this.log.error({ component: 'meilisearch', code, signal, restartInMs: delay }, 'meilisearch exited; restarting');
        this.timer = setTimeout(() => {
          if (!this.stopping) this.spawnChild();
        }, delay);
      }, EXIT_GRACE_MS);
    });
  }

  private async ping(timeoutMs = this.opts.pingTimeoutMs): Promise<boolean> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.port}/health`, { signal: AbortSignal.timeout(timeoutMs) });
      return res.ok && ((await res.json()) as { status?: string }).status === 'available';
    } catch {
      return false;
    }
  }

  private async checkHealth(): Promise<void> {
    // The child may exit or be stopped while the ping is in flight: hold the one being checked.
    const child = this.child;
    if (!child || this.stopping) return;
    const answered = await this.ping();
    const sample = child.pid ? await readProcessActivity(child.pid) : undefined;
    if (this.stopping || this.child !== child) return;
    const v = this.liveness.observe(answered, sample, Date.now());
    const was = this.streak;
    this.streak = v.kind === 'ok' ? undefined : v.kind;
    const base = { component: 'meilisearch', pid: child.pid, unansweredMs: v.unansweredMs };
    if (v.kind === 'ok') {
      this.lastHealth = { status: 'ok', reason: '运行正常', pid: child.pid, port: this.port };
      if (was) this.log.warn({ ...base, code: 'MEILI_ANSWERING_AGAIN' }, `检索引擎（Meilisearch）恢复响应（此前 ${secs(v.unansweredMs)} 秒未响应）`);
      return;
    }
    const quietMs = v.quietMs;
    if (v.kind === 'busy') {
      this.lastHealth = {
        status: 'degraded',
        reason: `检索引擎正忙：${secs(v.unansweredMs)} 秒未响应健康检查，但进程仍在使用 CPU/磁盘（多为大批量索引），不重启；期间检索暂不可用，导入等待其完成`,
        pid: child.pid,
        port: this.port,
      };
      // Said when it starts, then once a minute while it lasts.
      if (was !== 'busy' && was !== 'quiet') this.busyLoggedAt = 0;
      if (Date.now() - this.busyLoggedAt >= 60_000) {
        this.busyLoggedAt = Date.now();
        this.log.warn(
          { ...base, code: 'MEILI_BUSY' },
          `检索引擎（Meilisearch）正忙：${secs(v.unansweredMs)} 秒未响应健康检查，但进程仍在使用 CPU/磁盘，判定为忙碌而非故障，不重启 / meilisearch busy, not restarting`,
        );
      }
      return;
    }
    if (v.kind === 'quiet') {
      this.lastHealth = {
        status: 'degraded',
        reason: `检索引擎 ${secs(v.unansweredMs)} 秒未响应，且 ${secs(quietMs)} 秒无 CPU/磁盘活动；持续 ${secs(this.opts.stuckMs)} 秒将重启`,
        pid: child.pid,
        port: this.port,
      };
      if (!was) this.log.warn({ ...base, code: 'MEILI_NOT_ANSWERING', state: v.state }, `检索引擎（Meilisearch）未响应健康检查；若持续 ${secs(this.opts.stuckMs)} 秒既无响应也无 CPU/磁盘活动将重启它`);
      return;
    }
    // stuck or overdue: kill it; the exit handler starts a fresh one (SIGKILL works on a stopped process too).
    const zh =
      v.kind === 'stuck'
        ? `检索引擎（Meilisearch）已 ${secs(v.unansweredMs)} 秒无响应，且 ${secs(quietMs)} 秒无 CPU/磁盘活动（进程状态 ${v.state ?? '未知'}），判定为卡死，正在重启`
        : `检索引擎（Meilisearch）已 ${secs(v.unansweredMs)} 秒无响应（上限 ${secs(this.opts.busyMaxMs)} 秒），虽仍有活动也予以重启`;
    this.log.error({ ...base, code: v.kind === 'stuck' ? 'MEILI_STUCK' : 'MEILI_BUSY_TOO_LONG', quietMs, state: v.state }, `${zh} / meilisearch unresponsive; killing it`);
    this.lastHealth = { status: 'down', reason: zh };
    this.liveness.reset();
    child.kill('SIGKILL');
  }

  private async waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await this.ping(Math.max(this.opts.pingTimeoutMs, 2_000))) {
        this.lastHealth = { status: 'ok', reason: '运行正常', pid: this.child?.pid, port: this.port };
        return;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new ApplianceError('MEILI_START_TIMEOUT', `Meilisearch 在 ${timeoutMs / 1000} 秒内未就绪，请查看日志。`, `Meilisearch not healthy after ${timeoutMs} ms`, { status: 500 });
  }

  /** Current health, checked live. */
  async health(): Promise<MeiliHealth> {
    const child = this.child;
    if (child && (await this.ping())) {
      this.lastHealth = { status: 'ok', reason: '运行正常', pid: child.pid, port: this.port };
    } else if (this.lastHealth.status === 'ok') {
      this.lastHealth = { status: 'down', reason: '无响应' };
    }
    return this.lastHealth;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    clearInterval(this.healthTimer);
    // A stopped (SIGSTOP) engine would hold SIGTERM until the grace period's SIGKILL.
    this.child?.kill('SIGCONT');
    await stopChild(this.child);
    this.child = undefined;
    await rm(this.pidFile(), { force: true });
    this.lastHealth = { status: 'down', reason: '已停止' };
  }
}
