import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineLiveness } from '../../appliance/meili-liveness.ts';
import { MeiliSupervisor } from '../../appliance/meili-supervisor.ts';
import { ensureDataDir, loadConfig, readProcessActivity, type ProcessActivity } from '../../core/index.ts';
import { adminClient, runTask, waitTask } from '../../search/meili-admin.ts';
import { cleanup, pidAlive, tempDir, waitFor } from '../support/appliance.ts';

interface Line {
  code?: string;
  msg: string;
  pid?: number;
  state?: string;
}

/** A logger whose JSON lines the test reads. */
function capturingLogger(): { log: pino.Logger; lines: Line[] } {
  const lines: Line[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Line);
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

const sample = (cpuTicks: number, state = 'R'): ProcessActivity => ({ pid: 1, cpuTicks, ioBytes: 0, state });

describe('busy or dead: the judgement of one unanswered streak', () => {
  it('keeps a working engine however long it does not answer (up to busyMaxMs), restarts one that does nothing for stuckMs', () => {
    const l = new EngineLiveness({ stuckMs: 100, busyMaxMs: 1_000, activityWindowMs: 0 });
    expect(l.observe(true, sample(0), 0).kind).toBe('ok');
    // Unanswered but using CPU at every check, far past stuckMs.
    let cpu = 0;
    for (let t = 50; t <= 900; t += 50) expect(l.observe(false, sample((cpu += 5)), t).kind).toBe('busy');
    // Then nothing moves: quiet until stuckMs has passed since the last activity, then stuck.
    expect(l.observe(false, sample(cpu, 'S'), 950)).toMatchObject({ kind: 'quiet', quietMs: 50 });
    expect(l.observe(false, sample(cpu, 'S'), 1_000)).toMatchObject({ kind: 'stuck', quietMs: 100, unansweredMs: 950 });
    // An answer ends the streak.
    l.reset();
    expect(l.observe(true, sample(cpu), 2_000).kind).toBe('ok');
    // A stopped process (state T, no CPU): stuck after stuckMs, whatever it did before the streak.
    expect(l.observe(false, sample(cpu + 50, 'T'), 2_050).kind).toBe('busy');
    expect(l.observe(false, sample(cpu + 50, 'T'), 2_100).kind).toBe('quiet');
    expect(l.observe(false, sample(cpu + 50, 'T'), 2_150)).toMatchObject({ kind: 'stuck', state: 'T' });
    // Busy without end: restarted at busyMaxMs.
    l.reset();
    let t = 3_000;
    expect(l.observe(false, sample(0), t).kind).toBe('quiet');
    let v;
    do v = l.observe(false, sample((cpu += 5)), (t += 50));
    while (v.kind === 'busy');
    expect(v).toMatchObject({ kind: 'overdue', unansweredMs: 1_000 });
    // Disk activity alone counts as work; a vanished process (no sample) does not.
    l.reset();
    expect(l.observe(true, { pid: 1, cpuTicks: 0, ioBytes: 10, state: 'D' }, 5_000).kind).toBe('ok');
    expect(l.observe(false, { pid: 1, cpuTicks: 0, ioBytes: 20, state: 'D' }, 5_050).kind).toBe('busy');
    expect(l.observe(false, undefined, 5_100).kind).toBe('quiet');
  });
});

describe('the Meilisearch supervisor tells a busy engine from a dead one (real Meilisearch)', () => {
  let dir: string;
  let sup: MeiliSupervisor;
  const { log, lines } = capturingLogger();
  const codes = () => lines.map((l) => l.code).filter(Boolean);
  const healthy = async (notPid?: number) => {
    const h = await sup.health();
    return h.status === 'ok' && sup.pid !== notPid ? sup.pid : undefined;
  };

  beforeAll(async () => {
    dir = await tempDir('archive-meili-busy-');
    const cfg = loadConfig({ env: { ARCHIVE_DATA_DIR: join(dir, 'data'), ARCHIVE_MEILI_PORT: '0' } });
    await ensureDataDir(cfg.dataDir);
    // Small bounds so the test is quick: checked every 200 ms, restarted after 4 s of no answer and no activity.
    sup = new MeiliSupervisor(cfg, log, { checkIntervalMs: 200, pingTimeoutMs: 500, stuckMs: 4_000, busyMaxMs: 10 * 60_000 });
    await sup.start();
  });
  afterAll(async () => {
    await sup?.stop();
    await cleanup(dir);
  });

  it('/proc shows a working engine working and a stopped one stopped', async () => {
    const pid = sup.pid!;
    const admin = adminClient(sup.connection);
    await runTask(admin, 'create', () => admin.createIndex('busy', { primaryKey: 'id' }));
    const before = await readProcessActivity(pid);
    const body = (i: number) => `第${i}号文件：关于档案管理工作的通知，各单位应按年度整理保管期限表。`.repeat(4);
    await runTask(admin, 'add', () => admin.index('busy').addDocuments(Array.from({ length: 300 }, (_, i) => ({ id: i, body: body(i) }))));
    const after = await readProcessActivity(pid);
    expect(after!.cpuTicks).toBeGreaterThan(before!.cpuTicks);
    expect(after!.ioBytes).toBeGreaterThanOrEqual(before!.ioBytes!);
    process.kill(pid, 'SIGSTOP');
    try {
      const stopped = await waitFor(async () => ((await readProcessActivity(pid))?.state === 'T' ? readProcessActivity(pid) : undefined), 10_000, 'stopped state');
      const later = await readProcessActivity(pid);
      expect(later).toMatchObject({ state: 'T', cpuTicks: stopped!.cpuTicks, ioBytes: stopped!.ioBytes });
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await waitFor(() => healthy(), 30_000, 'answering again');
  });

  it('a Meilisearch stopped for less than the bound is not restarted', async () => {
    const pid = sup.pid!;
    const seen = lines.length;
    process.kill(pid, 'SIGSTOP');
    try {
      // The supervisor has noticed: its checks go unanswered (and it says so: busy if the engine worked
      // between the last answer and the stop, not answering otherwise).
      await waitFor(async () => (lines.slice(seen).some((l) => l.code === 'MEILI_NOT_ANSWERING' || l.code === 'MEILI_BUSY') ? true : undefined), 30_000, 'the supervisor notices');
      expect((await sup.health()).status).toBe('degraded');
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await waitFor(async () => (lines.slice(seen).some((l) => l.code === 'MEILI_ANSWERING_AGAIN') ? true : undefined), 30_000, 'answering again');
    expect(sup.pid).toBe(pid);
    expect(pidAlive(pid)).toBe(true);
    expect(lines.slice(seen).map((l) => l.code)).not.toContain('MEILI_STUCK');
    expect((await sup.health()).status).toBe('ok');
  });

  it('a Meilisearch stopped past the bound is restarted, and says why', async () => {
    const pid = sup.pid!;
    const seen = lines.length;
    process.kill(pid, 'SIGSTOP');
    const again = await waitFor(() => healthy(pid), 60_000, `restarted (log: ${JSON.stringify(lines.slice(seen))})`);
    expect(again).not.toBe(pid);
    expect(pidAlive(pid)).toBe(false);
    const stuck = lines.slice(seen).find((l) => l.code === 'MEILI_STUCK');
    expect(stuck).toMatchObject({ pid, state: 'T' });
    expect(stuck!.msg).toContain('判定为卡死，正在重启');
    // The data survived: the index made before is still there.
    const admin = adminClient(sup.connection);
    expect((await admin.index('busy').getStats()).numberOfDocuments).toBe(300);
  });

  it('a Meilisearch that is killed is restarted', async () => {
    const pid = sup.pid!;
    process.kill(pid, 'SIGKILL');
    const again = await waitFor(() => healthy(pid), 60_000, 'restarted after kill');
    expect(again).not.toBe(pid);
    expect(codes()).not.toContain('MEILI_BUSY_TOO_LONG');
  });
});

describe('a working engine that answers no health check is left to work (real Meilisearch, real CPU)', () => {
  let dir: string;
  let sup: MeiliSupervisor;
  const { log, lines } = capturingLogger();
  beforeAll(async () => {
    dir = await tempDir('archive-meili-busy2-');
    const cfg = loadConfig({ env: { ARCHIVE_DATA_DIR: join(dir, 'data'), ARCHIVE_MEILI_PORT: '0' } });
    await ensureDataDir(cfg.dataDir);
    // No health check can be answered in 0 ms: the engine is, to the supervisor, as unanswering as
    // one whose HTTP side is starved by indexing. Whether it works is read from /proc, for real.
    sup = new MeiliSupervisor(cfg, log, { checkIntervalMs: 200, pingTimeoutMs: 0, stuckMs: 2_500, busyMaxMs: 10 * 60_000 });
    await sup.start();
  });
  afterAll(async () => {
    await sup?.stop();
    await cleanup(dir);
  });

  it('is not restarted while it indexes, however long past stuckMs; once idle and still unanswered it is', async () => {
    const pid = sup.pid!;
    const admin = adminClient(sup.connection);
    await runTask(admin, 'create', () => admin.createIndex('work', { primaryKey: 'id' }));
    const alphabet = '档案管理工作机关单位文件资料年度保管期限全宗机构问题代码件号题名责任者日期密级岗位查阅通知报告请示批复会议纪要';
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const text = (n: number) => Array.from({ length: n }, () => alphabet[Math.floor(next() * alphabet.length)]).join('');
    const enqueued = await admin.index('work').addDocuments(Array.from({ length: 8_000 }, (_, i) => ({ id: i, body: text(200) })));
    // The premise: the batch outlasts stuckMs (a fixed wait of that length gives up on it).
    const fixed = admin.tasks.waitForTask(enqueued.taskUid, { timeout: 2_500, interval: 25 }).then(
      (t) => t,
      (e: unknown) => e,
    );
    const task = await waitTask(admin, 'big batch', enqueued);
    expect(await fixed).toMatchObject({ name: 'MeilisearchTaskTimeOutError' });
    expect(task.status).toBe('succeeded');
    // All that time unanswered, but busy: the same process, said to be busy, never called stuck.
    expect(sup.pid).toBe(pid);
    expect(lines.map((l) => l.code)).toContain('MEILI_BUSY');
    expect(lines.map((l) => l.code)).not.toContain('MEILI_STUCK');
    // Idle now and still not answering in time: after stuckMs without activity it is restarted.
    await waitFor(async () => (sup.pid !== undefined && sup.pid !== pid ? true : undefined), 60_000, 'restart of the idle, unanswering engine');
    expect(lines.find((l) => l.code === 'MEILI_STUCK')).toMatchObject({ pid });
  });
});
