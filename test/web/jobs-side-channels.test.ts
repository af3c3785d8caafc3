import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ItemMetadata } from '../../core/index.ts';
import type { Client } from '../security/support.ts';
import { waitFor } from '../support/appliance.ts';
import { startTestClamd, type TestClamd } from '../support/clamd.ts';
import { startWebAppliance, type WebAppliance } from '../support/web-appliance.ts';

// Issue 17 (jobs, existence oracles) tried as an attacker would, on the real app with the real
// Meilisearch, clamd, item store, job runner and audit trail. Two posts × two clearances × two
// archivists: 甲 (BGS, 内部), 丙 (BGS, 公开), 乙 (ZH, 内部), 丁 (ZH, 公开). 乙 must learn nothing of
// 甲's jobs or items through /api/jobs, /api/jobs/:id, the event stream, a 档号 conflict or a
// duplicate upload — and every such read or refusal is on the record.

let w: WebAppliance;
let clamd: TestClamd;
const c: Record<string, Client> = {};
const bytes = { a1: randomBytes(3000), a0: randomBytes(3000), b1: randomBytes(3000) };
// Every file the test uploads starts like a JPEG: the page count at intake reads headers only.
for (const b of Object.values(bytes)) b.set([0xff, 0xd8, 0xff, 0xe0]);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
let a1: ItemMetadata;
let a0: ItemMetadata;
let b1: ItemMetadata;
let jobA: string;
let jobA2: string;
let jobB: string;
let jobCli: string;

/** A multipart upload as the 采集 page sends it. */
async function upload(cl: Client, files: Array<{ name: string; bytes: Buffer | string }>, fields: Record<string, string>): Promise<{ status: number; body: any }> {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) fd.append(k, v);
  for (const f of files) fd.append('files', new Blob([typeof f.bytes === 'string' ? f.bytes : new Uint8Array(f.bytes)]), f.name);
  const res = await fetch(`${cl.base}/api/ingest/upload`, {
    method: 'POST',
    body: fd,
    headers: { cookie: [...cl.cookies].map(([k, v]) => `${k}=${v}`).join('; '), 'x-csrf-token': cl.cookies.get('archive_csrf')! },
  });
  return { status: res.status, body: await res.json() };
}

/** Open the job event stream; `text()` is what arrived so far, `ended` settles when the server closes it. */
function events(cl: Client) {
  let text = '';
  const ac = new AbortController();
  const ended = (async () => {
    const res = await fetch(`${cl.base}/api/jobs/events`, { headers: { cookie: [...cl.cookies].map(([k, v]) => `${k}=${v}`).join('; ') }, signal: ac.signal });
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return 'closed by server';
      text += dec.decode(value, { stream: true });
    }
  })().catch((e: Error) => (e.name === 'AbortError' ? 'aborted' : `error: ${e.message}`));
  return { text: () => text, ended, abort: () => ac.abort() };
}

/** Everything of 甲's side 乙 must never read. */
function secretsOfA(o: { ownCode?: boolean } = {}): string[] {
  // 乙's CSV names 甲's 档号 itself: in 乙's own job that code is 乙's own input, not a leak.
  return [
    jobA,
    jobA2,
    a1.itemId,
    a0.itemId,
    ...(o.ownCode ? [] : [a1.archivalCode!]),
    a0.archivalCode!,
    a1.title!,
    a0.title!,
    sha(bytes.a1),
    sha(bytes.a0),
    'a1-copy',
    'a0-copy',
    '甲的说明',
    '"jia"',
    '127.0.0.1',
    w.dir,
  ];
}

function expectNoneOf(text: string, secrets: string[], where: string) {
  for (const s of secrets) expect(text.includes(s), `${where} reveals ${s}`).toBe(false);
}

beforeAll(async () => {
  clamd = await startTestClamd();
  w = await startWebAppliance({ clamd: clamd.address, posts: ['BGS', 'ZH'], web: { sessionCheckMs: 300 } });
  await w.addUser('jia', ['archivist'], { posts: ['BGS'], clearance: '内部' });
  await w.addUser('bing', ['archivist'], { posts: ['BGS'], clearance: '公开' });
  await w.addUser('yi', ['archivist'], { posts: ['ZH'], clearance: '内部' });
  await w.addUser('ding', ['archivist'], { posts: ['ZH'], clearance: '公开' });
  a1 = await w.putItem({ originals: [{ name: 'a1.jpg', bytes: bytes.a1 }], meta: { archivalCode: 'J012-2014-Y-BGS-0001', title: '甲岗位内部通知', posts: ['BGS'], classification: '内部' } });
  a0 = await w.putItem({ originals: [{ name: 'a0.jpg', bytes: bytes.a0 }], meta: { archivalCode: 'J012-2014-Y-BGS-0002', title: '甲岗位公开通知', posts: ['BGS'], classification: '公开' } });
  b1 = await w.putItem({ originals: [{ name: 'b1.jpg', bytes: bytes.b1 }], meta: { archivalCode: 'J012-2014-Y-ZH-0001', title: '乙岗位内部通知', posts: ['ZH'], classification: '内部' } });
  for (const u of ['jia', 'bing', 'yi', 'ding']) c[u] = await w.login(u);
}, 120_000);

afterAll(async () => {
  await w?.close();
  await clamd?.stop();
});

describe('jobs are shown per person', () => {
  it('甲, 乙 and 丙 upload; the runner works the jobs while everyone watches the event stream', async () => {
    const streams = { jia: events(c.jia), yi: events(c.yi), bing: events(c.bing), ding: events(c.ding) };
    const ra = await upload(
      c.jia,
      [
        { name: 'a1-copy.jpg', bytes: bytes.a1 },
        { name: 'a0-copy.jpg', bytes: bytes.a0 },
        { name: '甲的说明.txt', bytes: '说明' },
      ],
      { posts: 'BGS', classification: '内部' },
    );
    expect(ra.status, JSON.stringify(ra.body)).toBe(202);
    jobA = ra.body.job;
    // 丙 (BGS, 公开) may not file a 内部 item (filing rights: at most their clearance)…
    const refused = await upload(c.bing, [{ name: 'a1-copy.jpg', bytes: bytes.a1 }], { posts: 'BGS', classification: '内部' });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('FILING_FORBIDDEN');
    // …but a job of theirs from before the secadmin lowered their clearance holds one: their own
    // job, whose item they may no longer see.
    jobA2 = (
      await w.ingest.submitItems([{ label: 'a1-copy.jpg', files: [await tmpFile('a1-copy.jpg', bytes.a1)], metadata: { posts: ['BGS'], classification: '内部' } }], {
        via: 'upload',
        actor: { name: 'bing', role: 'archivist', source: '127.0.0.1' },
        posts: [],
        classification: '内部',
      })
    ).id;
    // 乙 uploads a copy of 甲's file, and a new file whose CSV claims 甲's 档号.
    const csv = '文件,档号,题名,文号,责任者,日期,保管期限,密级,岗位\nnew.jpg,J012-2014-Y-BGS-0001,乙的新件,,,,Y,内部,ZH\n';
    const fresh = randomBytes(3000);
    fresh.set([0xff, 0xd8, 0xff, 0xe0]);
    const rb = await upload(
      c.yi,
      [
        { name: 'copy.jpg', bytes: bytes.a1 },
        { name: 'new.jpg', bytes: fresh },
        { name: 'items.csv', bytes: csv },
      ],
      { posts: 'ZH', classification: '内部' },
    );
    expect(rb.status, JSON.stringify(rb.body)).toBe(202);
    jobB = rb.body.job;
    // A batch from the command line holding one item of each post.
    jobCli = (
      await w.ingest.submitItems(
        [
          { label: 'BGS件', files: [await tmpFile('cli-a0.jpg', bytes.a0)], metadata: { posts: ['BGS'], classification: '公开' } },
          { label: 'ZH件', files: [await tmpFile('cli-b1.jpg', bytes.b1)], metadata: { posts: ['ZH'], classification: '内部' } },
        ],
        { via: 'cli', actor: { name: 'root', role: 'console', source: 'console' }, posts: [], classification: '内部' },
      )
    ).id;

    await w.ingest.drain();
    for (const id of [jobA, jobA2, jobB, jobCli]) expect((await w.ingest.jobs.load(id)).state).toBe('done');
    await waitFor(async () => streams.jia.text().includes(`"jobId":"${jobA}","state":"done"`) || undefined, 30_000, "甲's done event");
    await waitFor(async () => streams.yi.text().includes(`"jobId":"${jobB}","state":"done"`) || undefined, 30_000, "乙's done event");
    await new Promise((r) => setTimeout(r, 500));
    for (const s of Object.values(streams)) s.abort();

    // 乙's stream carried 乙's own job and the CLI batch's ZH item, nothing of 甲's.
    expectNoneOf(streams.yi.text(), [...secretsOfA({ ownCode: true }), 'BGS件', 'cli-a0'], "乙's event stream");
    expect(streams.yi.text()).toContain(jobB);
    // 丁 (ZH, 公开) sees no job at all: none is theirs, and the CLI batch's ZH item is 内部.
    expectNoneOf(streams.ding.text(), [...secretsOfA(), jobB, jobCli, 'ZH件', b1.itemId], "丁's event stream");
    // 丙's stream tells of their job, never of the 内部 item in it.
    expect(streams.bing.text()).toContain(jobA2);
    expectNoneOf(streams.bing.text(), [a1.itemId, a1.title!, a1.archivalCode!, 'a1-copy', jobA], "丙's event stream");
    expect(streams.jia.text()).toContain('a1-copy');
  }, 180_000);

  it("乙 reads no trace of 甲 in /api/jobs or /api/jobs/:id; 甲's job answers like one that does not exist", async () => {
    const list = await c.yi.get('/api/jobs');
    expect(list.status).toBe(200);
    expect(list.body.map((j: { id: string }) => j.id).sort()).toEqual([jobB, jobCli].sort());
    expectNoneOf(JSON.stringify(list.body), [...secretsOfA({ ownCode: true }), 'BGS件', 'cli-a0'], "乙's job list");
    const own = await c.yi.get(`/api/jobs/${jobB}`);
    expect(own.status).toBe(200);
    expectNoneOf(JSON.stringify(own.body), secretsOfA({ ownCode: true }), "乙's own job");
    const cli = await c.yi.get(`/api/jobs/${jobCli}`);
    expect(cli.body).toMatchObject({ actor: '命令行', hiddenItems: 1, items: [{ name: 'ZH件', outcome: 'duplicate' }] });
    expect(cli.body.items[0].error.message).toContain(b1.title); // 乙 may see the item it duplicates
    const probe = await c.yi.get(`/api/jobs/${jobA}`);
    const none = await c.yi.get('/api/jobs/000000000-deadbeef');
    expect(probe.status).toBe(404);
    expect(probe.body).toEqual(none.body);
    expectNoneOf(JSON.stringify(probe.body), secretsOfA(), 'the refusal');
    // 丁 sees nothing at all.
    expect((await c.ding.get('/api/jobs')).body).toEqual([]);
  });

  it('甲 sees the own job with names relative to the upload, the duplicates named, and no hash, path or address', async () => {
    const r = await c.jia.get(`/api/jobs/${jobA}`);
    expect(r.status).toBe(200);
    const text = JSON.stringify(r.body);
    expectNoneOf(text, [sha(bytes.a1), sha(bytes.a0), w.dir, '/tmp/', '127.0.0.1', 'staged', 'sha256'], "甲's own job");
    expect(r.body.hiddenItems).toBe(0);
    expect(r.body.problems).toMatchObject([{ code: 'UNSUPPORTED_FILE', path: '甲的说明.txt' }]);
    const dup = r.body.items.find((i: { label: string }) => i.label === 'a1-copy.jpg');
    expect(dup).toMatchObject({ outcome: 'duplicate', error: { code: 'DUPLICATE' } });
    expect(dup.error.message).toContain(a1.archivalCode);
    // 丙's own job: the 内部 item is a count, nothing more.
    const r2 = await c.bing.get(`/api/jobs/${jobA2}`);
    expect(r2.body).toMatchObject({ items: [], hiddenItems: 1, progress: { pagesTotal: 0, hiddenItems: 1 } });
    expectNoneOf(JSON.stringify(r2.body), [a1.itemId, a1.title!, a1.archivalCode!, 'a1-copy'], "丙's own job");
    // The CLI batch as 甲 sees it: the BGS item by 档号 and 题名, the ZH one as a count.
    const cli = await c.jia.get(`/api/jobs/${jobCli}`);
    expect(cli.body).toMatchObject({ hiddenItems: 1, items: [{ name: 'BGS件', outcome: 'duplicate' }] });
    expectNoneOf(JSON.stringify(cli.body), ['ZH件', 'cli-b1', b1.itemId, b1.title!], "甲's view of the CLI batch");
  });

  it('a duplicate and a 档号 conflict at ingest tell 乙 only that the file is archived / the 档号 is taken, and are audited', async () => {
    const r = await c.yi.get(`/api/jobs/${jobB}`);
    const copy = r.body.items.find((i: { label: string }) => i.label === 'copy.jpg');
    const fresh = r.body.items.find((i: { label: string }) => i.label === 'new.jpg');
    expect(copy).toMatchObject({ label: 'copy.jpg', outcome: 'duplicate', error: { code: 'DUPLICATE', message: '该文件已归档，未重复归档。' } });
    expect(fresh).toMatchObject({
      name: `${a1.archivalCode} 乙的新件`,
      csvLine: 2,
      outcome: 'failed',
      error: { code: 'ARCHIVAL_CODE_TAKEN', message: `档号 ${a1.archivalCode} 已被占用，档号必须唯一。` },
    });
    const trail = await w.audit();
    const refused = trail.filter((x) => x.action === 'ingest.refused' && x.actor === 'yi').map((x) => x.details);
    expect(refused).toHaveLength(2);
    expect(refused).toContainEqual(expect.objectContaining({ job: jobB, reason: 'duplicate', existing: a1.itemId }));
    expect(refused).toContainEqual(expect.objectContaining({ job: jobB, reason: 'archival-code-taken', archivalCode: a1.archivalCode, existing: a1.itemId }));
  });

  it('a 档号 conflict on PATCH names the other item only to an editor who may see it, and is audited', async () => {
    const probe = await c.yi.req('PATCH', `/api/items/${b1.itemId}`, { archivalCode: a1.archivalCode });
    expect(probe.status).toBe(409);
    expect(probe.body.error).toEqual(expect.objectContaining({ code: 'ARCHIVAL_CODE_TAKEN', message: `档号 ${a1.archivalCode} 已被占用，档号必须唯一。` }));
    expectNoneOf(JSON.stringify(probe.body), [a1.itemId, a1.title!], 'the PATCH refusal');
    const mine = await c.jia.req('PATCH', `/api/items/${a0.itemId}`, { archivalCode: a1.archivalCode });
    expect(mine.status).toBe(409);
    expect(mine.body.error.message).toContain(a1.itemId);
    expect(mine.body.error.message).toContain(a1.title);
    const denied = (await w.audit()).filter((x) => x.action === 'item.edit' && x.outcome === 'denied');
    expect(denied.map((x) => [x.actor, x.details?.existing, x.details?.existingVisible])).toEqual([
      ['yi', a1.itemId, false],
      ['jia', a1.itemId, true],
    ]);
    expect((await w.ingest.store.getItem(b1.itemId))!.archivalCode).toBe(b1.archivalCode);
  });

  it('every read of jobs is on the record: one per list, one per job, one per stream opened', async () => {
    const before = (await w.audit()).length;
    await c.yi.get('/api/jobs');
    await c.yi.get(`/api/jobs/${jobB}`);
    await c.yi.get(`/api/jobs/${jobA}`);
    const s = events(c.yi);
    await waitFor(async () => s.text().includes('connected') || undefined, 10_000, 'stream open');
    s.abort();
    const recs = (await w.audit()).slice(before).filter((x) => x.actor === 'yi');
    expect(recs.map((x) => [x.action, x.outcome, x.target])).toEqual([
      ['ingest.job.list', 'success', '-'],
      ['ingest.job.view', 'success', jobB],
      ['ingest.job.view', 'denied', jobA],
      ['ingest.job.events', 'success', '-'],
    ]);
  });
});

describe('an open event stream ends with its session', () => {
  it('logout, disabling and a change of posts each close the stream; leaving the page logs no stack trace', async () => {
    const errors = vi.spyOn(console, 'error');
    const jia = events(c.jia);
    await waitFor(async () => jia.text().includes('connected') || undefined, 10_000, 'stream open');
    expect((await c.jia.req('POST', '/api/auth/logout')).status).toBeLessThan(300);
    expect(await jia.ended).toBe('closed by server');
    expect(jia.text()).toContain('SESSION_ENDED');

    const yi = events(c.yi);
    await waitFor(async () => yi.text().includes('connected') || undefined, 10_000, 'stream open');
    await w.sec.identity.setDisabled('yi', true); // as the console would: no request of 乙's involved
    expect(await yi.ended).toBe('closed by server');

    const ding = events(c.ding);
    await waitFor(async () => ding.text().includes('connected') || undefined, 10_000, 'stream open');
    await w.sec.identity.setAccess('ding', { posts: ['BGS'] });
    expect(await ding.ended).toBe('closed by server');

    // A person who leaves the 采集 page: the stream is cut by the client.
    const bing = events(c.bing);
    await waitFor(async () => bing.text().includes('connected') || undefined, 10_000, 'stream open');
    bing.abort();
    await new Promise((r) => setTimeout(r, 500));
    expect(errors).not.toHaveBeenCalled();
    errors.mockRestore();
  }, 60_000);
});

async function tmpFile(name: string, b: Buffer): Promise<string> {
  const { writeFile, mkdir } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const d = join(w.dir, 'cli-batch');
  await mkdir(d, { recursive: true });
  await writeFile(join(d, name), b);
  return join(d, name);
}
