import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { clamdCommand } from '../../security/clamd-address.ts';

/** The test signature database (EICAR + ClamAV's test file), see field notes. */
export const CLAMAV_FIXTURES = resolve(import.meta.dirname, '../fixtures/clamav');
const CLAMD_BIN = existsSync('/usr/sbin/clamd') ? '/usr/sbin/clamd' : 'clamd';

export interface TestClamdOptions {
  /** MaxFileSize; StreamMaxLength is the same unless given (fail-closed config). Default 16 MiB. */
  maxFileSize?: number;
  /** Only to exercise clamd's own Heuristics.Limits path; normally equal to maxFileSize. */
  streamMaxLength?: number;
  /** Listen here instead of a fresh temp path: a restarted clamd answers at the old address. */
  socketPath?: string;
  /** Load this DatabaseDirectory as it is (left in place by stop()) instead of a copy of the fixtures. */
  databaseDir?: string;
}

export interface TestClamd {
  /** Config-style address: unix:/tmp/…/clamd.sock */
  address: string;
  socketPath: string;
  /** clamd's DatabaseDirectory (a temp copy of the fixtures), for signature-import tests. */
  databaseDir: string;
  pid: number;
  /** clamd's log (stdout, stderr and LogFile), for assertion messages. */
  output(): string;
  /** Stop clamd and remove its temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Start a real clamd with its own config, socket and a temp copy of the test signature database,
 * in the foreground as a child of this process. It runs as the current user (no `User` line:
 * as root clamd would otherwise try to switch to `clamav`, who cannot read our temp dir).
 * Resolves once it answers PING.
 */
export async function startTestClamd(opts: TestClamdOptions = {}): Promise<TestClamd> {
  const maxFileSize = opts.maxFileSize ?? 16 * 1024 * 1024;
  const streamMaxLength = opts.streamMaxLength ?? maxFileSize;
  const dir = await mkdtemp(join(tmpdir(), 'clamd-test-'));
  const db = opts.databaseDir ?? join(dir, 'db');
  if (!opts.databaseDir) {
    await mkdir(db);
    for (const f of await readdir(CLAMAV_FIXTURES)) await copyFile(join(CLAMAV_FIXTURES, f), join(db, f));
  }
  const socketPath = opts.socketPath ?? join(dir, 'clamd.sock');
  await mkdir(dirname(socketPath), { recursive: true });
  const conf = join(dir, 'clamd.conf');
  await writeFile(
    conf,
    [
      `LocalSocket ${socketPath}`,
      'LocalSocketMode 600',
      `DatabaseDirectory ${db}`,
      `TemporaryDirectory ${dir}`,
      `PidFile ${join(dir, 'clamd.pid')}`,
      `LogFile ${join(dir, 'clamd.log')}`,
      'Foreground yes',
      'SelfCheck 0',
      'MaxThreads 4',
      // Fail-closed limits: a stream past StreamMaxLength is an error, a file past the scan limits an alert.
      `StreamMaxLength ${streamMaxLength}`,
      `MaxFileSize ${maxFileSize}`,
      `MaxScanSize ${Math.max(maxFileSize, streamMaxLength) * 4}`,
      'AlertExceedsMax yes',
      '',
    ].join('\n'),
  );

  let out = '';
  const proc = spawn(CLAMD_BIN, ['-c', conf, '--foreground'], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const killOnExit = () => proc.kill('SIGKILL');
  process.once('exit', killOnExit);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.off('exit', killOnExit);
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(t);
    }
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 30_000;
  let last = '';
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      await stop();
      throw new Error(`test clamd exited during start (${proc.exitCode ?? proc.signalCode}): ${out}`);
    }
    try {
      if ((await clamdCommand(`unix:${socketPath}`, 'PING', 1_000)).trim() === 'PONG') break;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`test clamd did not answer PING within 30 s (${last}): ${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { address: `unix:${socketPath}`, socketPath, databaseDir: db, pid: proc.pid!, output: () => out, stop };
}

/** The EICAR test file, assembled at run time so the repository never holds it. */
export function eicarBytes(): Buffer {
  return Buffer.from(['X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR', 'STANDARD', 'ANTIVIRUS', 'TEST', 'FILE!$H+H*'].join('-'), 'latin1');
}
