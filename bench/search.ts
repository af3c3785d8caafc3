// bench/search: index ≥200,000 synthetic pages (sentences of the samples' ground truth recombined,
// several posts), then latency of the search service (and the appliance's real GET /api/search) under 1,
// 8 and 32 concurrent clients, against the same queries sent straight to Meilisearch with the same
// filter. The HTTP columns (raw Meilisearch, GET /api/search) are sent from their own thread
// (bench/http-load.mjs), the service columns are calls in this process. Prints figures and
// ratios; asserts nothing.
//   npx tsx bench/search.ts [--pages 200000] [--requests 400] [--keep DIR]
import { readdirSync } from 'node:fs';
import { Agent, request, type Server } from 'node:http';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig, type Classification } from '../core/config.ts';
import { ensureDataDir } from '../core/data-dir.ts';
import { MeiliSupervisor } from '../appliance/meili-supervisor.ts';
import type { ItemMetadata, PageText, Retention } from '../core/item.ts';
import { createSearchService, type StoredItem } from '../search/index.ts';
import { meiliPost } from '../search/meili-query-http.ts';
import { parseQuery } from '../search/char-pairs.ts';
import { accessFilter } from '../search/tenant-token.ts';
import type { Viewer } from '../core/access.ts';
import { cleanup, tempDir } from '../test/support/appliance.ts';
import { groundTruthSentences, syntheticPageText } from './synthetic-corpus.ts';
import { rng } from '../test/search/support.ts';
import { createIngestService } from '../ingest/index.ts';
import { argon2Hasher, openSecurity } from '../security/index.ts';
import { createAuth } from '../web/auth.ts';
import { createWebApp } from '../web/index.ts';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const TARGET_PAGES = arg('pages', 200_000);
const REQUESTS = arg('requests', 400);
const keepIdx = process.argv.indexOf('--keep');
const KEEP = keepIdx > 0 ? process.argv[keepIdx + 1] : undefined;

const rand = rng(42);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];

const sentences = groundTruthSentences();
const POSTS = ['BGS', 'ZH', 'DAS', 'XXZX', 'JGBZ', 'RSK', 'CWK', 'SYDJ'];
const FONDS = ['J012', 'J031', 'J105', 'J220'];
const DEPTS = ['BGS', 'DAS', 'DZZW', 'JGBZ', 'SYDJ', 'XXZX'];
const TITLES = sentences.filter((s) => s.startsWith('关于') && s.length < 40);

const pageText = () => syntheticPageText(sentences, rand);

function makeItem(i: number): StoredItem {
  const year = 2000 + Math.floor(rand() * 26);
  const fonds = pick(FONDS);
  const retention = pick(['Y', 'D30', 'D10'] as const satisfies readonly Retention[]);
  const department = pick(DEPTS);
  const no = String(i % 10000).padStart(4, '0');
  const pageCount = 1 + Math.floor(rand() * 6);
  const pages: PageText[] = Array.from({ length: pageCount }, (_, k) => ({
    page: k + 1,
    width: 2480,
    height: 3508,
    dpi: 300,
    rotation: 0,
    text: pageText(),
    confidence: 90,
    lines: [],
    source: 'ocr',
  }));
  const posts = [...new Set([pick(POSTS), ...(rand() < 0.3 ? [pick(POSTS)] : [])])];
  const meta: ItemMetadata = {
    itemId: `B${String(i).padStart(7, '0')}`,
    archivalCode: `${fonds}-${year}-${retention}-${department}-${no}`,
    fonds,
    year,
    retention,
    department,
    itemNo: i % 10000,
    title: pick(TITLES),
    docNumber: rand() < 0.6 ? `市编办发〔${year}〕${1 + Math.floor(rand() * 120)}号` : undefined,
    classification: (rand() < 0.7 ? '公开' : '内部') as Classification,
    posts,
    pageCount,
    originals: [],
    createdAt: '2026-11-01T00:00:00Z',
    updatedAt: '2026-11-01T00:00:00Z',
  };
  return { meta, pages };
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function run(concurrency: number, jobs: Array<() => Promise<unknown>>): Promise<number[]> {
  const times: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < jobs.length) {
        const job = jobs[next++];
        const t = performance.now();
        await job();
        times.push(performance.now() - t);
      }
    }),
  );
  return times;
}

const dir = KEEP ?? (await tempDir('archive-bench-search-'));
await ensureDataDir(dir);
const cfg = loadConfig({ env: { ARCHIVE_DATA_DIR: dir, ARCHIVE_MEILI_PORT: '0' } });
const sup = new MeiliSupervisor(cfg, pino({ level: 'silent' }));
await sup.start(60_000);
const conn = sup.connection;
const svc = createSearchService(conn, dir);
await svc.init();
let server: Server | undefined;
try {
  // ---- indexing ----
  const stats = (await meiliPost<{ numberOfDocuments: number }>(conn.host, conn.apiKey, '/indexes/pages/stats', {}).catch(() => undefined)) as unknown;
  void stats;
  const corpus: StoredItem[] = [];
  let pages = 0;
  let itemNo = 0;
  const started = performance.now();
  let batch: StoredItem[] = [];
  let lastReport = started;
  const BATCH_PAGES = 5000;
  let batchPages = 0;
  const existing = await fetch(`${conn.host}/indexes/pages/stats`, { headers: { Authorization: `Bearer ${conn.apiKey}` } }).then((r) => r.json() as Promise<{ numberOfDocuments?: number }>);
  const skipIndexing = (existing.numberOfDocuments ?? 0) >= TARGET_PAGES;
  while (pages < TARGET_PAGES) {
    const it = makeItem(itemNo++);
    pages += it.meta.pageCount;
    // Keep a sample of items to draw queries from.
    if (itemNo % 50 === 0) corpus.push(it);
    if (skipIndexing) continue;
    batch.push(it);
    batchPages += it.meta.pageCount;
    if (batchPages >= BATCH_PAGES) {
      await svc.indexItems(batch);
      batch = [];
      batchPages = 0;
      if (performance.now() - lastReport > 30_000) {
        lastReport = performance.now();
        console.log(`  indexed ${pages} pages, ${(pages / ((lastReport - started) / 1000)).toFixed(0)} pages/s so far`);
      }
    }
  }
  if (batch.length) await svc.indexItems(batch);
  const indexSec = (performance.now() - started) / 1000;
  if (skipIndexing) {
    // An index kept from before the page-text store answers through the pages index.
    if (readdirSync(join(dir, 'texts')).length === 0) console.log('NOTE: the kept index lacks page-text files (built by an older version): rebuild it for current figures');
  }
  console.log(
    skipIndexing
      ? `index reused (${existing.numberOfDocuments} page docs)`
      : `indexed ${pages} pages in ${itemNo} items: ${indexSec.toFixed(0)} s, ${(pages / indexSec).toFixed(0)} pages/s (batches of ~${BATCH_PAGES} pages; items + pages indexes)`,
  );

  // ---- queries: substrings of indexed pages (2–6 chars), two-word queries, 档号 prefixes, years ----
  const queries: string[] = [];
  while (queries.length < 200) {
    const it = pick(corpus);
    const t = pick(it.pages).text.replace(/\n/g, '');
    const kind = rand();
    if (kind < 0.6) {
      const len = 2 + Math.floor(rand() * 5);
      const at = Math.floor(rand() * (t.length - len));
      const q = t.slice(at, at + len);
      if (parseQuery(q).terms.length) queries.push(q);
    } else if (kind < 0.8) {
      const a = Math.floor(rand() * (t.length - 4));
      const b = Math.floor(rand() * (t.length - 4));
      const q = `${t.slice(a, a + 3)} ${t.slice(b, b + 3)}`;
      if (parseQuery(q).terms.length === 2) queries.push(q);
    } else if (kind < 0.9) queries.push(it.meta.archivalCode!.slice(0, 9));
    else queries.push(String(it.meta.year));
  }
  const viewers: Viewer[] = POSTS.flatMap((p) => [
    { posts: [p], clearance: '公开' as Classification },
    { posts: [p, pick(POSTS)], clearance: '内部' as Classification },
  ]);
  const cases = Array.from({ length: REQUESTS }, (_, i) => ({ q: queries[i % queries.length], v: viewers[i % viewers.length] }));

  const service = (c: { q: string; v: Viewer }) => svc.search(c.v, { q: c.q, limit: 20 });

  // The appliance's real GET /api/search: session cookie, deny-by-default guard, the viewer's
  // tenant token, and an audit record for every search (what a staff user's browser pays).
  const sec = await openSecurity(cfg);
  const auth = await createAuth({ configDir: sec.configDir, identity: sec.identity, audit: sec.audit, log: pino({ level: 'silent' }) });
  const ingest = await createIngestService(cfg, { log: pino({ level: 'silent' }), audit: sec.audit, search: svc });
  const svcApi = createSearchService(conn, dir);
  const app = createWebApp({ log: pino({ level: 'silent' }), auth, search: svcApi, ingest, health: async () => ({ status: 'ok', time: '', components: {} }) });
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server!.once('listening', r));
  const port = (server.address() as { port: number }).port;
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const http = (method: string, path: string, headers: Record<string, string>, body?: string) =>
    new Promise<{ status: number; cookies: string[]; text: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, method, headers, agent }, (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, cookies: (res.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]), text }));
      });
      req.on('error', reject);
      req.end(body);
    });
  // One staff account per viewer, logged in once; their session cookies are reused by the clients.
  for (const p of POSTS) await sec.identity.createPost({ code: p, name: p }).catch(() => undefined);
  const hash = await argon2Hasher.hash('Bench-password-2026');
  const cookieOf = new Map<Viewer, string>();
  for (const [i, v] of viewers.entries()) {
    const username = `bench${i}`;
    if (!(await sec.identity.findUser(username))) await sec.identity.createUser({ username, roles: ['staff'], posts: v.posts, clearance: v.clearance, passwordHash: hash, mustChangePassword: false });
    const csrf = (await http('GET', '/api/auth/csrf', {})).cookies[0];
    const login = await http(
      'POST',
      '/api/auth/login',
      { cookie: csrf, 'x-csrf-token': csrf.split('=')[1], 'content-type': 'application/json' },
      JSON.stringify({ username, password: 'Bench-password-2026' }),
    );
    if (login.status !== 200) throw new Error(`login ${username}: ${login.status} ${login.text}`);
    cookieOf.set(v, login.cookies.join('; '));
  }

  // The measured HTTP requests (straight to Meilisearch, and to the appliance) go out from their
  // own thread (bench/http-load.mjs), as a browser's would from another machine.
  interface HttpReq {
    host: string;
    port: number;
    path: string;
    method: string;
    headers: Record<string, string | number>;
    body?: string;
  }
  const meili = new URL(conn.host);
  const rawReqs: HttpReq[] = cases.map((c) => {
    const body = JSON.stringify({
      q: parseQuery(c.q)
        .terms.map((t) => t.phrase)
        .join(' '),
      matchingStrategy: 'all',
      filter: accessFilter(c.v),
      facets: ['year', 'fonds', 'department', 'retention'],
      limit: 20,
      attributesToRetrieve: ['itemId', 'archivalCode', 'title', 'docNumber', 'year', 'fonds', 'department', 'retention', 'pageCount'],
    });
    return {
      host: meili.hostname,
      port: Number(meili.port),
      path: '/indexes/items/search',
      method: 'POST',
      headers: { Authorization: `Bearer ${conn.apiKey}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
      body,
    };
  });
  const apiReqs: HttpReq[] = cases.map((c) => ({ host: '127.0.0.1', port, path: `/api/search?q=${encodeURIComponent(c.q)}&limit=20`, method: 'GET', headers: { cookie: cookieOf.get(c.v)! } }));
  const load = new Worker(new URL('./http-load.mjs', import.meta.url));
  let loadId = 0;
  const viaLoad = (concurrency: number, reqs: HttpReq[]) =>
    new Promise<number[]>((resolve, reject) => {
      const id = ++loadId;
      const on = (m: { id: number; times?: number[]; error?: string }) => {
        if (m.id !== id) return;
        load.off('message', on);
        if (m.error) reject(new Error(m.error));
        else resolve(m.times!);
      };
      load.on('message', on);
      load.postMessage({ id, concurrency, reqs });
    });

  // Result sizes, for the record.
  let hits = 0;
  let empty = 0;
  for (const q of queries) {
    const r = await svc.search(viewers[0], { q, limit: 20 });
    hits += r.total;
    if (r.total === 0) empty++;
  }
  console.log(`queries: ${queries.length} distinct; mean estimated total for one viewer ${(hits / queries.length).toFixed(0)} items, ${empty} with none`);

  // Warm up caches (tokens, the OS's page cache) before timing.
  await viaLoad(4, rawReqs.slice(0, 100));
  await run(
    4,
    cases.slice(0, 100).map((c) => () => service(c)),
  );
  await viaLoad(4, apiReqs.slice(0, 100));

  console.log('\nlatency ms (p50 / p95 / p99), same queries and filter; ratio = p95 / raw p95');
  console.log('clients  raw meilisearch           service                 GET /api/search         service/raw   api/raw');
  for (const c of [1, 8, 32]) {
    // Alternate order per level so drift on the shared CPU hits both sides.
    const r1 = await viaLoad(c, rawReqs);
    const s1 = await run(
      c,
      cases.map((x) => () => service(x)),
    );
    const k1 = await viaLoad(c, apiReqs);
    const r2 = await viaLoad(c, rawReqs);
    const r = [...r1, ...r2];
    const f = (xs: number[]) => `${pct(xs, 50).toFixed(1)} / ${pct(xs, 95).toFixed(1)} / ${pct(xs, 99).toFixed(1)}`.padEnd(24);
    const ratio = (xs: number[]) => (pct(xs, 95) / pct(r, 95)).toFixed(2).padEnd(14);
    console.log(`${String(c).padEnd(9)}${f(r)}${f(s1)}${f(k1)}${ratio(s1)}${ratio(k1)}`);
  }
  await load.terminate();
} finally {
  server?.close();
  await sup.stop();
  if (!KEEP) await cleanup(dir);
}
