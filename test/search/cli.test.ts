import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSearchService } from '../../search/index.ts';
import { openSecurity } from '../../security/index.ts';
import { CLI, cleanup, tempDir } from '../support/appliance.ts';
import { loadGroundTruth, startMeili } from './support.ts';

const run = promisify(execFile);
let dir: string;

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [CLI, ...args], { env: { ...process.env, ARCHIVE_DATA_DIR: dir, ARCHIVE_MEILI_PORT: '0' }, timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

beforeAll(async () => {
  dir = await tempDir('archive-search-cli-');
  const m = await startMeili({ dir });
  const svc = createSearchService(m.conn, dir);
  await svc.init();
  const posts: Record<string, string[]> = { S0001: ['P1'], S0002: ['P2'], S0003: ['P1'], S0007: ['P2'] };
  await svc.indexItems(loadGroundTruth((id) => posts[id] ?? ['P1', 'P2']));
  await m.stop();
  const sec = await openSecurity({ dataDir: dir });
  await sec.identity.createPost({ code: 'P1', name: '办公室' });
  await sec.identity.createPost({ code: 'P2', name: '档案室' });
  await sec.identity.createUser({ username: 'alice', roles: ['staff'], posts: ['P1'], clearance: '内部', passwordHash: 'unused', mustChangePassword: false });
  await sec.identity.createUser({ username: 'bob', roles: ['staff'], posts: ['P2'], clearance: '内部', passwordHash: 'unused', mustChangePassword: false });
  await sec.identity.createUser({ username: 'root1', roles: ['sysadmin'], posts: ['P1', 'P2'], clearance: '内部', passwordHash: 'unused', mustChangePassword: false });
});

afterAll(async () => {
  await cleanup(dir);
});

describe('archive search', () => {
  it('prints one JSON line per visible item, best first, as the user sees them', async () => {
    const a = await cli('search', '除湿机', '--user', 'alice', '--json');
    expect(a.stderr).toBe('');
    expect(a.code).toBe(0);
    const lines = a.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.itemId).sort()).toEqual(['S0001', 'S0003']);
    for (const l of lines) {
      expect(Object.keys(l)).toEqual(['itemId', 'archivalCode', 'title', 'pages', 'snippet']);
      expect(l.snippet).toContain('<mark>除湿机</mark>');
      expect(l.pages).toEqual([2]);
    }
    const b = await cli('search', '除湿机', '--user', 'bob', '--json', '--limit', '1');
    expect(
      b.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { itemId: string }).itemId),
    ).toHaveLength(1);
    expect(['S0002', 'S0007']).toContain((JSON.parse(b.stdout) as { itemId: string }).itemId);
    const none = await cli('search', 'J105-2018-D30-JGBZ-0009', '--user', 'alice', '--json');
    expect(none.code).toBe(0);
    expect(none.stdout).toBe('');
    const audit = (await Promise.all((await readdir(join(dir, 'audit'))).map((f) => readFile(join(dir, 'audit', f), 'utf8').catch(() => '')))).join('');
    expect(audit).toContain('item.search');
  });

  it('--exact asks for the exact count of a long term, and the audit record says so', async () => {
    const plainRun = await cli('search', '机构编制委员会', '--user', 'alice');
    const exact = await cli('search', '机构编制委员会', '--user', 'alice', '--exact');
    expect(exact.code).toBe(0);
    expect(exact.stdout).toBe(plainRun.stdout);
    expect(exact.stdout).not.toContain('估计');
    const audit = (await Promise.all((await readdir(join(dir, 'audit'))).map((f) => readFile(join(dir, 'audit', f), 'utf8').catch(() => '')))).join('');
    const last = audit
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { action: string; details?: Record<string, unknown> })
      .filter((r) => r.action === 'item.search')
      .at(-1);
    expect(last?.details).toMatchObject({ q: '机构编制委员会', exact: true });
  });

  it('takes unquoted words as one query: every word must occur', async () => {
    const quoted = await cli('search', '除湿机 档案', '--user', 'alice', '--json');
    const unquoted = await cli('search', '除湿机', '档案', '--user', 'alice', '--json');
    expect(unquoted.code).toBe(0);
    expect(unquoted.stdout).toBe(quoted.stdout);
    expect(unquoted.stdout).not.toBe('');
  });

  it('says where a hit is and what to do when nothing is found', async () => {
    const catalogue = await cli('search', 'J105-2018-D30-JGBZ-0009', '--user', 'bob');
    expect(catalogue.code).toBe(0);
    expect(catalogue.stdout).toContain('命中著录信息');
    expect(catalogue.stdout).not.toContain('第 - 页');
    const none = await cli('search', 'J105-2018-D30-JGBZ-0009', '--user', 'alice');
    expect(none.code).toBe(0);
    expect(none.stdout).toMatch(/^共 0 件。alice 可查阅的档案中没有同时含这些词的/);
  });

  it('says in Chinese what is wrong with the command line', async () => {
    const noUser = await cli('search', '档案');
    expect(noUser.code).toBe(2);
    expect(noUser.stderr).toContain('错误：缺少必需的选项 --user <name>');
    const typo = await cli('serach', '档案');
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('错误：没有命令“serach”');
    expect(typo.stderr).toContain('（是否想输入：search？）');
  });

  it('refuses a user who may not search, or does not exist, with a clear message', async () => {
    const admin = await cli('search', '档案', '--user', 'root1', '--json');
    expect(admin.code).toBe(1);
    expect(JSON.parse(admin.stdout)).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    const ghost = await cli('search', '档案', '--user', 'nobody');
    expect(ghost.code).toBe(1);
    expect(ghost.stderr).toMatch(/USER_UNKNOWN/);
  });

  it('uses the Meilisearch of a running appliance', async () => {
    const m = await startMeili({ dir });
    try {
      const r = await cli('search', '登录地址', '--user', 'alice');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/共 \d+ 件/);
      expect(r.stdout).toContain('【登录地址】');
    } finally {
      await m.stop();
    }
  });
});
