import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Meilisearch } from 'meilisearch';
import { adminClient, runTask, waitTask } from '../../search/meili-admin.ts';
import { startMeili, rng, type MeiliHandle } from './support.ts';

/** Chinese text the engine has to work on: random characters make many distinct words. */
function docs(n: number, chars: number, seed: number): Array<{ id: number; title: string; body: string }> {
  const alphabet = '档案管理工作机关单位文件资料年度保管期限全宗机构问题代码件号题名责任者日期密级岗位查阅通知报告请示批复会议纪要';
  const r = rng(seed);
  const text = (len: number) => Array.from({ length: len }, () => alphabet[Math.floor(r() * alphabet.length)]).join('');
  return Array.from({ length: n }, (_, i) => ({ id: i, title: text(16), body: text(chars) }));
}

describe('waiting for a Meilisearch task: as long as it progresses, not a fixed time (real Meilisearch)', () => {
  let meili: MeiliHandle;
  let admin: Meilisearch;
  let pid: number;
  beforeAll(async () => {
    meili = await startMeili();
    admin = adminClient(meili.conn);
    pid = meili.conn.pid!()!;
    await runTask(admin, 'create', () => admin.createIndex('work', { primaryKey: 'id' }));
  });
  afterAll(async () => {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      /* gone */
    }
    await meili?.stop();
  });

  it('survives a task that takes longer than the bound: the wait is on progress, not on time', async () => {
    const stallMs = 1_500;
    const enqueued = await admin.index('work').addDocuments(docs(6_000, 200, 1));
    // The old kind of wait, a fixed time of the same length, gives up on this task ...
    const fixed = admin.tasks.waitForTask(enqueued.taskUid, { timeout: stallMs, interval: 25 }).then(
      (t) => t,
      (e: unknown) => e,
    );
    // ... while the progress-bound wait sees it through.
    const task = await waitTask(admin, 'big batch', enqueued, { stallMs, pollTimeoutMs: 500, maxIntervalMs: 50 });
    expect(await fixed).toMatchObject({ name: 'MeilisearchTaskTimeOutError' });
    expect(task).toMatchObject({ status: 'succeeded', details: { indexedDocuments: 6_000 } });
  });

  it('rides out a short stop of the engine (shorter than the bound)', async () => {
    const enqueued = await admin.index('work').addDocuments(docs(300, 200, 2));
    process.kill(pid, 'SIGSTOP');
    const waiting = waitTask(admin, 'during a short stop', enqueued, { stallMs: 20_000, pollTimeoutMs: 300, maxIntervalMs: 100 });
    await new Promise((r) => setTimeout(r, 1_000));
    process.kill(pid, 'SIGCONT');
    await expect(waiting).resolves.toMatchObject({ status: 'succeeded' });
  });

  it('fails with SEARCH_UNAVAILABLE when the engine is stopped past the bound; the task is not lost', async () => {
    const enqueued = await admin.index('work').addDocuments(docs(2_000, 200, 3));
    process.kill(pid, 'SIGSTOP');
    let err: unknown;
    try {
      err = await waitTask(admin, 'while stopped', enqueued, { stallMs: 1_500, pollTimeoutMs: 300, maxIntervalMs: 100 }).catch((e: unknown) => e);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    expect(err).toMatchObject({ code: 'SEARCH_UNAVAILABLE', status: 503, details: { reason: 'task-stalled', taskUid: enqueued.taskUid, engineState: 'T' } });
    expect((err as { zh: string }).zh).toContain('没有推进索引任务');
    // Once the engine runs again the same task completes.
    await expect(waitTask(admin, 'after the stop', enqueued)).resolves.toMatchObject({ status: 'succeeded' });
  });

  it('fails with SEARCH_UNAVAILABLE when nothing listens, and a refused task still fails as SEARCH_TASK_FAILED', async () => {
    const gone = adminClient({ host: 'http://127.0.0.1:1', apiKey: 'x' });
    await expect(waitTask(gone, 'nobody there', { taskUid: 1 } as never, { stallMs: 300 })).rejects.toMatchObject({ code: 'SEARCH_UNAVAILABLE', details: { reason: 'task-stalled' } });
    await expect(runTask(admin, 'bad doc', () => admin.index('work').addDocuments([{ title: 'no id' } as never]))).rejects.toMatchObject({ code: 'SEARCH_TASK_FAILED' });
  });
});
