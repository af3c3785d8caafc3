/**
 * Errors that reach a person. Each carries a stable code (for scripts, logs and tests), a message
 * in Chinese for the operator and the web UI, and an English one for logs.
 */
export class ApplianceError extends Error {
  readonly code: string;
  readonly zh: string;
  readonly details?: Record<string, unknown>;
  /** HTTP status to use when this error answers a web request. */
  readonly status: number;

  constructor(code: string, zh: string, en: string, opts: { status?: number; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(en, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ApplianceError';
    this.code = code;
    this.zh = zh;
    this.status = opts.status ?? 400;
    this.details = opts.details;
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.zh, messageEn: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

export function isApplianceError(e: unknown): e is ApplianceError {
  return e instanceof ApplianceError;
}
