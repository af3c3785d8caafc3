import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig, type Config } from '../../core/config.ts';
import { createLogger } from '../../core/log.ts';
import { InboxWatcher } from '../../ingest/inbox.ts';
import { JobStore, type Job } from '../../ingest/index.ts';
import { planIntake, submitIntake, submitPaths } from '../../ingest/service.ts';
import { AuditLog, type AuditRecord } from '../../security/index.ts';
import { cleanup, runCli, tempDir } from '../support/appliance.ts';

/**
 * Issue 17.4: nothing enters by a link. At every door (a folder or a path named on the command
 * line, the hot folder, a CSV row and the folder it names) a link to another item's original and
 * to /etc is refused by name (relative to the batch root), on record, and the rest of the batch is
 * kept. The check is made on the file actually opened, so a file swapped for a link between
 * planning and copying is refused as well.
 */
const actor = { name: 'console', role: 'console', source: 'console:test' };
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

describe('links and special files are refused at every door', () => {
  let dir: string;
  let data: string;
  let cfg: Config;
  let jobs: JobStore;
  let audit: AuditLog;
  let secret: string;
  const SECRET = Buffer.from('II*\0 another post’s original: 机密内容 J012-2014-Y-BGS-0042');

  beforeAll(async () => {
    dir = await tempDir('archive-doors-');
    data = join(dir, 'data');
    cfg = { ...defaultConfig(), dataDir: data };
    jobs = new JobStore(data);
    audit = new AuditLog(join(data, 'audit'));
    // Another post's archived original, where an intruder's link would point.
    const orig = join(data, 'items', 'ab', 'ab12cd', 'original');
    await mkdir(orig, { recursive: true });
    secret = join(orig, 'S0042.tif');
    await writeFile(secret, SECRET);
  });
  afterAll(async () => {
    await cleanup(dir);
  });

  async function records(action: string): Promise<AuditRecord[]> {
    await audit.settle();
    const files = (await readdir(join(data, 'audit')).catch(() => [] as string[])).filter((f) => f.endsWith('.jsonl'));
    const lines = (await Promise.all(files.map((f) => readFile(join(data, 'audit', f), 'utf8')))).join('').split('\n').filter(Boolean);
    return lines.map((l) => JSON.parse(l) as AuditRecord).filter((r) => r.action === action);
  }

  /** Every byte the job staged: none of it may be the secret original or a system file. */
  async function stagedHashes(job: Job): Promise<string[]> {
    return job.items.flatMap((i) => i.sources.map((s) => s.sha256));
  }

  async function page(path: string, text: string): Promise<void> {
    await writeFile(path, Buffer.from(`\xff\xd8\xff${text}`, 'latin1'));
  }

  it('CLI folder: links to another item and to /etc, a FIFO and a page folder holding a link are refused; the rest is queued', async () => {
    const b = join(dir, 'cli-batch');
    await mkdir(join(b, 'S0001'), { recursive: true });
    await mkdir(join(b, 'S0002'), { recursive: true });
    await page(join(b, 'S0001', 'page-1.jpg'), 'one');
    await page(join(b, 'S0001', 'page-2.jpg'), 'two');
    await page(join(b, 'S0002', 'page-1.jpg'), 'three');
    await symlink(secret, join(b, 'S0002', 'page-2.jpg'));
    await writeFile(join(b, 'good.tif'), 'II*\0good');
    await symlink(secret, join(b, 'stolen.tif'));
    await symlink('/etc', join(b, 'etc'));
    await symlink('/etc/passwd', join(b, 'passwd.pdf'));
    execFileSync('mkfifo', [join(b, 'pipe.tif')]);

    const before = (await records('ingest.file-refused')).length;
    const job = await submitPaths(cfg, jobs, audit, [b], { actor, via: 'cli', posts: ['ZH'] });
    expect(job.items.map((i) => i.label).sort()).toEqual(['S0001', 'good.tif']);
    const refused = job.problems.map((p) => [p.code, p.path]).sort();
    expect(refused).toEqual([
      ['LINK_REFUSED', 'cli-batch/S0002/page-2.jpg'],
      ['LINK_REFUSED', 'cli-batch/etc'],
      ['LINK_REFUSED', 'cli-batch/passwd.pdf'],
      ['LINK_REFUSED', 'cli-batch/stolen.tif'],
      ['SPECIAL_FILE_REFUSED', 'cli-batch/pipe.tif'],
    ]);
    // Named in Chinese, relative to the batch root: no host path in what archivists see.
    for (const p of job.problems) {
      expect(p.message).toMatch(/已拒绝/);
      expect(p.message).not.toContain(dir);
    }
    const hashes = await stagedHashes(job);
    expect(hashes).not.toContain(sha(SECRET));
    expect(hashes).not.toContain(sha(await readFile('/etc/passwd')));
    const recs = (await records('ingest.file-refused')).slice(before);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ outcome: 'denied', details: { via: 'cli', count: 5 } });
    expect(recs[0].details.files).toEqual(expect.arrayContaining(['cli-batch/stolen.tif', 'cli-batch/etc', 'cli-batch/S0002/page-2.jpg']));
  });

  it('CLI path: a path that is itself a link is refused, the other paths are queued', async () => {
    const b = join(dir, 'cli-paths');
    await mkdir(b, { recursive: true });
    await writeFile(join(b, 'mine.tif'), 'II*\0mine');
    await symlink(secret, join(b, 'theirs.tif'));
    await symlink('/etc/shadow', join(b, 'shadow.tif'));
    const job = await submitPaths(cfg, jobs, audit, [join(b, 'theirs.tif'), join(b, 'mine.tif'), join(b, 'shadow.tif')], { actor, via: 'cli', posts: ['ZH'] });
    expect(job.items.map((i) => i.label)).toEqual(['mine.tif']);
    expect(job.problems.map((p) => [p.code, p.path])).toEqual([
      ['LINK_REFUSED', 'theirs.tif'],
      ['LINK_REFUSED', 'shadow.tif'],
    ]);
    // Only links: nothing to take at all is refused whole, and still on record.
    const before = (await records('ingest.file-refused')).length;
    await expect(submitPaths(cfg, jobs, audit, [join(b, 'theirs.tif')], { actor, via: 'cli', posts: ['ZH'] })).rejects.toMatchObject({ code: 'NOTHING_TO_INGEST' });
    expect((await records('ingest.file-refused')).slice(before)).toMatchObject([{ target: 'theirs.tif', outcome: 'denied' }]);
  });

  it('the archive ingest command itself: a folder of links is refused, each named, on record as the console', async () => {
    const b = join(dir, 'cli-real');
    await mkdir(b, { recursive: true });
    await symlink(secret, join(b, 'theirs.tif'));
    await symlink('/etc', join(b, 'etc'));
    const before = (await records('ingest.file-refused')).length;
    const r = await runCli(['ingest', b, '--posts', 'ZH'], { ARCHIVE_DATA_DIR: data, ARCHIVE_MEILI_PORT: '0', ARCHIVE_LOG_LEVEL: 'error' });
    expect(r.code).not.toBe(0);
    expect(r.err).toContain('NOTHING_TO_INGEST');
    expect(r.err).toContain('已拒绝符号链接：cli-real/theirs.tif');
    expect(r.err).toContain('已拒绝符号链接：cli-real/etc');
    expect(r.err).not.toContain(data);
    expect((await records('ingest.file-refused')).slice(before)).toMatchObject([{ actor: 'console', role: 'console', outcome: 'denied', details: { via: 'cli', count: 2 } }]);
  }, 180_000);

  it('a file or a folder swapped for a link after planning is refused when it is opened; the rest is queued', async () => {
    const b = join(dir, 'race');
    await mkdir(join(b, 'S0009'), { recursive: true });
    await writeFile(join(b, 'a.tif'), 'II*\0a');
    await writeFile(join(b, 'b.tif'), 'II*\0b');
    await page(join(b, 'S0009', 'page-1.jpg'), 'p1');
    const planned = await planIntake([b], { posts: ['ZH'], ceiling: '内部' });
    expect(planned.items.map((i) => i.label).sort()).toEqual(['S0009', 'a.tif', 'b.tif']);
    // The attacker swaps a file, and a folder on the way to a page, for links.
    await rm(join(b, 'a.tif'));
    await symlink(secret, join(b, 'a.tif'));
    await rename(join(b, 'S0009'), join(b, 'S0009-real'));
    // The folder now leads into another item's originals, where page-1.jpg is a regular file: only
    // the check of the opened file's real path catches this one (O_NOFOLLOW looks at the last part).
    const other = join(data, 'items', 'cd', 'cd34ef', 'original');
    await mkdir(other, { recursive: true });
    await writeFile(join(other, 'page-1.jpg'), SECRET);
    await symlink(other, join(b, 'S0009'));
    const before = (await records('ingest.file-refused')).length;
    const job = await submitIntake(jobs, audit, planned.items, { actor, via: 'cli', posts: ['ZH'], problems: planned.problems });
    expect(job.items.map((i) => i.label)).toEqual(['b.tif']);
    expect(job.items.map((i) => i.n)).toEqual([1]);
    expect(job.problems.map((p) => [p.code, p.path]).sort()).toEqual([
      ['LINK_REFUSED', 'race/S0009/page-1.jpg'],
      ['LINK_REFUSED', 'race/a.tif'],
    ]);
    expect(await stagedHashes(job)).not.toContain(sha(SECRET));
    expect((await records('ingest.file-refused')).slice(before)).toMatchObject([{ details: { count: 2 } }]);
  });

  it('CSV rows: a row that is a link, and a row folder holding links, refuse the batch by line; nothing is imported or lost', async () => {
    const b = join(dir, 'csv-batch');
    await mkdir(join(b, 'S0001'), { recursive: true });
    await page(join(b, 'S0001', 'page-1.jpg'), 'x');
    await symlink(secret, join(b, 'S0001', 'page-2.jpg'));
    await symlink('/etc', join(b, 'S0001', 'etc'));
    await writeFile(join(b, 'ok.tif'), 'II*\0ok');
    await symlink(secret, join(b, 'row-link.tif'));
    await writeFile(join(b, '清单.csv'), '文件,题名,岗位\nS0001,甲,ZH\nok.tif,乙,ZH\nrow-link.tif,丙,ZH\n');
    const before = (await records('ingest.file-refused')).length;
    const err = await submitPaths(cfg, jobs, audit, [], { manifest: join(b, '清单.csv'), actor, via: 'cli' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CSV_INVALID' });
    const problems = (err as { details: { problems: Array<{ line: number; code: string; message: string }> } }).details.problems;
    expect(problems.map((p) => [p.line, p.code])).toEqual([
      [2, 'LINK_REFUSED'],
      [2, 'LINK_REFUSED'],
      [4, 'LINK_REFUSED'],
    ]);
    expect(problems.map((p) => p.message).join('\n')).toMatch(/“S0001”中的“page-2\.jpg”是符号链接/);
    expect(problems.map((p) => p.message).join('\n')).not.toContain(dir);
    expect((await records('ingest.file-refused')).slice(before)).toMatchObject([{ outcome: 'denied', details: { count: 3, via: 'cli' } }]);
    // Nothing was taken: the batch is where it was.
    expect((await readdir(b)).sort()).toEqual(['S0001', 'ok.tif', 'row-link.tif', '清单.csv']);
  });

  it('hot folder: the batch is taken without its links, which stay with a report and are not retried; the CSV itself may not be a link', async () => {
    const inbox = join(data, 'inbox');
    await mkdir(join(inbox, 'box', 'S0001'), { recursive: true });
    await page(join(inbox, 'box', 'S0001', 'page-1.jpg'), 'a');
    await writeFile(join(inbox, 'box', 'good.tif'), 'II*\0good');
    await symlink(secret, join(inbox, 'box', 'theirs.tif'));
    await symlink('/etc', join(inbox, 'etc'));
    await writeFile(join(inbox, 'loose.tif'), 'II*\0loose');
    const inboxActor = { name: 'system', role: 'system', source: 'inbox' };
    const taken: Job[] = [];
    // As ingest/service.ts wires it.
    const watcher = new InboxWatcher(
      inbox,
      async (batch) => {
        const files: string[] = [];
        const job = await submitPaths(cfg, jobs, audit, batch.entries, { manifest: batch.manifest, actor: inboxActor, via: 'inbox', posts: ['ZH'], taken: files });
        taken.push(job);
        return { jobId: job.id, taken: files, problems: job.problems };
      },
      createLogger({ level: 'silent' }),
      { settleMs: 500, pollMs: 100 },
    );
    const before = (await records('ingest.file-refused')).length;
    await watcher.tick();
    await new Promise((r) => setTimeout(r, 600));
    await watcher.tick();
    expect(taken).toHaveLength(1);
    expect(taken[0].items.map((i) => i.label).sort()).toEqual(['S0001', 'good.tif', 'loose.tif']);
    expect(taken[0].problems.map((p) => [p.code, p.path]).sort()).toEqual([
      ['LINK_REFUSED', 'box/theirs.tif'],
      ['LINK_REFUSED', 'etc'],
    ]);
    expect((await records('ingest.file-refused')).slice(before)).toMatchObject([{ source: 'inbox', details: { via: 'inbox', count: 2 } }]);
    // What the job holds is gone from the inbox; the links stay, with a report beside them.
    const left = (await readdir(inbox)).sort();
    expect(left.filter((n) => !n.startsWith('导入结果-'))).toEqual(['box', 'etc']);
    expect(await readdir(join(inbox, 'box'))).toEqual(['theirs.tif']);
    const report = await readFile(
      join(
        inbox,
        left.find((n) => n.startsWith('导入结果-'))!,
      ),
      'utf8',
    );
    expect(report).toContain('已拒绝符号链接：box/theirs.tif');
    expect(report).not.toContain(dir);
    // Not retried while nothing changes.
    await new Promise((r) => setTimeout(r, 600));
    await watcher.tick();
    await watcher.tick();
    expect(taken).toHaveLength(1);

    // A manifest that is itself a link: refused whole, the batch stays with a report.
    await rm(join(inbox, 'box'), { recursive: true });
    await rm(join(inbox, 'etc'));
    const outside = join(dir, 'outside.csv');
    await writeFile(outside, '文件\nx.tif\n');
    await writeFile(join(inbox, 'x.tif'), 'II*\0x');
    await symlink(outside, join(inbox, 'm.csv'));
    await watcher.tick();
    await new Promise((r) => setTimeout(r, 600));
    await watcher.tick();
    expect(taken).toHaveLength(1);
    expect((await readdir(inbox)).filter((n) => !n.startsWith('导入结果-')).sort()).toEqual(['m.csv', 'x.tif']);
    expect((await records('ingest.file-refused')).slice(-1)).toMatchObject([{ source: 'inbox', outcome: 'denied' }]);
  });
});
