import type { Command } from 'commander';
import { loadConfig, type Config, isApplianceError } from '../core/index.ts';

/** Options every command shares (declared once on the root program). */
export interface GlobalOptions {
  config?: string;
  dataDir?: string;
  json?: boolean;
}

export function globalOptions(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

export function configFor(cmd: Command): Config {
  const g = globalOptions(cmd);
  return loadConfig({ file: g.config, overrides: g.dataDir ? { dataDir: g.dataDir } : undefined });
}

/** Exit codes scripts can rely on. */
export const EXIT = { ok: 0, failure: 1, usage: 2, notRunning: 3 } as const;

/**
 * Print an error the way an operator needs it: Chinese message and stable code on stderr, or one
 * JSON object with --json. Never a stack trace unless ARCHIVE_DEBUG is set.
 */
export function reportError(e: unknown, json: boolean): number {
  const body = isApplianceError(e) ? e.toJSON() : { code: 'INTERNAL', message: `内部错误：${(e as Error)?.message ?? String(e)}`, messageEn: (e as Error)?.message ?? String(e) };
  if (json) process.stdout.write(`${JSON.stringify({ ok: false, error: body })}\n`);
  else process.stderr.write(`错误 [${body.code}]：${body.message}\n`);
  if (process.env.ARCHIVE_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
  return EXIT.failure;
}

/** Wrap a command action: errors become a clear message and a non-zero exit code. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<number | void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const cmd = args[args.length - 1] as Command;
    try {
      const code = await fn(...args);
      process.exitCode = code ?? EXIT.ok;
    } catch (e) {
      process.exitCode = reportError(e, Boolean(globalOptions(cmd).json));
    }
  };
}
