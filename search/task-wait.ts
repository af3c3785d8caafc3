import { MeilisearchApiError, type Meilisearch, type Task } from 'meilisearch';
import { ActivityMeter, ApplianceError, readProcessActivity } from '../core/index.ts';

/** How long a wait for a Meilisearch task goes on (tests shrink these). */
export interface TaskWaitOptions {
  /**
   * Give up when nothing has moved for this long: the task's status, the engine's batch at work and
   * its progress, and the engine process's CPU time and I/O. A big batch that keeps moving is waited
   * for however long it takes.
   */
  stallMs?: number;
  /** One poll not answered within this counts as unanswered (the engine is busy or stopped). */
  pollTimeoutMs?: number;
  /** Polls start every 25 ms and slow down to this. */
  maxIntervalMs?: number;
}

export const TASK_WAIT_DEFAULTS: Required<TaskWaitOptions> = { stallMs: 300_000, pollTimeoutMs: 10_000, maxIntervalMs: 250 };

/** The engine process behind a client, where it is known (set by adminClient from the connection). */
const enginePids = new WeakMap<Meilisearch, () => number | undefined>();

export function rememberEnginePid(client: Meilisearch, pid: (() => number | undefined) | undefined): void {
  if (pid) enginePids.set(client, pid);
}

/** Connection refused or reset: nothing listens (the engine exited or is being restarted). */
function unreachable(e: unknown): boolean {
  for (let c: unknown = e, i = 0; c && i < 6; c = (c as { cause?: unknown }).cause, i++) {
    const code = (c as { code?: unknown }).code;
    if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET') return true;
  }
  return false;
}

/** The batch the engine is working on and its progress, as one comparable string (undefined: no answer). */
async function batchAtWork(client: Meilisearch, timeoutMs: number): Promise<string | undefined> {
  try {
    const res = (await client.httpRequest.get({
      path: 'batches',
      params: { statuses: 'processing', limit: 1 },
      extraRequestInit: { signal: AbortSignal.timeout(timeoutMs) },
    })) as { results?: Array<{ uid: number; progress?: unknown }> };
    return JSON.stringify((res.results ?? []).map((b) => [b.uid, b.progress ?? null]));
  } catch {
    return undefined;
  }
}

/**
 * Wait until task `taskUid` has finished (succeeded, failed or canceled) and return it. The wait has
 * no fixed length: it goes on while the task or the engine moves, and fails with SEARCH_UNAVAILABLE
 * (details.reason 'task-stalled') only after `stallMs` in which nothing did — the engine gone, or
 * alive but answering nothing and using no CPU. A refusal by Meilisearch (unknown task) is thrown as is.
 */
export async function waitForTaskProgress(client: Meilisearch, taskUid: number, what: string, opts: TaskWaitOptions = {}): Promise<Task> {
  const { stallMs, pollTimeoutMs, maxIntervalMs } = { ...TASK_WAIT_DEFAULTS, ...opts };
  const pidOf = enginePids.get(client);
  let interval = 25;
  let movedAt = Date.now();
  let lastTask = '';
  let lastBatch: string | undefined;
  const meter = new ActivityMeter();
  for (;;) {
    let task: Task | undefined;
    let reachable = true;
    try {
      task = await client.tasks.getTask(taskUid, { signal: AbortSignal.timeout(pollTimeoutMs) });
    } catch (e) {
      if (e instanceof MeilisearchApiError) throw e;
      reachable = !unreachable(e);
    }
    if (task && task.status !== 'enqueued' && task.status !== 'processing') return task;
    let moved = false;
    if (task) {
      const seen = `${task.status}|${task.batchUid ?? ''}|${task.startedAt ?? ''}`;
      if (seen !== lastTask) moved = true;
      lastTask = seen;
    }
    // Only an engine that is there counts by its CPU: a crash-looping one that refuses connections does not.
    const pid = pidOf?.();
    const activity = pid ? await readProcessActivity(pid) : undefined;
    if (meter.observe(activity, Date.now()) && reachable) moved = true;
    if (task && !moved) {
      // The task waits behind others, or its batch is long: the batch at work and its progress.
      const batch = await batchAtWork(client, pollTimeoutMs);
      if (batch !== undefined && batch !== lastBatch) moved = true;
      if (batch !== undefined) lastBatch = batch;
    }
    const now = Date.now();
    if (moved) movedAt = now;
    if (now - movedAt >= stallMs) {
      const why = task ? '任务与引擎均无进展' : reachable ? `检索引擎无响应且无 CPU/磁盘活动（进程状态 ${activity?.state ?? '未知'}）` : '检索引擎未运行（连接被拒绝）';
      const secs = stallMs >= 10_000 ? String(Math.round(stallMs / 1000)) : (stallMs / 1000).toFixed(1);
      throw new ApplianceError(
        'SEARCH_UNAVAILABLE',
        `检索服务 ${secs} 秒内没有推进索引任务（${what}，任务 ${taskUid}）：${why}。任务仍在检索服务队列中；请查看设备状态（检索引擎卡死时会被自动重启）后重试。`,
        `meilisearch task ${taskUid} (${what}) made no progress for ${stallMs} ms: ${task ? `task ${task.status}, engine idle` : reachable ? 'engine not answering and not using CPU' : 'engine not running'}`,
        { status: 503, details: { reason: 'task-stalled', taskUid, stalledMs: now - movedAt, engineState: activity?.state } },
      );
    }
    await new Promise((r) => setTimeout(r, interval));
    interval = Math.min(maxIntervalMs, Math.round(interval * 1.5));
  }
}

/**
 * `work` (an index update), or SEARCH_UNAVAILABLE once `deadlineMs` has passed without Meilisearch
 * confirming it (stopped, restarting, overloaded): a caller that must not go on unconfirmed (a
 * narrowing edit) gets an answer instead of waiting out the client's minute-long timeouts. The
 * work goes on and settles after the deadline too; its failure is then already answered.
 */
export async function confirmedWithin<T>(work: Promise<T>, deadlineMs: number | undefined, zh: string, en: string): Promise<T> {
  if (!deadlineMs) return work;
  work.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new ApplianceError('SEARCH_UNAVAILABLE', `检索服务在 ${Math.round(deadlineMs / 1000)} 秒内未确认${zh}，请稍后重试或查看设备状态。`, `${en}: not confirmed within ${deadlineMs} ms`, {
            status: 503,
          }),
        ),
      deadlineMs,
    );
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
