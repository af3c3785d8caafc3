import { Meilisearch, MeilisearchApiError, type EnqueuedTask, type EnqueuedTaskPromise, type Settings, type Task } from 'meilisearch';
import { type MeiliConnection, ApplianceError, isApplianceError } from '../core/index.ts';
import { rememberEnginePid, waitForTaskProgress, type TaskWaitOptions } from './task-wait.ts';

/** An admin client with the master key (server side only; never used for a person's query). */
export function adminClient(conn: MeiliConnection): Meilisearch {
  const client = new Meilisearch({ host: conn.host, apiKey: conn.apiKey, timeout: 60_000 });
  rememberEnginePid(client, conn.pid);
  return client;
}

/** Any failure talking to Meilisearch, as an error a person can act on. */
export function meiliError(e: unknown, what: string): ApplianceError {
  if (isApplianceError(e)) return e;
  if (e instanceof MeilisearchApiError) {
    const code = e.cause?.code ?? 'unknown';
    return new ApplianceError('SEARCH_REJECTED', `检索服务拒绝了请求（${what}）：${code}`, `meilisearch rejected ${what}: ${e.message}`, { status: 502, details: { meiliCode: code }, cause: e });
  }
  return new ApplianceError('SEARCH_UNAVAILABLE', `检索服务不可用（${what}），请稍后重试或查看设备状态。`, `meilisearch unavailable during ${what}: ${(e as Error)?.message ?? String(e)}`, {
    status: 503,
    cause: e,
  });
}

/**
 * Enqueue, wait for the task, and turn a failed task into an ApplianceError. The wait lasts as long
 * as the task or the engine makes progress (task-wait.ts); SEARCH_UNAVAILABLE once nothing moved for
 * `opts.stallMs`.
 */
export async function runTask(client: Meilisearch, what: string, enqueue: () => EnqueuedTaskPromise, opts: TaskWaitOptions = {}): Promise<Task> {
  let enqueued: EnqueuedTask;
  try {
    enqueued = await enqueue();
  } catch (e) {
    throw meiliError(e, what);
  }
  return waitTask(client, what, enqueued, opts);
}

/** Wait for an already enqueued task (as long as it progresses); a failed task becomes an ApplianceError. */
export async function waitTask(client: Meilisearch, what: string, enqueued: EnqueuedTask, opts: TaskWaitOptions = {}): Promise<Task> {
  let task: Task;
  try {
    task = await waitForTaskProgress(client, enqueued.taskUid, what, opts);
  } catch (e) {
    throw meiliError(e, what);
  }
  return checked(what, task);
}

function checked(what: string, task: Task): Task {
  if (task.status !== 'succeeded') {
    const err = task.error;
    throw new ApplianceError('SEARCH_TASK_FAILED', `检索索引任务失败（${what}）：${err?.message ?? task.status}`, `meilisearch task ${task.uid} (${what}) ${task.status}: ${err?.message ?? ''}`, {
      status: 500,
      details: { taskUid: task.uid, meiliCode: err?.code, status: task.status },
    });
  }
  return task;
}

/** Create index `uid` if it is missing and apply its settings (idempotent). */
export async function ensureIndex(client: Meilisearch, uid: string, settings: Settings): Promise<void> {
  try {
    await client.getIndex(uid);
  } catch (e) {
    if ((e as { cause?: { code?: string } }).cause?.code !== 'index_not_found') throw meiliError(e, `open index ${uid}`);
    await runTask(client, `create index ${uid}`, () => client.createIndex(uid, { primaryKey: 'id' }));
  }
  await runTask(client, `settings of ${uid}`, () => client.index(uid).updateSettings(settings));
}
