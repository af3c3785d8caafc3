import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { freeLoopbackPort } from '../../appliance/meili-supervisor.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
export const CLI = join(ROOT, 'appliance/bin/archive.mjs');
/** The `archive` command as `npx archive` runs it (appliance/bin/archive: the malloc settings, then node on CLI). */
export const ENTRY = join(ROOT, 'appliance/bin/archive');
export const SHARED = resolve(ROOT, '../shared');

export async function tempDir(prefix = 'archive-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export interface ServeHandle {
  proc: ChildProcess;
  base: string;
  dataDir: string;
  output: () => string;
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

/**
 * Start a real `archive serve` on a temp data dir with free loopback ports; env.ARCHIVE_HTTP_ADDR
 * (a restart at the address a browser page already has) is used as given.
 */
export async function startServe(env: Record<string, string> = {}, dataDir?: string): Promise<ServeHandle> {
  const dir = dataDir ?? (await tempDir());
  const addr = env.ARCHIVE_HTTP_ADDR ?? `127.0.0.1:${await freeLoopbackPort()}`;
  let out = '';
  // Started as the README starts it (npx archive serve runs ENTRY), with this node first on PATH.
  const proc = spawn(ENTRY, ['serve'], {
    env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`, ARCHIVE_DATA_DIR: dir, ARCHIVE_MEILI_PORT: '0', ...env, ARCHIVE_HTTP_ADDR: addr },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return {
    proc,
    base: `http://${addr}`,
    dataDir: dir,
    output: () => out,
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

export async function waitFor<T>(fn: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

/** Until an `archive serve` started by startServe answers /api/health at all (any status: up, not necessarily healthy). */
export async function untilServing(app: ServeHandle): Promise<void> {
  await waitFor(async () => ((await fetch(`${app.base}/api/health`).catch(() => undefined))?.status ? true : undefined), 60_000, 'serve up');
}

/** This year's audit records of a data dir, parsed (none while the file does not exist yet). */
export async function auditRecords<T = Record<string, unknown>>(dataDir: string): Promise<T[]> {
  const text = await readFile(join(dataDir, 'audit', `audit-${new Date().getFullYear()}.jsonl`), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as T);
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function cleanup(dir: string): Promise<void> {
  // Retried: an audit trail's seal timer may still be writing its key file there.
  await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
}

/**
 * Run the `archive` command as a script would: no terminal, this process's environment plus `env`
 * less `unset`, output collected.
 */
export function runCli(args: string[], env: Record<string, string>, unset: string[] = []): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const base: Record<string, string | undefined> = { ...process.env };
    for (const k of unset) delete base[k];
    const p = spawn(process.execPath, [CLI, ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout!.on('data', (d) => (out += d));
    p.stderr!.on('data', (d) => (err += d));
    p.on('exit', (code) => resolve({ code, out, err }));
  });
}

/** The full health report as the console reads it (the token in run/console-token), not the public summary. */
export async function consoleHealth(base: string, dataDir: string): Promise<Response> {
  const { readConsoleToken } = await import('../../appliance/console-token.ts');
  const token = await readConsoleToken(dataDir);
  return fetch(`${base}/api/health`, { headers: token ? { 'x-archive-console': token } : {} });
}

/**
 * The one-time setup token of an `archive serve` started by startServe: with no terminal it is
 * in data/config/setup-token.txt (0600), never in the output.
 */
export async function readSetupToken(app: ServeHandle, timeoutMs = 30_000): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  return waitFor(async () => /初始设置令牌[^：]*：(\S+)/.exec(await readFile(join(app.dataDir, 'config', 'setup-token.txt'), 'utf8'))?.[1], timeoutMs, `setup token file (output: ${app.output()})`);
}
