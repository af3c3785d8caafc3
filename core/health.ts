import { isApplianceError } from './errors.ts';

export type ComponentStatus = 'ok' | 'degraded' | 'down';
export interface ComponentHealth {
  status: ComponentStatus;
  reason: string;
}

export interface HealthReport {
  status: ComponentStatus;
  time: string;
  components: Record<string, ComponentHealth>;
  /** 演示模式 (`archive demo`): test signatures, throwaway data; shown everywhere. */
  demo?: true;
}

export type HealthCheck = () => Promise<ComponentHealth> | ComponentHealth;

/** Run every component check at once; the appliance is as healthy as its sickest component. */
export async function healthReport(checks: Record<string, HealthCheck>, opts: { demo?: boolean } = {}): Promise<HealthReport> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]): Promise<[string, ComponentHealth]> => {
      try {
        return [name, await check()];
      } catch (e) {
        // The reason is read by the operator: Chinese, with the technical message kept as detail.
        return [name, { status: 'down', reason: isApplianceError(e) ? e.zh : `检查出错：${(e as Error).message}` }];
      }
    }),
  );
  const components = Object.fromEntries(entries);
  const statuses = entries.map(([, c]) => c.status);
  const status: ComponentStatus = statuses.includes('down') ? 'down' : statuses.includes('degraded') ? 'degraded' : 'ok';
  return { status, time: new Date().toISOString(), components, ...(opts.demo ? { demo: true as const } : {}) };
}
