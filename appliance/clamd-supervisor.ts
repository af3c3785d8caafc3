import { stopLeftover } from './leftover-process.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Config, Logger, ComponentHealth } from '../core/index.ts';
import { clamdCommand, clamdHealth, type ClamdHealth } from '../security/index.ts';
import { EXIT_GRACE_MS, stopChild } from './child-stop.ts';
import { SIGNATURE_EXTS } from '../custody/index.ts';

/** Debian's clamd (package clamav-daemon). */
export const CLAMD_BINARY = '/usr/sbin/clamd';

/** The Chinese sentence an operator reads when clamd cannot start for want of signatures. */
export const NO_SIGNATURES_ZH = '未安装病毒库：请用 archive signatures import 从审批介质导入';

/** Where the appliance's own clamd lives: its config, socket, pid file, log and temp files. */
export function ownClamdDir(dataDir: string): string {
  return join(dataDir, 'run', 'clamd');
}

export function ownClamdSocket(dataDir: string): string {
  return join(ownClamdDir(dataDir), 'clamd.sock');
}

/**
 * The clamd address console commands should use: the appliance's own clamd while `archive serve`
 * supervises one for this data dir (its socket exists), else the configured one.
 */
export function effectiveClamdAddress(cfg: Pick<Config, 'clamd' | 'dataDir'>): string {
  const own = ownClamdSocket(cfg.dataDir);
  return existsSync(own) ? `unix:${own}` : cfg.clamd;
}

/**
 * clamd.conf for the appliance's own clamd: the fail-closed limits of provision.sh (a file too
 * big to scan is an alert, never "OK"; the stream limit equals the file limit so nothing is
 * scanned only in part), a socket only this user can use, everything else in the data dir.
 */
export function ownClamdConf(opts: { dataDir: string; databaseDir: string }): string {
  const dir = ownClamdDir(opts.dataDir);
  return [
    '# Written by archive serve at every start (appliance/clamd-supervisor.ts); edits are lost.',
    `LocalSocket ${ownClamdSocket(opts.dataDir)}`,
    'LocalSocketMode 600',
    `DatabaseDirectory ${opts.databaseDir}`,
    `TemporaryDirectory ${join(dir, 'tmp')}`,
    `PidFile ${join(dir, 'clamd.pid')}`,
    `LogFile ${join(dir, 'clamd.log')}`,
    'LogTime yes',
    'Foreground yes',
    'SelfCheck 3600',
    'StreamMaxLength 200M',
    'MaxFileSize 200M',
    'MaxScanSize 800M',
    'AlertExceedsMax yes',
    '',
  ].join('\n');
}

/** Signature files in clamd's DatabaseDirectory (none: clamd refuses to start). */
export async function installedSignatures(databaseDir: string): Promise<string[]> {
  try {
    return (await readdir(databaseDir)).filter((n) => (SIGNATURE_EXTS as readonly string[]).includes(extname(n).toLowerCase()));
  } catch {
    return [];
  }
}

type Mode = { kind: 'external' } | { kind: 'no-binary' } | { kind: 'own' };

/**
 * clamd for a machine without systemd (a container, a fresh VM): when nothing answers on the
 * configured socket and systemd is not there to start clamav-daemon, `archive serve` runs clamd
 * itself, as it does Meilisearch: its own config in the data dir, its socket there, restarted if
 * it dies, stopped on shutdown. Without signatures it waits for them (checking every few seconds,
 * so an `archive signatures import` is enough) and says plainly why nothing can be scanned.
 * Under systemd, clamav-daemon.service owns clamd and this only reports its health.
 */
export class ClamdSupervisor {
  private child?: ChildProcess;
  private stopping = false;
  private restarts = 0;
  private lastStart = 0;
  private timer?: NodeJS.Timeout;
  private poll?: NodeJS.Timeout;
  private mode: Mode = { kind: 'external' };
  private warnedNoSignatures = false;
  private readonly binary: string;
  /** The address ingest, health and the self-check use for this run. */
  address: string;

  constructor(
    private readonly cfg: Config,
    private readonly log: Logger,
    opts: { binary?: string; systemd?: boolean; demo?: boolean; pollMs?: number } = {},
  ) {
    this.binary = opts.binary ?? CLAMD_BINARY;
    this.systemd = opts.systemd ?? existsSync('/run/systemd/system');
    this.demo = Boolean(opts.demo);
    this.pollMs = opts.pollMs ?? 5_000;
    this.address = cfg.clamd;
  }
  private readonly systemd: boolean;
  private readonly demo: boolean;
  private readonly pollMs: number;

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Whether this appliance runs clamd itself (else clamav-daemon or another clamd does). */
  get supervising(): boolean {
    return this.mode.kind === 'own';
  }

  private confPath(): string {
    return join(ownClamdDir(this.cfg.dataDir), 'clamd.conf');
  }

  private pidFile(): string {
    return join(ownClamdDir(this.cfg.dataDir), 'clamd.pid');
  }

  /** Decide who runs clamd; never waits for clamd to load its signatures (ingest waits for the scanner). */
  async start(): Promise<void> {
    if (await this.answers(this.cfg.clamd)) {
      this.mode = { kind: 'external' };
      this.log.info({ component: 'clamd', address: this.cfg.clamd }, 'clamd answers on the configured address');
      return;
    }
    if (this.systemd && !this.demo) {
      // clamav-daemon.service starts it (it may still be loading signatures): do not run a second one.
      this.mode = { kind: 'external' };
      this.log.warn({ component: 'clamd', address: this.cfg.clamd }, 'clamd not answering; systemd manages clamav-daemon, so the appliance does not start its own');
      return;
    }
    if (!existsSync(this.binary)) {
      this.mode = { kind: 'no-binary' };
      this.log.error({ component: 'clamd', binary: this.binary }, '未安装 clamd（Debian 软件包 clamav-daemon），病毒扫描不可用，导入暂停 / clamd not installed');
      return;
    }
    this.mode = { kind: 'own' };
    const dir = ownClamdDir(this.cfg.dataDir);
    await mkdir(join(dir, 'tmp'), { recursive: true, mode: 0o700 });
    this.address = `unix:${ownClamdSocket(this.cfg.dataDir)}`;
    await stopLeftover(this.pidFile(), (c) => Boolean(c[0]?.endsWith('clamd')) && c.includes(this.confPath()), this.log, 'clamd');
    await rm(ownClamdSocket(this.cfg.dataDir), { force: true });
    await writeFile(this.confPath(), ownClamdConf({ dataDir: this.cfg.dataDir, databaseDir: this.cfg.clamdDatabaseDir }), { mode: 0o600 });
    await this.startWhenSignatures();
  }

  private async answers(address: string): Promise<boolean> {
    try {
      return (await clamdCommand(address, 'PING', 2_000)).trim() === 'PONG';
    } catch {
      return false;
    }
  }

  /** Start clamd now if signatures are installed; otherwise say so once and look again shortly. */
  private async startWhenSignatures(): Promise<void> {
    if (this.stopping) return;
    // A clamd that came up on the configured address meanwhile (started by hand, or slow at boot)
    // is used as it is: never a second scanner beside it.
    if (!this.child && this.address !== this.cfg.clamd && (await this.answers(this.cfg.clamd))) {
      this.mode = { kind: 'external' };
      this.address = this.cfg.clamd;
      this.warnedNoSignatures = false;
      this.log.info({ component: 'clamd', address: this.cfg.clamd }, 'clamd now answers on the configured address; using it');
      return;
    }
    if (this.stopping) return;
    const sigs = await installedSignatures(this.cfg.clamdDatabaseDir);
    if (sigs.length === 0) {
      if (!this.warnedNoSignatures) {
        this.warnedNoSignatures = true;
        this.log.warn(
          { component: 'clamd', code: 'NO_SIGNATURES', databaseDir: this.cfg.clamdDatabaseDir },
          `${NO_SIGNATURES_ZH}（clamd 未启动，导入暂停） / no virus signatures installed: clamd not started, ingest paused`,
        );
      }
      this.poll = setTimeout(() => void this.startWhenSignatures(), this.pollMs);
      this.poll.unref();
      return;
    }
    if (this.warnedNoSignatures) this.log.info({ component: 'clamd', files: sigs }, 'virus signatures installed; starting clamd');
    this.warnedNoSignatures = false;
    this.spawnChild();
  }

  private spawnChild(): void {
    this.lastStart = Date.now();
    // A clean environment and the data dir's run folder as working directory: nothing inherited steers it.
    const child = spawn(this.binary, ['-c', this.confPath(), '--foreground'], {
      cwd: ownClamdDir(this.cfg.dataDir),
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.log.info(
      { component: 'clamd', pid: child.pid, address: this.address, databaseDir: this.cfg.clamdDatabaseDir, demo: this.demo || undefined },
      this.demo ? 'clamd started (演示模式: ClamAV test signatures only, not real)' : 'clamd started',
    );
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => {
        const text = line.trim();
        if (text) this.log[/ERROR|WARNING/.test(text) ? 'warn' : 'debug']({ component: 'clamd', line: text.slice(0, 2000) }, 'clamd output');
      });
    }
    child.on('error', (err) => this.log.error({ component: 'clamd', err: err.message }, 'clamd failed to start'));
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      if (this.stopping) return;
      // A Ctrl-C reaches the whole process group: wait a moment for our own stop before calling it a crash.
      this.timer = setTimeout(() => {
        if (this.stopping) return;
        // Back off when it keeps dying (a broken database), so it does not spin the CPU.
        if (Date.now() - this.lastStart > 60_000) this.restarts = 0;
        const delay = Math.min(30_000, 500 * 2 ** this.restarts++);
        this.log.error({ component: 'clamd', code, signal, restartInMs: delay }, 'clamd exited; restarting');
        this.timer = setTimeout(() => void this.startWhenSignatures(), delay);
      }, EXIT_GRACE_MS);
    });
  }

  /** Health for /api/health: the scanner's own answer, or plainly why there is none. */
  async health(): Promise<ClamdHealth & ComponentHealth> {
    if (this.mode.kind === 'no-binary') {
      return { status: 'down', reason: `未安装 clamd（Debian 软件包 clamav-daemon），病毒扫描不可用，导入暂停。` };
    }
    if (this.mode.kind === 'own' && !this.child) {
      const sigs = await installedSignatures(this.cfg.clamdDatabaseDir);
      if (sigs.length === 0) return { status: 'down', reason: `${NO_SIGNATURES_ZH}（导入后由本设备自动启动 clamd；在此之前导入暂停）` };
    }
    const h = await clamdHealth(this.address, { maxAgeDays: this.cfg.signatureMaxAgeDays });
    if (this.mode.kind === 'own' && this.child && h.status === 'down') {
      return { ...h, reason: `clamd 正在启动（加载病毒库），导入暂停，稍后自动继续` };
    }
    if (this.demo) return { ...h, status: h.status === 'ok' ? 'degraded' : h.status, reason: `演示模式：仅 ClamAV 测试特征库，不是真实病毒库；${h.reason}` };
    return h;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    clearTimeout(this.poll);
    await stopChild(this.child);
    this.child = undefined;
    if (this.address === `unix:${ownClamdSocket(this.cfg.dataDir)}` || this.mode.kind === 'own') {
      await rm(ownClamdSocket(this.cfg.dataDir), { force: true });
      await rm(this.pidFile(), { force: true });
    }
  }
}
