import { appendFile, readFile, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argon2Hasher } from '../../security/index.ts';
import { loadGroundTruth, type MeiliHandle } from '../search/support.ts';
import { Client, GOOD_PASSWORD } from '../security/support.ts';
import { startSearchApp, type SearchApp } from './search-app.ts';

// GET /api/search on the real koa app, a real Meilisearch and the real audit trail: no answer
// without its record, and a search that fails is recorded as failed.
let app: SearchApp;
let m: MeiliHandle;
let base: string;
let auditFile: string;
const searches = async () =>
  (await readFile(auditFile, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { action: string; actor: string; outcome: string; details: Record<string, unknown> })
    .filter((r) => r.action === 'item.search');

beforeAll(async () => {
  app = await startSearchApp(
    'archive-search-route-',
    loadGroundTruth(() => ['BGS']),
  );
  m = app.m; // the last test stops Meilisearch itself
  base = app.base;
  await app.sec.identity.createPost({ code: 'BGS', name: '办公室' });
  await app.sec.identity.createUser({ username: 'zhang', roles: ['staff'], posts: ['BGS'], clearance: '内部', passwordHash: await argon2Hasher.hash(GOOD_PASSWORD), mustChangePassword: false });
  auditFile = join(m.dir, 'audit', `audit-${new Date().getFullYear()}.jsonl`);
}, 60_000);

afterAll(async () => {
  await app?.stop();
});

describe('GET /api/search and its audit record', () => {
  it('answers with the hits and records who searched what and how many were found; a refused query is recorded as failed', async () => {
    const c = new Client(base);
    expect((await c.login('zhang')).status).toBe(200);
    const r = await c.get(`/api/search?q=${encodeURIComponent('机构编制')}&limit=5`);
    expect(r.status).toBe(200);
    expect(r.body.total).toBeGreaterThan(0);
    expect(r.body.items[0].snippet).toContain('<mark>');
    const recs = await searches();
    expect(recs.at(-1)).toMatchObject({ actor: 'zhang', outcome: 'success', details: { q: '机构编制', total: r.body.total } });

    const bad = await c.get(`/api/search?q=${encodeURIComponent('机')}`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/至少需要两个字/);
    expect((await searches()).slice(recs.length)).toMatchObject([{ outcome: 'failure', details: { q: '机', error: 'SEARCH_BAD_PARAMS' } }]);
  });

  it('the exact count of a long term is asked with exact=1 and recorded so', async () => {
    const c = new Client(base);
    await c.login('zhang');
    const r = await c.get(`/api/search?q=${encodeURIComponent('机构编制委员会')}&exact=1`);
    expect(r.status).toBe(200);
    expect(r.body.total).toBeGreaterThan(0);
    expect(r.body.approximate).toBeUndefined();
    expect((await searches()).at(-1)).toMatchObject({ outcome: 'success', details: { q: '机构编制委员会', exact: true, total: r.body.total } });
    // Anything else than 1 is the default, and not recorded as asked.
    await c.get(`/api/search?q=${encodeURIComponent('机构编制委员会')}&exact=yes`);
    expect((await searches()).at(-1)?.details.exact).toBeUndefined();
  });

  it('no answer when the record cannot be written (fail closed), and the trail is whole again after', async () => {
    const c = new Client(base);
    await c.login('zhang');
    const before = await searches();
    // A half-written last line: the audit log refuses to continue the chain from it.
    const size = (await stat(auditFile)).size;
    await appendFile(auditFile, '{"seq":');
    const r = await c.get(`/api/search?q=${encodeURIComponent('机构编制')}`);
    expect(r.status).toBe(503);
    expect(r.body.items).toBeUndefined();
    expect(r.body.error.message).toMatch(/审计/);
    await truncate(auditFile, size);
    expect((await c.get(`/api/search?q=${encodeURIComponent('机构编制')}`)).status).toBe(200);
    expect(await searches()).toHaveLength(before.length + 1);
  });

  it('a search Meilisearch cannot answer is recorded as failed', async () => {
    const c = new Client(base);
    await c.login('zhang');
    await m.stop();
    const r = await c.get(`/api/search?q=${encodeURIComponent('档案')}`);
    expect(r.status).toBe(503);
    expect(r.body.error.message).toMatch(/检索服务不可用/);
    expect((await searches()).at(-1)).toMatchObject({ outcome: 'failure', details: { q: '档案', error: 'SEARCH_UNAVAILABLE' } });
  });
});
