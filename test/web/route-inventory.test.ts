import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '../security/support.ts';
import { startWebAppliance, type WebAppliance } from '../support/web-appliance.ts';

// Issue 17: every read of item content or catalogue data is on the record. This test takes the
// route list from the running app's own router (so a route added tomorrow is in it), calls every
// GET route with a real session against a real appliance that holds an item and a job, and fails
// when a route answers without an audit record — unless the route is on the allow-list below,
// each entry saying why it returns no item data.
const NO_ITEM_DATA: Record<string, string> = {
  '/api/health': 'service status only (no item, no count of items)',
  '/api/auth/csrf': 'sets the CSRF cookie; no data',
  '/api/auth/me': "the caller's own account",
  '/api/auth/setup': 'whether first-start setup is pending',
  '/api/admin/users': 'accounts (roles, posts, clearances); no item data — account changes are audited where made',
  '/api/admin/posts': 'the post registry; no item data',
  '/api/admin/backups': 'backup records: sizes and an item count, no item id, 档号 or title',
  '/api/admin/backups/task': 'the state of a running backup (bytes, files)',
  '/api/signatures': 'ClamAV signature versions',
  '/api/health/details': 'component health for the sysadmin and secadmin (refusals to others are audited); no item data',
  '/api/auth/alive': "whether the caller's own session still lives",
  '/api/admin/backups/keys': "backup recipients' public keys, the signer and the schedule",
  '/api/security/backup-recipients': "backup recipients' public keys",
  '/api/admin/departments': 'the 机构 code → name table (configuration, no item)',
  '/api/ingest/csv-template': 'the empty CSV template with its example row',
};
/** Pages and client assets (the app shell, scripts, styles, fonts): the same bytes for everyone. */
const isAsset = (path: string) => !path.startsWith('/api/');

let w: WebAppliance;
let itemId: string;
let jobId: string;
const clients: Record<string, Client> = {};

beforeAll(async () => {
  w = await startWebAppliance({ posts: ['BGS'] });
  await w.addUser('dangan', ['archivist'], { posts: ['BGS'], clearance: '内部' });
  await w.addUser('chayue', ['staff'], { posts: ['BGS'], clearance: '内部' });
  await w.addUser('xitong', ['sysadmin']);
  await w.addUser('anquan', ['secadmin']);
  await w.addUser('shenji', ['auditor']);
  const item = await w.putItem({ meta: { archivalCode: 'J012-2014-Y-BGS-0042', title: '关于库房温湿度检查的通知', posts: ['BGS'], classification: '内部' } });
  itemId = item.itemId;
  // A job (not run: its journal is what the routes read).
  const file = join(w.dir, '扫描件.jpg');
  await writeFile(file, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]));
  jobId = (await w.ingest.submit([file], { posts: ['BGS'], classification: '内部', actor: { name: 'dangan', role: '档案员', source: '127.0.0.1' }, via: 'upload' })).id;
  for (const u of ['dangan', 'chayue', 'xitong', 'anquan', 'shenji']) clients[u] = await w.login(u);
  // An integrity report to read (it names items).
  expect((await clients.anquan.req('POST', '/api/integrity/run')).status).toBe(200);
}, 120_000);

afterAll(async () => {
  await w?.close();
});

function concrete(path: string): string {
  return path
    .replace(/^\/api\/jobs\/:id$/, `/api/jobs/${jobId}`)
    .replace(/:id\b/, itemId)
    .replace(/:n\b/, '1')
    .replace(/:username\b/, 'dangan')
    .replace(/:format\b/, 'csv')
    .replace(/:[a-zA-Z]+/g, 'x');
}

/** GET with the client's cookies; an event stream is read up to its first bytes, then closed. */
async function get(c: Client, path: string): Promise<{ status: number; code?: string }> {
  const ac = new AbortController();
  const res = await fetch(c.base + path, { headers: { cookie: [...c.cookies].map(([k, v]) => `${k}=${v}`).join('; ') }, signal: ac.signal });
  if ((res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    const reader = res.body!.getReader();
    await reader.read();
    ac.abort();
    return { status: res.status };
  }
  const text = await res.text();
  let code: string | undefined;
  try {
    code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
  } catch {
    /* not JSON */
  }
  return { status: res.status, code };
}

describe('route inventory: every GET route that returns item data writes its audit record', () => {
  it('enumerates the router and drives each GET route with a session that may call it', async () => {
    const layers = w.router().stack.filter((l) => l.methods.includes('GET'));
    const paths = [...new Set(layers.map((l) => l.path as string))];
    // The inventory is the app's own: the item, job and audit routes are in it.
    for (const p of ['/api/items/:id', '/api/items/:id/text', '/api/jobs', '/api/jobs/:id', '/api/jobs/events', '/api/search']) expect(paths).toContain(p);
    for (const p of Object.keys(NO_ITEM_DATA)) expect(paths, `allow-list names a route that no longer exists: ${p}`).toContain(p);

    const unaudited: string[] = [];
    const report: string[] = [];
    for (const path of paths) {
      if (isAsset(path)) continue;
      const url = concrete(path) + (path === '/api/search' ? `?q=${encodeURIComponent('温湿度')}` : '');
      let answered = false;
      for (const [user, c] of Object.entries(clients)) {
        const before = (await w.audit()).length;
        const r = await get(c, url);
        if (r.status === 403 && r.code === 'FORBIDDEN') continue; // not this role's route
        answered = true;
        expect(r.status, `${user} GET ${url}: ${r.code}`).toBeLessThan(300);
        // The record is written before the answer is sent; allow the stream route's to land.
        const recs = (await w.audit()).slice(before).filter((x) => x.actor === user && x.outcome === 'success');
        report.push(`${path} → ${user}: ${recs.map((x) => x.action).join(',') || '(no record)'}`);
        if (recs.length === 0 && !(path in NO_ITEM_DATA)) unaudited.push(`${path} (as ${user})`);
        break;
      }
      expect(answered, `no role could call ${path}`).toBe(true);
    }
    console.log(report.join('\n'));
    expect(unaudited, 'GET routes that answered without an audit record').toEqual([]);
  }, 120_000);

  it('GET /api/items/:id/text (the whole OCR text) leaves a record naming the item', async () => {
    const before = (await w.audit()).length;
    const r = await clients.chayue.get(`/api/items/${itemId}/text`);
    expect(r.status).toBe(200);
    expect((await w.audit()).slice(before)).toMatchObject([{ actor: 'chayue', action: 'item.text.view', target: itemId, outcome: 'success' }]);
  });
});
