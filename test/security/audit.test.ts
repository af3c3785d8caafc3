import { spawn, spawnSync } from 'node:child_process';
import { cp, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog, verifyAudit, type AuditRecord } from '../../security/index.ts';
import { CLI, ROOT, cleanup, tempDir } from '../support/appliance.ts';

// head.json after every batch, as before HEAD_DELAY_MS: these tests cut records right after appending.
const AT_ONCE = { headDelayMs: 0, sealIntervalMs: 3_600_000 };
const entry = (i: number) => ({ actor: `u${i}`, role: 'staff', source: '127.0.0.1', action: 'item.view', target: `item-${i}`, outcome: 'success' as const, details: { page: i } });

async function lines(dir: string, file = `audit-${new Date().getFullYear()}.jsonl`): Promise<string[]> {
  return (await readFile(join(dir, file), 'utf8')).split('\n').filter(Boolean);
}

async function rewrite(dir: string, fn: (l: string[]) => string[], file = `audit-${new Date().getFullYear()}.jsonl`): Promise<void> {
  await writeFile(
    join(dir, file),
    fn(await lines(dir, file))
      .map((l) => `${l}\n`)
      .join(''),
  );
}

describe('audit trail', () => {
  let root: string;
  let pristine: string;
  beforeAll(async () => {
    root = await tempDir('archive-audit-');
    pristine = join(root, 'pristine');
    const log = new AuditLog(pristine, AT_ONCE);
    await mkdir(pristine, { recursive: true });
    await Promise.all(Array.from({ length: 10 }, (_, i) => log.append(entry(i + 1))));
  });
  afterAll(() => cleanup(root));

  let n = 0;
  async function copy(): Promise<string> {
    const d = join(root, `case-${n++}`);
    await cp(pristine, d, { recursive: true });
    return d;
  }

  it('chains records with SHA-256 and proves the chain', async () => {
    const recs = (await lines(pristine)).map((l) => JSON.parse(l) as AuditRecord);
    expect(recs.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(recs[0].prev).toBe('0'.repeat(64));
    for (let i = 1; i < recs.length; i++) expect(recs[i].prev).toBe(recs[i - 1].hash);
    expect(Object.keys(recs[0])).toEqual(['seq', 'time', 'actor', 'role', 'source', 'action', 'target', 'outcome', 'details', 'prev', 'hash']);
    const v = await verifyAudit(pristine);
    expect(v).toMatchObject({ ok: true, records: 10, head: { seq: 10, hash: recs[9].hash } });
    expect((await new AuditLog(pristine, AT_ONCE).head()).hash).toBe(recs[9].hash);
  });

  const cases: Array<[string, (l: string[]) => string[], { seq: number; line: number; kind: string }]> = [
    ['editing a record', (l) => l.map((x, i) => (i === 4 ? x.replace('"item-5"', '"item-X"') : x)), { seq: 5, line: 5, kind: 'edited' }],
    ['editing the outcome of a record', (l) => l.map((x, i) => (i === 4 ? x.replace('"outcome":"success"', '"outcome":"failure"') : x)), { seq: 5, line: 5, kind: 'edited' }],
    ['deleting a record', (l) => l.filter((_, i) => i !== 3), { seq: 4, line: 4, kind: 'deleted' }],
    ['deleting the first record', (l) => l.slice(1), { seq: 1, line: 1, kind: 'deleted' }],
    ['deleting the last record', (l) => l.slice(0, -1), { seq: 10, line: 10, kind: 'truncated' }],
    ['swapping two records', (l) => [...l.slice(0, 2), l[3], l[2], ...l.slice(4)], { seq: 3, line: 3, kind: 'reordered' }],
    ['moving a record to the end', (l) => [...l.slice(0, 6), ...l.slice(7), l[6]], { seq: 7, line: 7, kind: 'reordered' }],
    ['inserting a copy of a record', (l) => [...l.slice(0, 6), l[2], ...l.slice(6)], { seq: 3, line: 7, kind: 'inserted' }],
    ['inserting a garbage line', (l) => [...l.slice(0, 2), 'not json', ...l.slice(2)], { seq: 3, line: 3, kind: 'unparseable' }],
  ];
  for (const [what, fn, want] of cases) {
    it(`${what} is detected and named`, async () => {
      const d = await copy();
      await rewrite(d, fn);
      const v = await verifyAudit(d);
      expect(v.ok).toBe(false);
      expect(v.firstBroken).toMatchObject({ ...want, file: `audit-${new Date().getFullYear()}.jsonl` });
      expect(v.firstBroken!.zh).toContain(`记录 ${want.seq}`);
    });
  }

  it('an edit with a re-computed hash breaks the next link', async () => {
    const { recordHash } = await import('../../security/audit-record.ts');
    const d = await copy();
    await rewrite(d, (l) =>
      l.map((x, i) => {
        if (i !== 4) return x;
        const r = JSON.parse(x) as AuditRecord;
        r.target = 'forged';
        r.hash = recordHash(r);
        return JSON.stringify(r);
      }),
    );
    const v = await verifyAudit(d);
    expect(v.firstBroken).toMatchObject({ seq: 6, line: 6, kind: 'chain' });
  });

  it('appending after the end was cut keeps the gap visible', async () => {
    const d = await copy();
    await rewrite(d, (l) => l.slice(0, 8));
    await new AuditLog(d, AT_ONCE).append(entry(99));
    const v = await verifyAudit(d);
    expect(v.firstBroken).toMatchObject({ seq: 9, kind: 'deleted' });
  });

  it('head.json follows a burst of records within HEAD_DELAY_MS, and still pins the record it names', async () => {
    const { readHead } = await import('../../security/audit-log.ts');
    const { recordHash } = await import('../../security/audit-record.ts');
    const d = join(root, 'head-delay');
    await mkdir(d);
    const log = new AuditLog(d, { headDelayMs: 300 });
    await log.append(entry(1)); // the first batch writes head.json at once (after answering)
    await log.head(); // the lock: that write is done
    expect((await readHead(d))?.seq).toBe(1);
    await log.append(entry(2));
    await log.append(entry(3));
    await log.head();
    expect((await readHead(d))?.seq).toBe(1); // not yet: the records stand on the chain
    expect(await verifyAudit(d)).toMatchObject({ ok: true, records: 3 });
    // A forger who replaces record 1 and re-computes the chain after it is caught by the head.
    const forged = join(root, 'head-delay-forged');
    await cp(d, forged, { recursive: true });
    await rewrite(forged, (l) => {
      let prev = '0'.repeat(64);
      return l.map((x) => {
        const r = JSON.parse(x) as AuditRecord;
        if (r.seq === 1) r.target = 'forged';
        r.prev = prev;
        r.hash = recordHash(r);
        prev = r.hash;
        return JSON.stringify(r);
      });
    });
    expect((await verifyAudit(forged)).firstBroken).toMatchObject({ seq: 1, kind: 'head-mismatch' });
    // The timer brings head.json up to the last record.
    const until = Date.now() + 5_000;
    while ((await readHead(d))?.seq !== 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(await readHead(d)).toMatchObject({ seq: 3, hash: (JSON.parse((await lines(d))[2]) as AuditRecord).hash });
    await rewrite(d, (l) => l.slice(0, 2));
    expect((await verifyAudit(d)).firstBroken).toMatchObject({ seq: 3, kind: 'truncated' });
  });

  it('settle() brings head.json up at once and leaves nothing in flight', async () => {
    const { readHead } = await import('../../security/audit-log.ts');
    const d = join(root, 'head-settle');
    await mkdir(d);
    const log = new AuditLog(d, { headDelayMs: 60_000 });
    await log.append(entry(1));
    await log.settle();
    expect((await readHead(d))?.seq).toBe(1);
    await log.append(entry(2));
    const third = log.append(entry(3));
    await log.settle(); // waits for the queued record too, then writes the head the timer owed
    await third;
    expect((await readHead(d))?.seq).toBe(3);
    expect((await readdir(d)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(await verifyAudit(d)).toMatchObject({ ok: true, records: 3 });
  });

  it('an instance that keeps its tail in memory still sees appends, cuts and rotation by others', async () => {
    const d = join(root, 'two-instances');
    await mkdir(d);
    const a = new AuditLog(d, AT_ONCE);
    const b = new AuditLog(d, AT_ONCE);
    await a.append(entry(1));
    await a.append(entry(2));
    await b.append(entry(3)); // another process's append between two of a's
    await a.append(entry(4));
    await b.append(entry(5));
    await b.append(entry(6));
    await a.append(entry(7));
    expect(await verifyAudit(d)).toMatchObject({ ok: true, records: 7 });
    expect((await lines(d)).map((l) => (JSON.parse(l) as AuditRecord).actor)).toEqual(['u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7']);
    // Records cut from the end behind a's back: a continues from head.json, the gap stays visible.
    await rewrite(d, (l) => l.slice(0, 5));
    await a.append(entry(8));
    expect((await verifyAudit(d)).firstBroken).toMatchObject({ seq: 6, kind: 'deleted' });
    // A newer year's file started by another instance: a follows it there.
    const e = join(root, 'two-instances-rotation');
    await mkdir(e);
    let now = new Date('2026-12-31T23:59:58');
    const c = new AuditLog(e, { now: () => now, ...AT_ONCE });
    await c.append(entry(1));
    now = new Date('2027-01-01T00:00:01');
    await new AuditLog(e, { now: () => now, ...AT_ONCE }).append(entry(2));
    now = new Date('2026-12-31T23:59:59');
    await c.append(entry(3));
    expect(await verifyAudit(e)).toMatchObject({ ok: true, records: 3, files: ['audit-2026.jsonl', 'audit-2027.jsonl'] });
    expect(await lines(e, 'audit-2027.jsonl')).toHaveLength(2);
  });

  it('when head.json is lost, appends fail closed instead of rebuilding it; resume continues as a recorded act', async () => {
    const d = join(root, 'head-blocked');
    await mkdir(d);
    const log = new AuditLog(d, AT_ONCE);
    await log.append(entry(1));
    await log.head(); // head.json follows the append in the same lock hold
    const { rm } = await import('node:fs/promises');
    await rm(join(d, 'head.json'));
    await mkdir(join(d, 'head.json')); // unreadable, and rename over a directory fails
    await expect(log.append(entry(2))).rejects.toMatchObject({ code: 'AUDIT_HEAD_MISSING' });
    await rm(join(d, 'head.json'), { recursive: true });
    // Gone: still refused (the next append used to rebuild it and hide a cut end).
    await expect(new AuditLog(d, AT_ONCE).append(entry(3))).rejects.toMatchObject({ code: 'AUDIT_HEAD_MISSING' });
    expect(await lines(d)).toHaveLength(1);
    expect((await verifyAudit(d)).firstBroken).toMatchObject({ kind: 'head-missing' });
    const rec = await log.resume({ actor: 'console', role: 'console', source: 'console:test', action: 'audit.resume', target: 'audit', outcome: 'success' });
    expect(rec.details).toMatchObject({ headRebuilt: true });
    await log.append(entry(4));
    expect(await verifyAudit(d)).toMatchObject({ ok: true, records: 3, head: { seq: 3 } });
  });

  it('rotates by year without breaking the chain, and never back to an older year', async () => {
    const d = join(root, 'rotation');
    let now = new Date('2026-12-31T23:59:58');
    const log = new AuditLog(d, { now: () => now, ...AT_ONCE });
    await mkdir(d);
    await log.append(entry(1));
    await log.append(entry(2));
    now = new Date('2027-01-01T00:00:01');
    await log.append(entry(3));
    now = new Date('2026-12-31T23:00:00'); // clock stepped back
    await log.append(entry(4));
    const y26 = await lines(d, 'audit-2026.jsonl');
    const y27 = await lines(d, 'audit-2027.jsonl');
    expect(y26).toHaveLength(2);
    expect(y27).toHaveLength(2);
    expect(JSON.parse(y27[0]).prev).toBe(JSON.parse(y26[1]).hash);
    expect(await verifyAudit(d)).toMatchObject({ ok: true, records: 4, files: ['audit-2026.jsonl', 'audit-2027.jsonl'] });
    // Deleting the last record of the older file is still seen.
    await rewrite(d, (l) => l.slice(0, 1), 'audit-2026.jsonl');
    expect((await verifyAudit(d)).firstBroken).toMatchObject({ seq: 2, file: 'audit-2027.jsonl', line: 1, kind: 'deleted' });
  });

  it('two processes and this one append to the same dir at once: one unbroken chain, nothing lost', async () => {
    const d = join(root, 'concurrent');
    await mkdir(d);
    const worker = join(ROOT, 'test/security/append-worker.ts');
    const run = (who: string) => new Promise<number | null>((r) => spawn(process.execPath, ['--import', 'tsx', worker, d, '150', who], { cwd: ROOT, stdio: 'inherit' }).once('exit', r));
    const log = new AuditLog(d, AT_ONCE);
    const [a, b] = await Promise.all([run('child-a'), run('child-b'), Promise.all(Array.from({ length: 150 }, (_, i) => log.append(entry(i))))]);
    expect([a, b]).toEqual([0, 0]);
    const v = await verifyAudit(d);
    expect(v).toMatchObject({ ok: true, records: 450 });
    const recs = (await lines(d)).map((l) => JSON.parse(l) as AuditRecord);
    expect(recs.filter((r) => r.actor === 'child-a')).toHaveLength(150);
  });

  it('verify beside live appends never reports a half-written line', async () => {
    const d = join(root, 'live');
    await mkdir(d);
    const log = new AuditLog(d, AT_ONCE);
    let done = false;
    const writing = (async () => {
      for (let i = 0; i < 40; i++) await Promise.all(Array.from({ length: 10 }, (_, j) => log.append(entry(i * 10 + j))));
      done = true;
    })();
    let checks = 0;
    while (!done) {
      const v = await verifyAudit(d);
      expect(v.firstBroken).toBeUndefined();
      checks++;
    }
    await writing;
    expect(checks).toBeGreaterThan(1);
    expect(await verifyAudit(d)).toMatchObject({ ok: true, records: 400 });
  });

  it('a lock left by a dead process is taken over', async () => {
    const d = await copy();
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    await writeFile(join(d, '.lock'), `${dead}\n${(await import('node:os')).hostname()}\n`);
    await new AuditLog(d, AT_ONCE).append(entry(11));
    expect((await verifyAudit(d)).records).toBe(11);
  });

  it('`archive audit verify` fails and names the broken record; `archive audit export` filters by time', async () => {
    const dataDir = join(root, 'cli');
    await mkdir(join(dataDir, 'audit'), { recursive: true });
    await cp(pristine, join(dataDir, 'audit'), { recursive: true });
    const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, ARCHIVE_DATA_DIR: dataDir }, encoding: 'utf8' });
    const ok = cli('audit', 'verify');
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('审计链完整：10 条记录');
    const today = new Date().toLocaleDateString('sv-SE');
    const ex = cli('audit', 'export', '--from', today, '--to', today);
    expect(ex.status).toBe(0);
    const exported = ex.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditRecord);
    expect(exported.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]); // 11 = the verify above
    expect(cli('audit', 'export', '--from', '2001-01-01', '--to', '2001-12-31').stdout).toBe('');
    await rewrite(join(dataDir, 'audit'), (l) => l.map((x, i) => (i === 6 ? x.replace('"actor":"u7"', '"actor":"u0"') : x)));
    const bad = cli('audit', 'verify');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('第 7 行（记录 7）');
    const j = JSON.parse(cli('--json', 'audit', 'verify').stdout);
    expect(j.firstBroken).toMatchObject({ seq: 7, line: 7, kind: 'edited' });
  });
});
