import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Config, diskHealth, type Logger, type ComponentHealth } from '../core/index.ts';
import { ocrDataStatus } from '../ingest/index.ts';
import { clamdHealth, selfcheck, type AuditLog, type SelfcheckInputs, type SelfcheckReport } from '../security/index.ts';

/** The application's root (where BUILD-INFO.json sits in an installed bundle). */
export const APP_ROOT = resolve(import.meta.dirname, '..');

/** When the installed software was built: the clock can never be earlier than that. */
export function buildTime(root = APP_ROOT): Date | undefined {
  try {
    const info = JSON.parse(readFileSync(resolve(root, 'BUILD-INFO.json'), 'utf8')) as { builtAt?: string };
    const t = info.builtAt ? new Date(info.builtAt) : undefined;
    return t && !Number.isNaN(t.getTime()) ? t : undefined;
  } catch {
    return undefined;
  }
}

/** The self-check wired to this appliance's real parts (clamd, disk, OCR data). */
export function runSelfcheck(cfg: Config, opts: Partial<SelfcheckInputs> = {}): Promise<SelfcheckReport> {
  return selfcheck({
    dataDir: cfg.dataDir,
    httpAddr: cfg.httpAddr,
    configFile: process.env.ARCHIVE_CONFIG,
    clamd: () => clamdHealth(cfg.clamd),
    ocrData: () => ocrDataStatus(cfg.ocr.lang),
    disk: () => diskHealth(cfg.dataDir, cfg.disk),
    buildTime: buildTime(),
    ...opts,
  });
}

/** A report as a health component: failures make the appliance "degraded" (it still works, but is not where it belongs). */
export function selfcheckHealth(r: SelfcheckReport | undefined): ComponentHealth & { checked?: string; failures?: string[]; warnings?: string[] } {
  if (!r) return { status: 'degraded', reason: '隔离自检尚未运行' };
  const failures = r.checks.filter((c) => c.status === 'failure');
  const warnings = r.checks.filter((c) => c.status === 'warning');
  const reason = failures.length
    ? `${failures.length} 项未通过：${failures.map((c) => `${c.id}: ${c.message}`).join(' | ')}`
    : `${r.counts.ok} 项通过，${warnings.length} 项警告${warnings.length ? `：${warnings.map((c) => c.id).join(', ')}` : ''}`;
  return { status: failures.length ? 'degraded' : 'ok', reason, checked: r.time, failures: failures.map((c) => c.id), warnings: warnings.map((c) => c.id) };
}

export interface SelfcheckSchedule {
  readonly last?: SelfcheckReport;
  health(): ReturnType<typeof selfcheckHealth>;
  stop(): Promise<void>;
}

const DAY_MS = 24 * 3_600_000;

/**
 * Run the self-check now and then daily inside the server; each run goes into the audit trail
 * (so the auditor can show the appliance kept checking) and its result onto /api/health.
 */
export function startSelfcheckSchedule(cfg: Config, deps: { audit: AuditLog; log: Logger; httpAddr: string; intervalMs?: number }): SelfcheckSchedule {
  let last: SelfcheckReport | undefined;
  let running: Promise<void> | undefined;
  const run = async () => {
    try {
      const r = await runSelfcheck(cfg, { appPid: process.pid, httpAddr: deps.httpAddr });
      last = r;
      const failures = r.checks.filter((c) => c.status === 'failure');
      const warnings = r.checks.filter((c) => c.status === 'warning');
      await deps.audit.append({
        actor: 'system',
        role: 'system',
        source: 'system',
        action: 'selfcheck.run',
        target: '-',
        outcome: failures.length ? 'failure' : 'success',
        details: { counts: r.counts, failures: failures.map((c) => ({ id: c.id, message: c.message })), warnings: warnings.map((c) => c.id) },
      });
      if (failures.length) deps.log.warn({ component: 'selfcheck', failures: failures.map((c) => `${c.id}: ${c.message}`) }, 'self-check found failures');
      else deps.log.info({ component: 'selfcheck', counts: r.counts }, 'self-check done');
    } catch (e) {
      deps.log.error({ component: 'selfcheck', err: (e as Error).message }, 'self-check could not run');
    }
  };
  running = run();
  const timer = setInterval(() => {
    running = run();
  }, deps.intervalMs ?? DAY_MS);
  timer.unref();
  return {
    get last() {
      return last;
    },
    health: () => selfcheckHealth(last),
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
