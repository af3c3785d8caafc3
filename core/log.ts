import { pino, type Logger } from 'pino';

/**
 * Structured JSON logs. The server logs to stdout (systemd's journal keeps them); console
 * commands log to stderr so their stdout stays clean for --json output.
 */
let root: Logger | undefined;

export function createLogger(opts: { level?: string; toStderr?: boolean } = {}): Logger {
  root = pino(
    { level: opts.level ?? process.env.ARCHIVE_LOG_LEVEL ?? 'info', base: { app: 'archive' }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ fd: opts.toStderr ? 2 : 1, sync: true }),
  );
  return root;
}

export function log(): Logger {
  return root ?? createLogger({ toStderr: true, level: process.env.ARCHIVE_LOG_LEVEL ?? 'warn' });
}

export type { Logger };
